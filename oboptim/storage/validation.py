"""Checks on caller input, done before any transaction so that a refused call writes nothing."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from oboptim.storage.column_types import dumps_json, loads_json
from oboptim.storage.errors import InvalidValue
from oboptim.storage.records import ALL_STATES


def normalized_json(value: Any) -> Any:
    """The value as it will read back (numpy values become Python ones); fails early if not JSON-able."""
    return loads_json(dumps_json(value))


def finite_value(value: Any, trial_id: int) -> float:
    try:
        if isinstance(value, (str, bytes)):
            raise TypeError
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidValue(f"trial {trial_id}: value {value!r} is not a number: report a float") from None
    if not math.isfinite(number):
        raise InvalidValue(
            f"trial {trial_id}: value {number!r} is not finite: report a finite float, or mark the trial failed"
        )
    return number


def valid_sem(sem: Any, trial_id: int) -> float | None:
    if sem is None:
        return None
    try:
        number = float(sem)
    except (TypeError, ValueError):
        raise InvalidValue(f"trial {trial_id}: sem {sem!r} is not a number: pass a finite float >= 0") from None
    if not (math.isfinite(number) and number >= 0):
        raise InvalidValue(f"trial {trial_id}: sem {number!r} must be a finite float >= 0")
    return number


def checked_states(states: Iterable[str]) -> list[str]:
    states = [states] if isinstance(states, str) else list(states)
    unknown = [s for s in states if s not in ALL_STATES]
    if unknown:
        raise ValueError(f"unknown trial states {unknown}: use some of {ALL_STATES}")
    return states
