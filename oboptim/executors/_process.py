"""``process:N``: evaluate trials on N local worker processes (fresh interpreters, so torch and CUDA stay sane)."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

import numpy as np

from oboptim._registry import EXECUTORS
from oboptim.executors._base import Executor, ExecutorError, OracleRecipe, evaluate_one
from oboptim.oracles._outcome import Outcome


class ProcessExecutor(Executor):
    """``slots`` worker processes; each builds the oracle once and evaluates one trial at a time.

    A worker that dies (a crash in the oracle, an out-of-memory kill) fails only the trial it was evaluating, with a
    transient error; the pool is rebuilt for the next submissions.
    """

    def __init__(self, slots: int) -> None:
        super().__init__()
        if slots < 1:
            raise ExecutorError(f"process:N needs N >= 1 worker processes; got {slots}")
        self.slots = int(slots)
        self._pool: ProcessPoolExecutor | None = None
        self._recipe: OracleRecipe | None = None
        self._futures: dict[Future, int] = {}

    def start(self, recipe: OracleRecipe) -> None:
        self._recipe = recipe
        self._pool = ProcessPoolExecutor(self.slots, mp_context=multiprocessing.get_context("spawn"))

    def submit(self, trial_id: int, x: np.ndarray) -> None:
        if self._pool is None:
            raise RuntimeError("start the executor before submitting")
        try:
            future = self._pool.submit(evaluate_one, self._recipe, int(trial_id), np.asarray(x))
        except BrokenProcessPool:
            self._pool = ProcessPoolExecutor(self.slots, mp_context=multiprocessing.get_context("spawn"))
            future = self._pool.submit(evaluate_one, self._recipe, int(trial_id), np.asarray(x))
        self._futures[future] = int(trial_id)

    def done(self, timeout: float) -> list[tuple[int, Outcome]]:
        if not self._futures:
            return []
        finished, _ = wait(list(self._futures), timeout=timeout, return_when=FIRST_COMPLETED)
        results = []
        for future in finished:
            trial_id = self._futures.pop(future)
            try:
                _, outcome, seconds = future.result()
                self.busy_seconds += seconds
            except BrokenProcessPool as exc:
                outcome = Outcome.failure(f"the oracle's worker process died: {exc}", transient=True)
            results.append((trial_id, outcome))
        return results

    @property
    def in_flight(self) -> set[int]:
        return set(self._futures.values())

    def close(self) -> None:
        if self._pool is not None:
            for process in list(getattr(self._pool, "_processes", {}).values()):
                process.kill()  # what is still running dies with the run; its trials go back to waiting
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._futures.clear()


@EXECUTORS.implements("process")
def process_executor(argument: str | None) -> ProcessExecutor:
    """``process:N`` (default N: 4)."""
    try:
        return ProcessExecutor(int(argument) if argument else 4)
    except ValueError:
        raise ExecutorError(f"process:N needs a number of worker processes; got {argument!r}") from None


__all__ = ["ProcessExecutor"]
