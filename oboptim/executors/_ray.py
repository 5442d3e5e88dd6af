"""``ray``: evaluate trials as Ray tasks, on a local Ray (``ray`` or ``ray:N`` CPUs) or a cluster (``ray://HOST:PORT``).

Ray is an optional dependency (``pip install 'oboptim[ray]'``). Each trial is one Ray task; a worker builds the
campaign's oracle once (per worker process) from the picklable :class:`OracleRecipe`. Ray re-runs a task whose worker
died; if the driver (``oboptim run``) or the cluster dies, the trials it held come back in the database when their
heartbeat stops, and a resumed run submits them again.

A local Ray started by the driver goes with it even after ``kill -9`` (Ray's own fate sharing): measured with
``ray:2``, 9 of its 11 processes exit within 2 s, its dashboard and runtime-env agents about a minute later.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from oboptim._registry import EXECUTORS
from oboptim.executors._base import Executor, ExecutorError, OracleRecipe, evaluate_one
from oboptim.oracles._outcome import Outcome


class RayExecutor(Executor):
    """Trials as Ray tasks: ``slots`` of them at once (the cluster's CPUs, or ``num_cpus`` for a local Ray)."""

    def __init__(self, address: str | None = None, num_cpus: int | None = None) -> None:
        super().__init__()
        try:
            import ray
        except ImportError:
            raise ExecutorError("--executor ray needs Ray: pip install 'oboptim[ray]' (or pip install ray)") from None
        self._ray = ray
        self.address, self.num_cpus = address, num_cpus
        self._started_here = False
        self._refs: dict[Any, int] = {}  # submitted, not yet handed out by done() (submit and done may be two threads)
        self._lock = threading.Lock()
        self._remote = None
        self._recipe_ref = None

    def start(self, recipe: OracleRecipe) -> None:
        ray = self._ray
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if self.address:
                kwargs["address"] = self.address
            elif self.num_cpus:
                kwargs["num_cpus"] = self.num_cpus
            ray.init(**kwargs)
            self._started_here = True
        self.slots = max(1, int(ray.cluster_resources().get("CPU", 1)))
        self._remote = ray.remote(num_cpus=1, max_retries=2)(evaluate_one)
        self._recipe_ref = ray.put(recipe)

    def submit(self, trial_id: int, x: np.ndarray) -> None:
        ref = self._remote.remote(self._recipe_ref, int(trial_id), np.asarray(x))
        with self._lock:
            self._refs[ref] = int(trial_id)

    def done(self, timeout: float) -> list[tuple[int, Outcome]]:
        with self._lock:
            refs = list(self._refs)
        if not refs:
            return []
        ready, _ = self._ray.wait(refs, num_returns=1, timeout=timeout)
        if ready:  # collect everything else already finished too
            ready, _ = self._ray.wait(refs, num_returns=len(refs), timeout=0)
        results = []
        for ref in ready:
            with self._lock:
                trial_id = self._refs.pop(ref)
            try:
                _, outcome, seconds = self._ray.get(ref)
                self.busy_seconds += seconds
            except Exception as exc:  # the task failed for good (its worker died more than Ray retries)
                outcome = Outcome.failure(f"the Ray task failed: {type(exc).__name__}: {exc}", transient=True)
            results.append((trial_id, outcome))
        return results

    @property
    def in_flight(self) -> set[int]:
        with self._lock:
            return set(self._refs.values())

    def close(self) -> None:
        with self._lock:
            refs, self._refs = list(self._refs), {}
        for ref in refs:
            self._ray.cancel(ref, force=True)
        if self._started_here and self._ray.is_initialized():
            self._ray.shutdown()
            self._started_here = False


@EXECUTORS.implements("ray")
def ray_executor(argument: str | None) -> RayExecutor:
    """``ray`` (a local Ray with every CPU), ``ray:N`` (a local Ray with N CPUs) or ``ray://HOST:PORT``."""
    if argument and argument.startswith("//"):
        return RayExecutor(address=f"ray:{argument}")
    try:
        return RayExecutor(num_cpus=int(argument) if argument else None)
    except ValueError:
        raise ExecutorError(f"ray:N needs a number of CPUs, or use ray://HOST:PORT; got ray:{argument}") from None


__all__ = ["RayExecutor"]
