"""Short texts shown to people: reasons and messages on one line, of bounded length."""

from __future__ import annotations

import sys
from typing import Any

# A failed trial's reason (and any message stored with a trial) is one line of at most this many characters.
MAX_MESSAGE_CHARS = 500


def one_line(text: Any, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` with whitespace runs (newlines included) collapsed to one space, cut to ``limit`` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "\u2026"


def print_to_stderr(line: str) -> None:
    """The default place of a one-line notice for the person at the terminal (diagnostics never go to stdout)."""
    print(line, file=sys.stderr, flush=True)


__all__ = ["MAX_MESSAGE_CHARS", "one_line", "print_to_stderr"]
