"""The loop with an executor: the main thread proposes and submits, a recorder thread stores each outcome as it returns.

Proposing a round takes seconds (the surrogate's fit, the sampler), and an evaluation may return at any moment of it.
A value that waited for the proposal to end would be lost at Ctrl-C or ``kill -9`` and measured again on resume, so a
:class:`Recorder` thread takes each finished evaluation from the executor (``done``) and records it at once, in its
own transactions (:class:`~oboptim.storage.Storage` opens one per operation, its engine is shared safely between
threads, and SQLite writers queue on ``BEGIN IMMEDIATE``), then drops the trial from the heartbeat. Measured on 2 busy
cores (``gmm2d``, 64 particles x 50 steps, an oracle of 0.5 s, the driver proposing nearly all the time), from the
oracle's return to the trial's ``finished_at``: median 8 ms, max 20 ms over 10 trials with ``process:2`` on SQLite
(10 ms / 27 ms on PostgreSQL, 12 ms / 60 ms with ``ray:2``), against 6.5 s / 13 s when the loop recorded between
proposals.

On Ctrl-C or SIGTERM (a KeyboardInterrupt in the main thread) the recorder first stores every outcome already
returned, then the executor kills what is still running, and the campaign's loop hands this worker's running trials
back to waiting.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from oboptim._outcomes import record_outcomes
from oboptim.executors._base import Executor, OracleRecipe
from oboptim.oracles._outcome import Outcome
from oboptim.storage._records import TrialRecord, queried_count

if TYPE_CHECKING:
    from oboptim._campaign import Campaign, _Loop

RECORD_POLL_S = 0.2  # the longest the recorder waits on the executor before looking whether it should stop
FINAL_WAIT_S = 0.1  # when stopping, for an evaluation that has returned and is on its way to the driver
IDLE_POLL_S = 0.5  # the main thread's wait when it has nothing to submit (a recorded outcome wakes it sooner)


class Recorder:
    """A thread that records each outcome of ``executor`` as soon as it returns; :meth:`submit` sends it trials.

    Used as a context manager around the loop: leaving it stops the thread, then records whatever else has returned
    (on an interrupt, without the transient failures that the interrupt itself may have caused).

    Args:
        campaign: the campaign whose trials these are.
        executor: where they run.
        loop: the running loop's heartbeat (which drops each trial once recorded), failure budget and progress bar.
    """

    def __init__(self, campaign: Campaign, executor: Executor, loop: _Loop) -> None:
        self.campaign, self.executor, self.loop = campaign, executor, loop
        self._lock = threading.Lock()
        self._unrecorded: set[int] = set()  # submitted, outcome not yet stored
        self._news = threading.Event()  # something was recorded (or the recorder failed)
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    @property
    def in_flight(self) -> int:
        """Trials submitted whose outcome is not stored yet."""
        with self._lock:
            return len(self._unrecorded)

    def submit(self, trials: Sequence[TrialRecord]) -> None:
        """Hold ``trials`` in the heartbeat and start evaluating them."""
        self.loop.heart.hold(trial.id for trial in trials)
        with self._lock:
            self._unrecorded.update(trial.id for trial in trials)
        for trial in trials:
            self.executor.submit(trial.id, trial.x)

    def wait(self, timeout: float) -> None:
        """Until something is recorded, or ``timeout`` seconds."""
        self._news.wait(timeout)
        self._news.clear()

    def check(self) -> None:
        """Raise what stopped the recorder (a database error), or :class:`~oboptim.oracles.TooManyFailures`."""
        if self._error is not None:
            raise self._error
        with self._lock:
            self.loop.failures.check()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                results = self.executor.done(timeout=RECORD_POLL_S)
                if results:
                    self._record(results)
                elif not self.in_flight:  # done() returns at once when nothing runs: no busy loop
                    self._stop.wait(RECORD_POLL_S)
        except BaseException as error:  # the main thread raises it at its next check
            self._error = error
            self._news.set()

    def _record(self, results: list[tuple[int, Outcome]]) -> None:
        campaign = self.campaign
        # told by someone else meanwhile (`oboptim tell`), or taken over after a lost lease: the other answer stands
        record_outcomes(campaign.storage, campaign.id, results, skip_conflicts=True, holder=campaign.worker)
        ids = [trial_id for trial_id, _ in results]
        self.loop.heart.drop(ids)
        with self._lock:
            self._unrecorded.difference_update(ids)
            self.loop.failures.record([outcome for _, outcome in results])
        if self.loop.bar is not None:
            self.loop.bar.n = campaign.finished_count()
            self.loop.bar.refresh()
        self._news.set()

    def __enter__(self) -> Recorder:
        self._thread = threading.Thread(target=self._run, name="oboptim-recorder", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            return
        interrupted = exc_type is not None and issubclass(exc_type, KeyboardInterrupt)
        try:
            results = self.executor.done(timeout=FINAL_WAIT_S if self.in_flight else 0.0)
            while results:
                if interrupted:  # a worker the interrupt reached is no result: its trial goes back to waiting
                    results = [(trial_id, outcome) for trial_id, outcome in results if not outcome.transient]
                if results:
                    self._record(results)
                results = self.executor.done(timeout=0.0)
        except Exception:
            if exc_type is None:
                raise


def run_with_executor(campaign: Campaign, executor: Executor, recipe: OracleRecipe, budget: int,
                      max_pending: int | None, grace_seconds: float, loop: _Loop) -> None:
    """Submit each trial as it is claimed or proposed, up to ``max_pending`` unfinished, until the campaign's budget
    (``budget`` when it starts, re-read as it goes) is finished; a :class:`Recorder` stores the outcomes meanwhile."""
    executor.start(recipe)
    pending_cap = max_pending or 2 * executor.slots
    resume_own = True  # first its own unfinished trials, for a worker that comes back under the same name
    with Recorder(campaign, executor, loop) as recorder:
        while True:
            recorder.check()
            counts = campaign.storage.count_trials(campaign.id)
            finished = queried_count(counts)
            budget = campaign._stored_budget()  # a run started later with a larger --budget extends ours
            in_flight = recorder.in_flight
            if finished >= budget and not in_flight:
                return
            room = pending_cap - in_flight
            trials: list[TrialRecord] = []
            proposed = False
            if room > 0 and finished < budget:
                trials = campaign.storage.claim_trials(campaign.id, campaign.worker, grace_seconds, limit=room,
                                                       resume_own=resume_own)
                resume_own = False
                if not trials:
                    n = min(room, campaign.settings.batch_size, budget - finished - campaign._outstanding(counts))
                    trials = [] if n <= 0 else campaign._propose_as_the_one_proposer(n, budget, grace_seconds,
                                                                                      loop.heart)
                    proposed = bool(trials)
                recorder.submit(trials)
            if proposed:
                loop.say(campaign.round_summary(trials[0].round, budget))
            if not trials:
                recorder.wait(IDLE_POLL_S)


__all__ = ["Recorder", "run_with_executor"]
