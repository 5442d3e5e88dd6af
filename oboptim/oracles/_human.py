"""A person at a terminal as the oracle: each candidate is shown, and the rater types a number.

Answers: a number (within ``[low, high]`` when bounds are set) scores the trial; ``f REASON`` or ``fail REASON`` marks
it failed. An empty or invalid answer asks again, a few times, before the trial fails.

When input ends (Ctrl-D, ``</dev/null``, ``nohup``) or the rater presses Ctrl-C, :meth:`TerminalHumanOracle.evaluate`
raises :class:`~oboptim.oracles.OracleInterrupted` carrying the scores given so far in the batch: the campaign stops
like on Ctrl-C, records those scores, and leaves the batch's other trials pending for a later run; none is failed
for want of a rater.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

import numpy as np

from oboptim._registry import ORACLE_KINDS
from oboptim.oracles._base import Oracle, check_batch, one_line
from oboptim.oracles._context import OracleContext
from oboptim.oracles._outcome import OracleInterrupted, Outcome

INLINE_MAX_ELEMENTS = 12  # larger candidates are summarised
END_OF_INPUT = ("the rater's input ended (end of file: Ctrl-D, </dev/null or nohup); the unrated trials stay "
                "pending: run again at a terminal to rate them")
INTERRUPTED = "the rater interrupted the batch (Ctrl-C); the unrated trials stay pending"
FAIL_WORDS = ("f", "fail")


class _EndOfInput(Exception):
    """The rater's input stream is exhausted."""


class TerminalHumanOracle(Oracle):
    """Asks a person for each candidate's score on a text stream.

    Args:
        input_stream: where answers are read, one per line (default: ``sys.stdin`` at construction).
        output_stream: where candidates and prompts are written (default: ``sys.stdout`` at construction).
        low, high: optional bounds for a valid score, inclusive.
        max_attempts: invalid answers tolerated per trial before it fails with "no valid answer".
        show: how a candidate is written (default: its numbers, or a summary of a large array); a sequence task's
            campaign writes its sequences as strings.
    """

    name = "human"

    def __init__(
        self,
        input_stream: TextIO | None = None,
        output_stream: TextIO | None = None,
        low: float | None = None,
        high: float | None = None,
        max_attempts: int = 5,
        show: Callable[[np.ndarray], str] | None = None,
    ) -> None:
        if low is not None and high is not None and low > high:
            raise ValueError(f"low ({low}) must not exceed high ({high})")
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
        self.input_stream = input_stream if input_stream is not None else sys.stdin
        self.output_stream = output_stream if output_stream is not None else sys.stdout
        self.low = low
        self.high = high
        self.max_attempts = max_attempts
        self.show = show or format_candidate

    def evaluate(self, trial_ids: Sequence[int], xs: np.ndarray) -> list[Outcome]:
        """Ask for each trial's score in turn.

        Raises:
            OracleInterrupted: input ended or the rater pressed Ctrl-C; ``outcomes`` holds the answers given so far
                in this batch, by trial id (the other trials must stay pending).
        """
        ids, xs = check_batch(trial_ids, xs)
        outcomes: list[Outcome] = []
        for trial_id, x in zip(ids, xs):
            self._say(f"trial {trial_id}: x = {self.show(x)}")
            try:
                outcomes.append(self._ask_score())
            except _EndOfInput:
                self._say("")
                raise OracleInterrupted(END_OF_INPUT, dict(zip(ids, outcomes))) from None
            except KeyboardInterrupt as exc:
                raise OracleInterrupted(INTERRUPTED, dict(zip(ids, outcomes))) from exc
        return outcomes

    def _ask_score(self) -> Outcome:
        for _ in range(self.max_attempts):
            self._say(f"score{self._range_hint()} (or 'f REASON' to mark it failed): ", end="")
            line = self.input_stream.readline()
            if not line:
                raise _EndOfInput
            outcome, problem = self._parse_answer(line.strip())
            if outcome is not None:
                return outcome
            self._say(problem)
        return Outcome.failure(f"no valid answer after {self.max_attempts} attempts")

    def _parse_answer(self, answer: str) -> tuple[Outcome | None, str]:
        """``(outcome, "")`` for a valid answer, else ``(None, a one-line hint)``."""
        if not answer:
            return None, "empty answer: type a number, or 'f REASON'"
        word, _, rest = answer.partition(" ")
        if word.lower() in FAIL_WORDS:
            return Outcome.failure(one_line(rest) or "marked failed by the rater"), ""
        try:
            value = float(answer)
        except ValueError:
            return None, f"not a number: {one_line(answer, 40)!r}; type a number, or 'f REASON'"
        if not math.isfinite(value):
            return None, "type a finite number"
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            return None, f"out of range: type a number{self._range_hint()}"
        return Outcome.success(value), ""

    def _range_hint(self) -> str:
        if self.low is None and self.high is None:
            return ""
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "inf" if self.high is None else f"{self.high:g}"
        return f" in [{low}, {high}]"

    def _say(self, text: str, end: str = "\n") -> None:
        self.output_stream.write(text + end)
        self.output_stream.flush()


@ORACLE_KINDS.implements("human")
def terminal_oracle(context: OracleContext) -> TerminalHumanOracle:
    """``--oracle human``: a :class:`TerminalHumanOracle` on standard input and output."""
    sequence = context.task.sequence if context.task is not None else None
    return TerminalHumanOracle(show=sequence.format if sequence is not None else None)


def format_candidate(x: np.ndarray, max_elements: int = INLINE_MAX_ELEMENTS) -> str:
    """A short one-line view of one candidate ``x [*sample_shape]``.

    Up to ``max_elements`` entries are shown inline with 4 significant digits (nested like the array); a larger
    candidate is summarised by its shape and range.
    """
    x = np.asarray(x)
    if x.size <= max_elements:
        if x.dtype.kind not in "biuf":
            return one_line(np.array2string(x, separator=", "))
        text = np.array2string(
            x, separator=", ", max_line_width=10_000, formatter={"all": lambda v: f"{v:.4g}"}
        )
        return one_line(text)
    values = x.astype(np.float64)
    return (
        f"array of shape {x.shape}: min {values.min():.4g}, max {values.max():.4g}, "
        f"mean {values.mean():.4g}, std {values.std():.4g}"
    )
