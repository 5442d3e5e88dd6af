"""One trial's outcome, and the interruption that stops a batch half-way (no numpy: telling a value stays light)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from oboptim._text import one_line


@dataclass(frozen=True)
class TransientFailure:
    """One attempt at a batch that failed transiently and was asked again.

    Attributes:
        reason: the failure's one-line error, e.g. ``"oracle 'lab' raised RuntimeError: instrument offline"``.
        trial_ids: the trials of the failed attempt (with ``attempt``, it names the retry: the outcomes of one batch
            share it, so a retried batch counts once however many trials it held).
        attempt: 0 for the batch's first attempt, 1 for its first retry, ...
    """

    reason: str
    trial_ids: tuple[int, ...]
    attempt: int

    @property
    def key(self) -> tuple[tuple[int, ...], int]:
        return self.trial_ids, self.attempt


@dataclass(frozen=True)
class Outcome:
    """The result of one trial: a finite ``value``, or an ``error`` saying why there is none (exactly one is set).

    ``transient`` marks a failure of the whole batch that asking again may cure (an exception in the function, a
    crashed or timed-out command); a failure of the trial itself (a NaN, an ``error`` answer, a rater's "f") is not.
    ``retried_after`` holds the transient failures of the attempts before this one (the batch was asked again after
    each), so that an outage the retries cured still leaves a trace (``oboptim status``, the round's diagnostics).
    Neither takes part in equality: two outcomes with the same value or error are equal.
    """

    value: float | None = None
    error: str | None = None
    transient: bool = field(default=False, compare=False)
    retried_after: tuple[TransientFailure, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        if (self.value is None) == (self.error is None):
            raise ValueError(f"an Outcome needs exactly one of value and error, got value={self.value!r}, "
                             f"error={self.error!r}")
        if self.value is not None:
            value = float(self.value)
            if not math.isfinite(value):
                raise ValueError(f"an Outcome's value must be finite, got {value}")
            object.__setattr__(self, "value", value)
        elif not isinstance(self.error, str) or not self.error:
            raise ValueError(f"an Outcome's error must be a non-empty string, got {self.error!r}")
        if self.transient and self.error is None:
            raise ValueError("only a failed Outcome can be transient")

    @classmethod
    def success(cls, value: float) -> Outcome:
        return cls(value=value)

    @classmethod
    def failure(cls, error: str, *, transient: bool = False) -> Outcome:
        return cls(error=one_line(error) or "failed without a reason", transient=transient)

    @property
    def failed(self) -> bool:
        return self.error is not None


class OracleInterrupted(KeyboardInterrupt):
    """The person or signal behind an oracle stopped it in the middle of a batch: Ctrl-C, SIGTERM, end of input.

    It is a :class:`KeyboardInterrupt`, so it stops a campaign like Ctrl-C, and ``except Exception`` does not turn it
    into failed trials. The batch's trials are not failed: ``outcomes`` holds those obtained before the interruption
    (trial id -> :class:`Outcome`, to be recorded as given); every other trial of the batch stays pending, for a
    resumed run to ask again.

    Args:
        reason: one line for the person, e.g. ``"the rater's input ended (end of file)"``.
        outcomes: the outcomes obtained so far, by trial id.
    """

    def __init__(self, reason: str, outcomes: Mapping[int, Outcome] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.outcomes: dict[int, Outcome] = dict(outcomes or {})


__all__ = ["OracleInterrupted", "Outcome", "TransientFailure"]
