"""The oracle protocol: a black box that scores a batch of candidates, one :class:`Outcome` per trial.

An oracle never raises for a failure on its side (an exception in the user's function, a crashed command, a NaN, a
rater who gives up): the trial's :class:`Outcome` carries the reason instead, so a campaign stores it and goes on.
A failure of the whole batch that may pass (an exception, a crash, a timeout) is marked ``transient``, so that
:func:`~oboptim.oracles.evaluate_with_retries` asks again after a pause. Only two things raise: a programming error of
ours (e.g. ``trial_ids`` and ``xs`` of different lengths), and :class:`OracleInterrupted` when the person or signal
behind the oracle stops it (Ctrl-C, SIGTERM, the end of a rater's input), carrying the outcomes obtained before.

:func:`outcomes_from_values` is the one place that turns whatever a black box returned into outcomes, so that every
oracle kind accepts and rejects the same values with the same messages.
"""

from __future__ import annotations

import math
import numbers
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence, Set
from typing import Any

import numpy as np

from oboptim._text import one_line
from oboptim.oracles._outcome import Outcome


class Oracle(ABC):
    """A black box scoring batches of candidates.

    Implementations set ``name`` (shown in logs and stored with the campaign) and implement :meth:`evaluate`.
    Use as a context manager, or call :meth:`close`, to release what the oracle holds (processes, files).

    Example::

        with CallableOracle(lambda x: x.sum(axis=1)) as oracle:
            outcomes = oracle.evaluate([0, 1], np.ones((2, 3)))   # [Outcome(value=3.0), Outcome(value=3.0)]
    """

    name: str = "oracle"

    @abstractmethod
    def evaluate(self, trial_ids: Sequence[int], xs: np.ndarray) -> list[Outcome]:
        """Score a batch.

        Args:
            trial_ids: ``[B]`` ids of the trials, passed through to oracles that report per trial.
            xs: ``[B, *sample_shape]`` candidates in the task's domain.

        Returns:
            ``B`` outcomes, in the order of ``trial_ids``. Failures are outcomes, never exceptions.

        Raises:
            OracleInterrupted: the person or signal behind the oracle stopped it; it carries the outcomes so far.
        """

    def close(self) -> None:  # noqa: B027 (optional hook: most oracles hold nothing)
        """Release held resources; the default holds none."""

    def __enter__(self) -> Oracle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def check_batch(trial_ids: Sequence[int], xs: np.ndarray) -> tuple[list[int], np.ndarray]:
    """Validate a batch handed to an oracle: ``([B] ids as ints, xs [B, *shape])``; a mismatch is our bug."""
    ids = [int(trial_id) for trial_id in trial_ids]
    xs = np.asarray(xs)
    if xs.ndim == 0 or xs.shape[0] != len(ids):
        raise ValueError(f"{len(ids)} trial ids for candidates of shape {xs.shape}: the first axis must match")
    return ids, xs


def describe_exception(exc: BaseException) -> str:
    """``"ValueError: text"`` on one line, for a failed trial's reason."""
    message = one_line(str(exc))
    return one_line(f"{type(exc).__name__}: {message}" if message else type(exc).__name__)


def outcomes_from_values(values: Any, batch_size: int) -> list[Outcome]:
    """Turn what a black box returned for ``batch_size`` candidates into ``batch_size`` outcomes.

    ``values`` should be a sequence (list, tuple, ``[B]`` or ``[B, 1]`` array) of ``batch_size`` numbers. A wrong count
    or a non-sequence fails every trial; a non-finite or non-numeric entry fails only its own trial.
    """
    entries, problem = _as_entries(values, batch_size)
    if problem is not None:
        return [Outcome.failure(problem)] * batch_size
    return [outcome_from_value(entry) for entry in entries]


def outcome_from_value(value: Any) -> Outcome:
    """One trial's outcome from one returned value: a finite real number succeeds, anything else fails, saying why."""
    number, problem = _as_float(value)
    if problem is not None:
        return Outcome.failure(f"oracle returned {problem}; expected a finite number")
    if math.isnan(number):
        return Outcome.failure("oracle returned nan")
    if math.isinf(number):
        return Outcome.failure(f"oracle returned {'inf' if number > 0 else '-inf'}")
    return Outcome.success(number)


def _as_entries(values: Any, batch_size: int) -> tuple[list[Any], str | None]:
    """``(entries, None)``, or ``([], why the whole batch failed)``."""
    # A mapping or a set iterates over its keys, in no order the candidates share: never read it as the values.
    if isinstance(values, (str, bytes, Mapping, Set)) or not hasattr(values, "__iter__"):
        return [], f"oracle returned {_describe(values)} for {batch_size} candidates; expected a sequence of numbers"
    if isinstance(values, np.ndarray):
        if values.ndim == 0:
            return [], f"oracle returned a 0-d array for {batch_size} candidates; expected a sequence of numbers"
        if values.ndim > 1 and values.shape[0] == batch_size and math.prod(values.shape[1:]) == 1:
            values = values.reshape(batch_size)  # [B, 1] -> [B]: a common shape for per-candidate scores
        elif values.ndim > 1:
            return [], f"oracle returned an array of shape {values.shape} for {batch_size} candidates; expected [B]"
    try:
        entries = list(values)
    except Exception as exc:  # an iterable that breaks while iterated
        return [], f"oracle returned {_describe(values)} that could not be read: {describe_exception(exc)}"
    if len(entries) != batch_size:
        return [], f"oracle returned {len(entries)} values for {batch_size} candidates"
    return entries, None


def _as_float(value: Any) -> tuple[float, str | None]:
    """``(float(value), None)`` for a real number (Python, numpy scalar, 0-d array, 1-element tensor), else why not."""
    if value is None or isinstance(value, (str, bytes, bool, np.bool_)):
        return math.nan, _describe(value)
    if isinstance(value, np.ndarray) and value.ndim != 0:
        return math.nan, f"an array of shape {value.shape} for one candidate"
    if isinstance(value, np.ndarray) and value.dtype.kind not in "iuf":
        return math.nan, _describe(value.item())
    if isinstance(value, (numbers.Complex, np.complexfloating)) and not isinstance(value, numbers.Real):
        return math.nan, _describe(value)
    try:
        return float(value), None
    except OverflowError:
        return math.nan, f"a number too large for a float ({_short_repr(value)})"
    except (TypeError, ValueError):
        return math.nan, _describe(value)


def _describe(value: Any) -> str:
    if value is None:
        return "None"
    return f"a {type(value).__name__} ({_short_repr(value)})"


def _short_repr(value: Any, limit: int = 60) -> str:
    return one_line(repr(value), limit=limit)
