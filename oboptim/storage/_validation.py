"""Checks on caller input, done before any transaction so that a refused call writes nothing."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from oboptim._text import one_line
from oboptim.storage._column_types import dumps_json, loads_json
from oboptim.storage._errors import InvalidValue, UnknownCampaignError, UnknownRoundError, UnknownTrialError
from oboptim.storage._records import ALL_STATES

# Ids are 64-bit integers in every backend; a larger number cannot name a row (and the drivers cannot even bind it).
_MAX_ID = 2**63 - 1


def normalized_json(value: Any) -> Any:
    """The value as it will read back (numpy values become Python ones); fails early if not JSON-able."""
    return loads_json(dumps_json(value))


def checked_id(value: Any, kind: str) -> int:
    """``value`` as a row id (or round number); anything that cannot be one raises Unknown{kind}Error naming it."""
    error = {"trial": UnknownTrialError, "campaign": UnknownCampaignError, "round": UnknownRoundError}[kind]
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        raise error(f"{value!r} is not a {kind} id: {kind} ids are integers") from None
    if not -_MAX_ID <= number <= _MAX_ID:
        raise error(f"no {kind} with id {number}: ids are 64-bit integers; check the id with `oboptim status`")
    return number


def finite_value(value: Any, trial_id: int) -> float:
    """``value`` as a finite float; a bool, text, non-number or non-finite number raises InvalidValue."""
    try:
        if isinstance(value, (str, bytes, bool)) or type(value).__name__ == "bool_":
            raise TypeError
        number = float(value)
    except OverflowError:  # an int beyond the float range
        raise InvalidValue(
            f"trial {trial_id}: value {_short(value)} is too large for a float: report a finite float"
        ) from None
    except (TypeError, ValueError):
        raise InvalidValue(f"trial {trial_id}: value {_short(value)} is not a number: report a float") from None
    if not math.isfinite(number):
        raise InvalidValue(
            f"trial {trial_id}: value {number!r} is not finite: report a finite float, or mark the trial failed"
        )
    return number


MAX_NAME_CHARS = 255  # the campaign.name column's length


def valid_campaign_name(name: Any) -> str:
    """A campaign's name: 1 to 255 printable characters, no surrounding spaces; else InvalidValue saying why."""
    if not isinstance(name, str):
        raise InvalidValue(f"a campaign name must be text, got {type(name).__name__}")
    if not name or name != name.strip():
        raise InvalidValue(f"campaign name {name!r} is empty or starts or ends with spaces: choose a name like "
                           "'screen-1'")
    if not name.isprintable():
        raise InvalidValue(f"campaign name {name!r} holds newlines or other control characters: choose a name on "
                           "one line")
    if len(name) > MAX_NAME_CHARS:
        raise InvalidValue(f"campaign name of {len(name)} characters is too long: use at most {MAX_NAME_CHARS}")
    return name


def valid_reason(reason: Any, trial_id: int) -> str:
    """A failed trial's reason: one non-empty line of at most ``MAX_MESSAGE_CHARS`` characters."""
    if not isinstance(reason, str):
        raise InvalidValue(f"trial {trial_id}: the reason must be text, got {type(reason).__name__}")
    text = one_line(reason)
    if not text:
        raise InvalidValue(f"trial {trial_id}: give a reason why it failed (got an empty one)")
    return text


def valid_sem(sem: Any, trial_id: int) -> float | None:
    if sem is None:
        return None
    try:
        number = float(sem)
    except (TypeError, ValueError, OverflowError):
        raise InvalidValue(
            f"trial {trial_id}: sem {_short(sem)} is not a finite number: pass a finite float >= 0"
        ) from None
    if not (math.isfinite(number) and number >= 0):
        raise InvalidValue(f"trial {trial_id}: sem {number!r} must be a finite float >= 0")
    return number


def checked_states(states: Iterable[str]) -> list[str]:
    states = [states] if isinstance(states, str) else list(states)
    unknown = [s for s in states if s not in ALL_STATES]
    if unknown:
        raise ValueError(f"unknown trial states {unknown}: use some of {ALL_STATES}")
    return states


def _short(value: Any, limit: int = 80) -> str:
    """``repr(value)`` on one line, cut to ``limit`` characters, for messages."""
    try:
        text = " ".join(repr(value).split())
    except ValueError:  # e.g. an int with more digits than Python will print
        return f"(a {type(value).__name__} too long to show)"
    return text if len(text) <= limit else text[: limit - 1] + "…"
