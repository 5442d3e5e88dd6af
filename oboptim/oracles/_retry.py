"""Retrying failed trials, and stopping a campaign whose oracle fails too often.

:func:`evaluate_with_retries` is the one way a campaign queries an oracle. It asks again for the trials that failed:

- a *transient* failure of the batch (an exception, a crashed or timed-out command, see :class:`Outcome`) is retried
  by default, ``batch_retries`` times after pauses of ``backoff_s``, ``2 * backoff_s``, ... seconds, because a short
  outage (a dropped connection, a busy instrument) should not cost a batch;
- any failed trial is retried ``retries`` more times (0 by default: a NaN or an ``error`` answer is the trial's
  result, not an accident).

It also turns a misbehaving :class:`~oboptim.oracles._base.Oracle` (one that raises, or returns the wrong number of
outcomes) into failed outcomes, and an interruption (Ctrl-C, SIGTERM, a rater's end of input) into one
:class:`OracleInterrupted` carrying every outcome already settled. :class:`FailureBudget` counts failures across
rounds and raises :class:`TooManyFailures` once the rate is past what the user tolerates, so a broken oracle does not
burn a budget, but only once enough trials have finished that one bad batch cannot decide it alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

import numpy as np

from oboptim._text import print_to_stderr
from oboptim.errors import OboptimError
from oboptim.oracles._base import Oracle, check_batch, describe_exception
from oboptim.oracles._outcome import OracleInterrupted, Outcome, TransientFailure

DEFAULT_BATCH_RETRIES = 2  # transient batch failures: asked again after 1 s, then 2 s
DEFAULT_BACKOFF_S = 1.0
MIN_TRIALS = 8  # no verdict on the failure rate before this many trials, nor before MIN_BATCHES batches' worth
MIN_BATCHES = 3


class TooManyFailures(OboptimError):
    """The oracle failed on more trials than the campaign tolerates."""


def evaluate_with_retries(oracle: Oracle, trial_ids: Sequence[int], xs: np.ndarray, retries: int = 0, *,
                          batch_retries: int = DEFAULT_BATCH_RETRIES, backoff_s: float = DEFAULT_BACKOFF_S,
                          on_retry: Callable[[str], None] | None = None) -> list[Outcome]:
    """Evaluate a batch, then ask again for the trials that failed (see the module docstring for which, and when).

    Args:
        oracle: the black box.
        trial_ids: ``[B]`` trial ids.
        xs: ``[B, *sample_shape]`` candidates.
        retries: extra attempts for any failed trial (0: a trial's own failure is final).
        batch_retries: extra attempts for trials whose failure is transient, each after a pause.
        backoff_s: the first pause; each next pause doubles it.
        on_retry: called with one line before each pause, e.g. ``"oracle failed on trials 7-14 (instrument
            offline); asking again in 1 s (retry 1 of 2)"``; default: printed to standard error, so an outage that
            the retries cure is still seen when it happens.

    Returns:
        ``B`` outcomes in order; a trial that never succeeded keeps its last error. An outcome whose trial failed
        transiently before lists those failures in ``retried_after``.

    Raises:
        OracleInterrupted: the batch was interrupted; ``outcomes`` holds the settled ones (successes, and failures
            that would not have been retried), by trial id; the batch's other trials must stay pending.
    """
    if retries < 0 or batch_retries < 0:
        raise ValueError(f"retries and batch_retries must be >= 0, got {retries} and {batch_retries}")
    ids, xs = check_batch(trial_ids, xs)
    say = print_to_stderr if on_retry is None else on_retry
    plan = _RetryPlan(retries, batch_retries)
    outcomes: list[Outcome] = []
    asked = list(range(len(ids)))  # the trials of the attempt under way
    pause = backoff_s
    history: list[list[TransientFailure]] = [[] for _ in ids]  # each trial's transient failures so far
    attempt = 0
    try:
        outcomes = _evaluate_guarded(oracle, ids, xs)
        while True:
            failed_now = [i for i in asked if outcomes[i].failed and outcomes[i].transient]
            attempted = asked
            asked, transient = plan.next(outcomes)
            if not asked:
                return _with_history(outcomes, history)
            if transient:
                _note_transient(outcomes, ids, attempted, failed_now, attempt, history)
                say(_retry_line(ids, outcomes, failed_now, pause, attempt + 1, batch_retries + retries))
                time.sleep(pause)
                pause *= 2
            attempt += 1
            retried = _evaluate_guarded(oracle, [ids[i] for i in asked], xs[asked])
            for i, outcome in zip(asked, retried):
                outcomes[i] = outcome
    except KeyboardInterrupt as exc:
        raise _interrupted(exc, ids, _with_history(outcomes, history), asked, plan) from exc


def _note_transient(outcomes: list[Outcome], ids: list[int], attempted: list[int], failed: list[int], attempt: int,
                    history: list[list[TransientFailure]]) -> None:
    """Add the transient failure of ``attempt`` (of the trials ``attempted``) to each failed trial's history."""
    if not failed:
        return
    trials = tuple(ids[i] for i in attempted)
    for i in failed:
        history[i].append(TransientFailure(outcomes[i].error, trials, attempt))


def _with_history(outcomes: list[Outcome], history: list[list[TransientFailure]]) -> list[Outcome]:
    """``outcomes``, each carrying its trial's earlier transient failures."""
    return [replace(outcome, retried_after=tuple(past)) if past else outcome
            for outcome, past in zip(outcomes, history)]


def _retry_line(ids: list[int], outcomes: list[Outcome], failed: list[int], pause: float, retry: int,
                of: int) -> str:
    """``oracle failed on trials 7-14 (instrument offline); asking again in 1 s (retry 1 of 2)``."""
    reason = outcomes[failed[-1]].error if failed else "failed"
    trials = describe_ids([ids[i] for i in failed])
    return (f"oracle failed on {'trial' if len(failed) == 1 else 'trials'} {trials} ({reason}); asking again in "
            f"{pause:g} s (retry {retry} of {of})")


def describe_ids(ids: Sequence[int], most: int = 6) -> str:
    """``[7, 8, 9, 12]`` as ``"7-9, 12"``: runs of consecutive ids joined, at most ``most`` parts then a count."""
    runs: list[list[int]] = []
    for trial_id in sorted(ids):
        if runs and trial_id == runs[-1][-1] + 1:
            runs[-1].append(trial_id)
        else:
            runs.append([trial_id])
    parts = [str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}" for run in runs]
    if len(parts) > most:
        rest = sum(len(run) for run in runs[most:])
        parts = [*parts[:most], f"{rest} more"]
    return ", ".join(parts)


class _RetryPlan:
    """What to ask again after each attempt, within the two budgets of retries."""

    def __init__(self, retries: int, batch_retries: int) -> None:
        self.retries_left = retries
        self.batch_retries_left = batch_retries

    def next(self, outcomes: list[Outcome]) -> tuple[list[int], bool]:
        """``(indices to ask again, whether any failed transiently)``; ``([], False)`` when done."""
        failed = [i for i, outcome in enumerate(outcomes) if outcome.failed]
        transient = [i for i in failed if outcomes[i].transient]
        if transient and self.batch_retries_left > 0:
            self.batch_retries_left -= 1
            if len(transient) < len(failed) and self.retries_left > 0:
                self.retries_left -= 1
                return failed, True
            return transient, True
        if failed and self.retries_left > 0:
            self.retries_left -= 1
            return failed, bool(transient)
        return [], False

    def settled(self, outcome: Outcome) -> bool:
        """Whether ``outcome`` is final: a success, or a failure that no budget left would retry."""
        if not outcome.failed:
            return True
        return self.retries_left == 0 and not (outcome.transient and self.batch_retries_left > 0)


def _interrupted(exc: KeyboardInterrupt, ids: list[int], outcomes: list[Outcome], asked: list[int],
                 plan: _RetryPlan) -> OracleInterrupted:
    """One :class:`OracleInterrupted` with every settled outcome, of earlier attempts and of the interrupted one."""
    in_flight = set(asked)
    settled = {ids[i]: outcome for i, outcome in enumerate(outcomes) if i not in in_flight and plan.settled(outcome)}
    if isinstance(exc, OracleInterrupted):
        settled.update((trial_id, outcome) for trial_id, outcome in exc.outcomes.items() if plan.settled(outcome))
        return OracleInterrupted(exc.reason, settled)
    return OracleInterrupted(str(exc) or "interrupted (Ctrl-C)", settled)


def _evaluate_guarded(oracle: Oracle, ids: list[int], xs: np.ndarray) -> list[Outcome]:
    """``oracle.evaluate``, with a broken contract (an exception, a wrong answer) turned into failed outcomes.

    An exception is a transient failure (a third-party oracle's dropped connection); :class:`OracleInterrupted`
    and other interrupts are not exceptions here and pass through.
    """
    try:
        outcomes = oracle.evaluate(ids, xs)
    except Exception as exc:  # a third-party Oracle broke the never-raise contract; the campaign goes on
        return [Outcome.failure(f"oracle {oracle.name!r} raised {describe_exception(exc)}", transient=True)] * len(ids)
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
        min_trials: no verdict before this many trials are recorded, so that one early failure (or one failed batch)
            does not stop a run; default ``max(8, 3 * batch_size)``. Simulated on batches of 4-16 with 10-30 %
            failed trials and 10 % failed batches, 3 batches' worth stops a working oracle 2-3x less often than 1 or
            2 (e.g. 6 % against 14 %), and a 4th batch gains little, while a broken oracle still stops after 3.
        batch_size: the campaign's batch size, for the default ``min_trials``.

    Example::

        budget = FailureBudget(0.25, batch_size=8)
        budget.record(outcomes)
        budget.check()   # raises TooManyFailures: "37% of 40 trials failed (tolerated: 25%): last error: ..."
    """

    def __init__(self, max_failure_rate: float, min_trials: int | None = None, *, batch_size: int = 1) -> None:
        if not 0.0 <= max_failure_rate <= 1.0:
            raise ValueError(f"max_failure_rate must be in [0, 1], got {max_failure_rate}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if min_trials is None:
            min_trials = max(MIN_TRIALS, MIN_BATCHES * batch_size)
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
