"""Persistent campaign storage (SQLAlchemy 2 + Alembic): campaigns, rounds, trials, observations.

`Storage(url)` opens (or creates) a database; every call is one transaction, so a campaign can be killed at any
moment and resumed exactly. See shared/DESIGN.md "Storage model".
"""

from oboptim.storage.arrays import decode_array, encode_array
from oboptim.storage.engine import (
    DEFAULT_STORAGE_URL,
    STORAGE_ENV_VAR,
    alembic_config,
    resolve_storage_url,
    upgrade,
)
from oboptim.storage.errors import (
    InvalidArrayError,
    InvalidStorageURL,
    InvalidValue,
    NotAnOboptimDatabase,
    RoundExistsError,
    SchemaTooNew,
    SchemaTooOld,
    StorageError,
    StorageNotFound,
    TrialConflictError,
    UnknownCampaignError,
    UnknownRoundError,
    UnknownTrialError,
)
from oboptim.storage.models import CURRENT_SCHEMA_VERSION
from oboptim.storage.records import (
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
from oboptim.storage.store import Storage

__all__ = [
    "ALL_STATES",
    "CAMPAIGN_ACTIVE",
    "CAMPAIGN_FINISHED",
    "CURRENT_SCHEMA_VERSION",
    "DEFAULT_STORAGE_URL",
    "FINISHED_STATES",
    "STORAGE_ENV_VAR",
    "CampaignRecord",
    "InvalidArrayError",
    "InvalidStorageURL",
    "InvalidValue",
    "NotAnOboptimDatabase",
    "RoundExistsError",
    "RoundRecord",
    "SchemaTooNew",
    "SchemaTooOld",
    "Storage",
    "StorageError",
    "StorageNotFound",
    "SurrogateRecord",
    "TrialConflictError",
    "TrialRecord",
    "TrialState",
    "UnknownCampaignError",
    "UnknownRoundError",
    "UnknownTrialError",
    "alembic_config",
    "decode_array",
    "encode_array",
    "resolve_storage_url",
    "upgrade",
]
