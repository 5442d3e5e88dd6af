"""Immutable records that the storage layer returns, detached from any database session."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np



class TrialState(str, Enum):
    """The states of a trial: waiting -> running -> completed | failed; waiting or running -> abandoned.

    A ``str`` enum: a state equals its stored text (``TrialState.COMPLETED == "completed"``) and prints as it.
    """

    WAITING = "waiting"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    ABANDONED = "abandoned"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    @property
    def finished(self) -> bool:
        """Completed, failed or abandoned: the trial will never change again."""
        return self in FINISHED_STATES


ALL_STATES = tuple(TrialState)
FINISHED_STATES = frozenset({TrialState.COMPLETED, TrialState.FAILED, TrialState.ABANDONED})

ASKED_PREFIX = "ask:"  # holder of trials asked for someone (`oboptim ask`): ask:HOST:PID, or the asker's own label


def queried_count(counts: Mapping[str, int]) -> int:
    """Trials that spent an oracle query (completed or failed), from trial counts by state."""
    return counts.get(TrialState.COMPLETED, 0) + counts.get(TrialState.FAILED, 0)

CAMPAIGN_ACTIVE = "active"
CAMPAIGN_FINISHED = "finished"
CAMPAIGN_STATUSES = (CAMPAIGN_ACTIVE, CAMPAIGN_FINISHED)


@dataclass(frozen=True)
class CampaignRecord:
    id: int
    name: str
    task: str
    config: dict[str, Any]
    seed: int
    schema_version: int
    created_at: datetime
    status: str


@dataclass(frozen=True, eq=False)
class TrialRecord:
    """One candidate and its outcome. `x` is the candidate `[*sample_shape]`, decoded on first use (a numpy copy:
    changing it changes nothing stored); `x_list()` gives it as nested lists without numpy.

    `value`, `sem` and `rater` come from the trial's observation (None until it is completed); `error` holds the
    reason of a failed or abandoned trial.
    """

    id: int
    campaign_id: int
    number: int
    round: int
    state: TrialState
    encoded_x: tuple[bytes, tuple[int, ...], str] = field(repr=False)
    provenance: dict[str, Any]
    worker: str | None
    lease_expires_at: datetime | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    value: float | None
    sem: float | None
    rater: str | None

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_STATES

    @cached_property
    def x(self) -> np.ndarray:
        """The candidate ``[*sample_shape]``."""
        from oboptim.storage._arrays import decode_array

        return decode_array(*self.encoded_x)

    def x_list(self) -> Any:
        """The candidate as nested Python lists (what JSON shows), without loading numpy for common dtypes."""
        from oboptim.storage._arrays import decode_to_list

        return decode_to_list(*self.encoded_x)


@dataclass(frozen=True)
class RoundRecord:
    """One ask: the caller's RNG state before it (opaque bytes) and its diagnostics (ESS, log Z traces, ...)."""

    campaign_id: int
    round: int
    rng_state: bytes
    diagnostics: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class SurrogateRecord:
    campaign_id: int
    round: int
    train_size: int
    hyperparameters: dict[str, Any]
    diagnostics: dict[str, Any]
    created_at: datetime
