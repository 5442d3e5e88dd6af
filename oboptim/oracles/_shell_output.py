"""Reading a shell-command oracle's output as it arrives, in bounded memory.

A command may print anything besides its answers (progress, logs, a 300 MB dump). :class:`AnswerStream` parses
stdout line by line as the bytes arrive and keeps only what a batch needs: the first valid answer for each of the
batch's trials, a count of ignored lines and notes on the first few. A line longer than :data:`MAX_LINE_BYTES` is
dropped (with a note) without being held. :class:`TailBuffer` keeps the last few kB of stderr, for the reason of a
failed batch. Memory is therefore bounded by the batch size, not by what the command prints.
"""

from __future__ import annotations

import json

from oboptim.oracles._base import one_line, outcome_from_value
from oboptim.oracles._outcome import Outcome

MAX_LINE_BYTES = 16 * 2**20  # an answer is a few dozen bytes; a longer line is not one
MAX_NOTES = 5  # notes kept on ignored lines (all of them are counted)
STDERR_TAIL_BYTES = 8192
SHOWN_LINE_CHARS = 80


class AnswerStream:
    """Answers by trial id, parsed from stdout chunks fed as they arrive (the first answer for a trial wins).

    Args:
        expected_ids: the batch's trial ids; an answer for any other id is ignored with a note.
        max_line_bytes: longer lines are ignored, with a note, without being held in memory.
        max_notes: notes kept about ignored lines; :attr:`ignored` counts them all.

    Example::

        stream = AnswerStream({7})
        stream.feed(b'hello\\n{"trial_id": 7, "val')
        stream.feed(b'ue": 1.5}\\n')
        stream.outcomes   # {7: Outcome(value=1.5)}; stream.notes: ["line 1 is not JSON: 'hello'"]
    """

    def __init__(self, expected_ids: set[int], max_line_bytes: int = MAX_LINE_BYTES,
                 max_notes: int = MAX_NOTES) -> None:
        self.expected_ids = set(expected_ids)
        self.max_line_bytes = max_line_bytes
        self.max_notes = max_notes
        self.outcomes: dict[int, Outcome] = {}
        self.notes: list[str] = []
        self.ignored = 0
        self._partial = bytearray()  # the line being received
        self._overlong = False  # the line being received is past max_line_bytes and is being skipped
        self._line_number = 0

    def feed(self, chunk: bytes) -> None:
        """Parse every line that ``chunk`` completes; keep the unfinished end for the next chunk."""
        lines = chunk.split(b"\n")
        for piece in lines[:-1]:
            self._extend(piece)
            self._end_line()
        self._extend(lines[-1])

    def finish(self) -> None:
        """The output ended: parse a last line that had no newline."""
        if self._partial or self._overlong:
            self._end_line()

    def _extend(self, piece: bytes) -> None:
        if self._overlong or not piece:
            return
        if len(self._partial) + len(piece) > self.max_line_bytes:
            self._partial = bytearray()  # drop it now: holding it is what the cap prevents
            self._overlong = True
        else:
            self._partial += piece

    def _end_line(self) -> None:
        self._line_number += 1
        if self._overlong:
            self._overlong = False
            self._ignore(f"is longer than {_size(self.max_line_bytes)}", b"")
            return
        line = bytes(self._partial)
        self._partial.clear()
        if not line.strip():
            return
        if len(self.notes) >= self.max_notes and not line.lstrip().startswith(b"{"):
            self.ignored += 1  # cannot be an answer, and the notes are full: just count it
            return
        trial_id, outcome, problem = parse_answer(line, self.expected_ids)
        if problem is not None:
            self._ignore(problem, line)
        elif trial_id not in self.outcomes:
            self.outcomes[trial_id] = outcome

    def _ignore(self, problem: str, line: bytes) -> None:
        self.ignored += 1
        if len(self.notes) < self.max_notes:
            shown = f": {one_line(line.decode('utf-8', errors='replace'), SHOWN_LINE_CHARS)!r}" if line else ""
            self.notes.append(f"line {self._line_number} {problem}{shown}")


def parse_answer(line: bytes, expected_ids: set[int]) -> tuple[int | None, Outcome | None, str | None]:
    """``(trial_id, outcome, None)`` for a valid answer line, else ``(None, None, what is wrong)``."""
    try:
        message = json.loads(line)
    except ValueError:  # UnicodeDecodeError included
        return None, None, "is not JSON"
    if not isinstance(message, dict):
        return None, None, "is not a JSON object"
    trial_id = message.get("trial_id")
    if isinstance(trial_id, bool) or not isinstance(trial_id, int):
        return None, None, "has no integer trial_id"
    if trial_id not in expected_ids:
        return None, None, f"answers trial {trial_id}, which is not in this batch"
    if message.get("error") is not None:
        reason = str(message["error"]) or "the command reported an error without a reason"
        return trial_id, Outcome.failure(reason), None
    if "value" in message:
        return trial_id, outcome_from_value(message["value"]), None
    return None, None, "has neither value nor error"


def _size(n_bytes: int) -> str:
    return f"{n_bytes / 2**20:g} MiB" if n_bytes >= 2**20 else f"{n_bytes} bytes"


class TailBuffer:
    """The last ``limit`` bytes of a stream, fed chunk by chunk."""

    def __init__(self, limit: int = STDERR_TAIL_BYTES) -> None:
        self.limit = limit
        self._data = bytearray()

    def feed(self, chunk: bytes) -> None:
        self._data += chunk[-self.limit:]
        del self._data[:-self.limit]

    def text(self) -> str:
        return self._data.decode("utf-8", errors="replace")
