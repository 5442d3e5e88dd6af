"""``process:N``: evaluate trials on N local worker processes (fresh interpreters, so torch and CUDA stay sane).

The workers belong to the driver (``oboptim run``): they ignore Ctrl-C and SIGTERM sent to the whole process group
(the driver records what came back, then kills them, so no worker prints a traceback), and each one exits within
half a second once the driver is gone, even after ``kill -9`` (:func:`oboptim.oracles._lifeline.die_with_parent`);
an oracle worker or command each of them started is on a lifeline to it, and goes too.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import numpy as np

from oboptim._registry import EXECUTORS
from oboptim.executors._base import Executor, ExecutorError, OracleRecipe, evaluate_one
from oboptim.oracles._outcome import Outcome


def _worker_started(driver_pid: int) -> None:
    """A pool worker's initializer: leave interrupts to the driver, and never outlive it."""
    from oboptim.oracles._lifeline import die_with_parent

    for signum in (signal.SIGINT, signal.SIGTERM):
        # a handler, not SIG_IGN: what the worker starts (an oracle command) gets the default disposition back
        signal.signal(signum, lambda signum, frame: None)
    die_with_parent(driver_pid)


class ProcessExecutor(Executor):
    """``slots`` worker processes; each builds the oracle once and evaluates one trial at a time.

    A worker that dies (a crash in the oracle, an out-of-memory kill) fails only the trial it was evaluating, with a
    transient error; the pool is rebuilt for the next submissions. :meth:`submit` and :meth:`done` may be called
    from different threads: each evaluation that ends is queued by a callback of its future, and ``done`` takes from
    that queue.
    """

    def __init__(self, slots: int) -> None:
        super().__init__()
        if slots < 1:
            raise ExecutorError(f"process:N needs N >= 1 worker processes; got {slots}")
        self.slots = int(slots)
        self._pool: ProcessPoolExecutor | None = None
        self._recipe: OracleRecipe | None = None
        self._lock = threading.Lock()
        self._submitted: set[int] = set()  # not yet handed out by done()
        self._finished: queue.SimpleQueue[tuple[int, Future]] = queue.SimpleQueue()

    def start(self, recipe: OracleRecipe) -> None:
        self._recipe = recipe
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.slots, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_worker_started, initargs=(os.getpid(),))

    def submit(self, trial_id: int, x: np.ndarray) -> None:
        if self._pool is None:
            raise RuntimeError("start the executor before submitting")
        trial_id, x = int(trial_id), np.asarray(x)
        with self._lock:
            self._submitted.add(trial_id)
        try:
            future = self._pool.submit(evaluate_one, self._recipe, trial_id, x)
        except BrokenProcessPool:
            self._pool = self._new_pool()
            future = self._pool.submit(evaluate_one, self._recipe, trial_id, x)
        future.add_done_callback(lambda future: self._finished.put((trial_id, future)))

    def done(self, timeout: float) -> list[tuple[int, Outcome]]:
        with self._lock:
            if not self._submitted:
                return []
        try:
            finished = [self._finished.get(timeout=timeout) if timeout > 0 else self._finished.get_nowait()]
        except queue.Empty:
            return []
        while True:
            try:
                finished.append(self._finished.get_nowait())
            except queue.Empty:
                break
        results = []
        for trial_id, future in finished:
            try:
                _, outcome, seconds = future.result()
                self.busy_seconds += seconds
            except BrokenProcessPool as exc:
                outcome = Outcome.failure(f"the oracle's worker process died: {exc}", transient=True)
            results.append((trial_id, outcome))
        with self._lock:
            self._submitted.difference_update(trial_id for trial_id, _ in results)
        return results

    @property
    def in_flight(self) -> set[int]:
        with self._lock:
            return set(self._submitted)

    def close(self) -> None:
        if self._pool is not None:
            for process in list((getattr(self._pool, "_processes", None) or {}).values()):
                process.kill()  # what is still running dies with the run; its trials go back to waiting
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        with self._lock:
            self._submitted.clear()
        while not self._finished.empty():
            self._finished.get_nowait()


@EXECUTORS.implements("process")
def process_executor(argument: str | None) -> ProcessExecutor:
    """``process:N`` (default N: 4)."""
    try:
        return ProcessExecutor(int(argument) if argument else 4)
    except ValueError:
        raise ExecutorError(f"process:N needs a number of worker processes; got {argument!r}") from None


__all__ = ["ProcessExecutor"]
