"""Persistent campaign storage (SQLAlchemy 2 + Alembic): campaigns, rounds, trials, observations.

``Storage(url)`` opens (or creates) a database; every call is one transaction, so a campaign can be killed at any
moment and resumed exactly.
"""

from typing import TYPE_CHECKING

from oboptim._lazy import attach, public_names

_EXPORTS = {
    "oboptim.storage._arrays": ["decode_array", "encode_array"],
    "oboptim.storage._engine": [
        "DEFAULT_STORAGE_URL", "STORAGE_ENV_VAR", "alembic_config", "display_url", "is_in_memory",
        "resolve_storage_url", "upgrade"
    ],
    "oboptim.storage._errors": [
        "InvalidArrayError", "InvalidStorageURL", "InvalidValue", "NotAnOboptimDatabase", "RoundExistsError",
        "SchemaTooNew", "SchemaTooOld", "StorageError", "StorageNotFound", "StorageReadOnly", "TrialBeingMeasured",
        "TrialConflictError", "UnknownCampaignError", "UnknownRoundError", "UnknownTrialError"
    ],
    "oboptim.storage._models": ["CURRENT_SCHEMA_VERSION"],
    "oboptim.storage._records": [
        "ALL_STATES", "CAMPAIGN_ACTIVE", "CAMPAIGN_FINISHED", "FINISHED_STATES", "CampaignRecord", "RoundRecord",
        "SurrogateRecord", "TrialRecord", "TrialState"
    ],
    "oboptim.storage._store": ["Storage"],
}

__all__ = public_names(_EXPORTS)
__getattr__, __dir__ = attach(__name__, _EXPORTS)

if TYPE_CHECKING:
    from oboptim.storage._arrays import decode_array, encode_array
    from oboptim.storage._engine import (
        DEFAULT_STORAGE_URL,
        STORAGE_ENV_VAR,
        alembic_config,
        display_url,
        is_in_memory,
        resolve_storage_url,
        upgrade,
    )
    from oboptim.storage._errors import (
        InvalidArrayError,
        InvalidStorageURL,
        InvalidValue,
        NotAnOboptimDatabase,
        RoundExistsError,
        SchemaTooNew,
        SchemaTooOld,
        StorageError,
        StorageNotFound,
        StorageReadOnly,
        TrialBeingMeasured,
        TrialConflictError,
        UnknownCampaignError,
        UnknownRoundError,
        UnknownTrialError,
    )
    from oboptim.storage._models import CURRENT_SCHEMA_VERSION
    from oboptim.storage._records import (
        ALL_STATES,
        CAMPAIGN_ACTIVE,
        CAMPAIGN_FINISHED,
        FINISHED_STATES,
        CampaignRecord,
        RoundRecord,
        SurrogateRecord,
        TrialRecord,
        TrialState,
    )
    from oboptim.storage._store import Storage
