"""Crash injection for tests: kill this process at its n-th write commit (``OBOPTIM_CRASH_AT_COMMIT``).

``OBOPTIM_CRASH_AT_COMMIT=N`` ends the process with ``os._exit(CRASH_EXIT_CODE)`` right after its N-th write
transaction committed; ``N:before`` ends it right before that commit, so the transaction is lost. ``os._exit`` skips
every cleanup (no finally blocks, no rollback, no atexit), like a power cut or SIGKILL at that instant. Unset, the hook
only counts commits. Counts are per process: a forked child starts again from zero.
"""

from __future__ import annotations

import os

CRASH_ENV_VAR = "OBOPTIM_CRASH_AT_COMMIT"
CRASH_EXIT_CODE = 75

_count_pid: int | None = None
_count = 0


def write_commits() -> int:
    """Write transactions this process has committed so far (those that reached `after_commit`)."""
    return _count if _count_pid == os.getpid() else 0


def before_commit() -> None:
    """Called when a write transaction is about to commit."""
    point = _crash_point()
    if point is not None and point == (write_commits() + 1, "before"):
        os._exit(CRASH_EXIT_CODE)


def after_commit() -> None:
    """Called when a write transaction has committed."""
    global _count, _count_pid
    _count = write_commits() + 1
    _count_pid = os.getpid()
    point = _crash_point()
    if point is not None and point == (_count, "after"):
        os._exit(CRASH_EXIT_CODE)


def _crash_point() -> tuple[int, str] | None:
    spec = os.environ.get(CRASH_ENV_VAR)
    if not spec:
        return None
    number, _, when = spec.partition(":")
    when = when or "after"
    if not number.isdigit() or int(number) < 1 or when not in ("before", "after"):
        raise ValueError(f"{CRASH_ENV_VAR}={spec!r}: expected N or N:before or N:after with N >= 1")
    return int(number), when
