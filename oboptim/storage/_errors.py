"""Errors raised by the storage layer; each message is one line that says what to do."""

from __future__ import annotations

from oboptim.errors import OboptimError


class StorageError(OboptimError):
    """Base class of every error the storage layer raises on purpose."""


class InvalidStorageURL(StorageError):
    """The storage URL cannot be parsed, names an unknown dialect, or its driver is not installed."""


class StorageNotFound(StorageError):
    """The database (or the directory that should hold it) does not exist."""


class NotAnOboptimDatabase(StorageError):
    """The target is not a database, is corrupt, or belongs to another application."""


class StorageReadOnly(StorageError):
    """The database can be read but not written (a read-only file or directory, or a read-only server)."""


class SchemaTooOld(StorageError):
    """The database was written by an older oboptim and needs `oboptim upgrade`."""


class SchemaTooNew(StorageError):
    """The database was written by a newer oboptim than this one."""


class UnknownCampaignError(StorageError, LookupError):
    """No campaign has this id or name."""


class UnknownTrialError(StorageError, LookupError):
    """No trial has this id (in this campaign)."""


class UnknownRoundError(StorageError, LookupError):
    """The campaign has no such round."""


class RoundExistsError(StorageError):
    """Another worker already proposed this round; nothing was written."""


class TrialConflictError(StorageError):
    """The trial is already finished with a different outcome; finished trials are immutable."""


class TrialBeingMeasured(TrialConflictError):
    """An outcome told by hand for a trial that a run's oracle is measuring: the trial is that run's (pass
    ``force=True``, ``oboptim tell --force``, to record the outcome anyway)."""


class InvalidValue(StorageError, ValueError):
    """A reported value is not a finite number (or a sem is not a finite, non-negative number)."""


class InvalidArrayError(StorageError, ValueError):
    """An array cannot be stored (non-numeric dtype) or stored bytes do not match their shape and dtype."""
