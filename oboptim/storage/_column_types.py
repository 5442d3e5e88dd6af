"""Column types that behave the same on SQLite and PostgreSQL.

* `JSONText`: JSON in a TEXT column. Non-finite floats are written as the tokens NaN / Infinity / -Infinity (as
  Python's json module does), so provenance and diagnostics with NaN or inf round-trip; floats use repr, so they
  round-trip exactly. numpy scalars and arrays are converted to plain Python values.
* `UTCDateTime`: stores naive UTC, returns timezone-aware UTC datetimes.
* `TrialStateText`: a :class:`TrialState` as its text (``"completed"``), read back as the enum.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import DateTime, String, Text
from sqlalchemy.types import TypeDecorator

from oboptim.storage._records import TrialState


def _to_plain_json(value: Any) -> Any:
    """`default=` hook for json.dumps: numpy values become Python values."""
    if type(value).__module__ == "numpy":  # numpy is loaded already if the value is one of its own
        import numpy as np

        if isinstance(value, np.ndarray):
            return value.tolist()
        if isinstance(value, np.generic):
            return value.item()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"cannot store a {type(value).__name__} as JSON: convert it to numbers, strings, lists or dicts")


def dumps_json(value: Any) -> str:
    return json.dumps(value, allow_nan=True, default=_to_plain_json)


def loads_json(text: str) -> Any:
    return json.loads(text)


class JSONText(TypeDecorator):
    """A JSON document in a TEXT column (NaN/inf safe)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else dumps_json(value)

    def process_result_value(self, value, dialect):
        return None if value is None else loads_json(value)


class UTCDateTime(TypeDecorator):
    """A UTC instant: naive UTC in the database, aware UTC in Python."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous: pass a timezone-aware datetime")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect):
        return None if value is None else value.replace(tzinfo=timezone.utc)


class TrialStateText(TypeDecorator):
    """A trial state: its text in a VARCHAR(16) column, a :class:`TrialState` in Python."""

    impl = String(16)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else TrialState(value).value

    def process_result_value(self, value, dialect):
        return None if value is None else TrialState(value)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)
