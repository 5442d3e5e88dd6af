"""Retrying failed trials, and stopping a campaign whose oracle fails too often.

:func:`evaluate_with_retries` is the one way a campaign queries an oracle: it asks again only for the trials that
failed, and it turns even a misbehaving :class:`~oboptim.oracles._base.Oracle` (one that raises, or returns the wrong
number of outcomes) into failed outcomes. :class:`FailureBudget` counts failures across rounds and raises
:class:`TooManyFailures` once the rate is past what the user tolerates, so a broken oracle does not burn a budget.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from oboptim.errors import OboptimError
from oboptim.oracles._base import Oracle, Outcome, check_batch, describe_exception


class TooManyFailures(OboptimError):
    """The oracle failed on more trials than the campaign tolerates."""


def evaluate_with_retries(oracle: Oracle, trial_ids: Sequence[int], xs: np.ndarray, retries: int) -> list[Outcome]:
    """Evaluate a batch, then re-evaluate only the failed trials, up to ``retries`` more times.

    Args:
        oracle: the black box.
        trial_ids: ``[B]`` trial ids.
        xs: ``[B, *sample_shape]`` candidates.
        retries: extra attempts for failed trials (0: evaluate once).

    Returns:
        ``B`` outcomes in order; a trial that never succeeded keeps its last error.
    """
    if retries < 0:
        raise ValueError(f"retries must be >= 0, got {retries}")
    ids, xs = check_batch(trial_ids, xs)
    outcomes = _evaluate_guarded(oracle, ids, xs)
    for _ in range(retries):
        failed = [i for i, outcome in enumerate(outcomes) if outcome.failed]
        if not failed:
            break
        retried = _evaluate_guarded(oracle, [ids[i] for i in failed], xs[failed])
        for i, outcome in zip(failed, retried):
            outcomes[i] = outcome
    return outcomes


def _evaluate_guarded(oracle: Oracle, ids: list[int], xs: np.ndarray) -> list[Outcome]:
    """``oracle.evaluate``, with a broken contract (an exception, a wrong answer) turned into failed outcomes."""
    try:
        outcomes = oracle.evaluate(ids, xs)
    except Exception as exc:  # a third-party Oracle broke the never-raise contract; the campaign goes on
        return [Outcome.failure(f"oracle {oracle.name!r} raised {describe_exception(exc)}")] * len(ids)
    if not isinstance(outcomes, Sequence) or len(outcomes) != len(ids):
        count = len(outcomes) if isinstance(outcomes, Sequence) else type(outcomes).__name__
        return [Outcome.failure(f"oracle {oracle.name!r} returned {count} outcomes for {len(ids)} trials")] * len(ids)
    return [
        outcome if isinstance(outcome, Outcome)
        else Outcome.failure(f"oracle {oracle.name!r} returned a {type(outcome).__name__}, not an Outcome")
        for outcome in outcomes
    ]


class FailureBudget:
    """Counts finished trials and failures; :meth:`check` raises once too many failed.

    Args:
        max_failure_rate: the tolerated fraction of failed trials, in ``[0, 1]`` (1 tolerates everything).
        min_trials: no verdict before this many trials are recorded, so that one early failure does not stop a run.

    Example::

        budget = FailureBudget(0.25)
        budget.record(outcomes)
        budget.check()   # raises TooManyFailures: "37% of 40 trials failed (tolerated: 25%): last error: ..."
    """

    def __init__(self, max_failure_rate: float, min_trials: int = 8) -> None:
        if not 0.0 <= max_failure_rate <= 1.0:
            raise ValueError(f"max_failure_rate must be in [0, 1], got {max_failure_rate}")
        if min_trials < 1:
            raise ValueError(f"min_trials must be at least 1, got {min_trials}")
        self.max_failure_rate = float(max_failure_rate)
        self.min_trials = int(min_trials)
        self.total = 0
        self.failed = 0
        self.last_error: str | None = None

    @property
    def failure_rate(self) -> float:
        return self.failed / self.total if self.total else 0.0

    def record(self, outcomes: Iterable[Outcome]) -> None:
        """Count a batch of outcomes (e.g. those restored from storage on resume, then each round's)."""
        for outcome in outcomes:
            self.total += 1
            if outcome.failed:
                self.failed += 1
                self.last_error = outcome.error

    def check(self) -> None:
        """Raise :class:`TooManyFailures` when at least ``min_trials`` were recorded and too many failed."""
        if self.total < self.min_trials or self.failure_rate <= self.max_failure_rate:
            return
        raise TooManyFailures(
            f"{self.failure_rate:.0%} of {self.total} trials failed (tolerated: {self.max_failure_rate:.0%}): "
            f"last error: {self.last_error}; fix the oracle or raise --max-failure-rate"
        )
