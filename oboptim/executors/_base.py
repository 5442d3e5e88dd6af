"""Executors: evaluate trials asynchronously, each as soon as it is proposed, while the campaign proposes more.

The blocking loop (no executor) asks a batch, evaluates it as one call, tells, and only then proposes again: nothing
is proposed while the slowest evaluation of the batch runs. With an executor, :meth:`oboptim.Campaign.run` submits
each trial on its own, records each outcome the moment it returns, and keeps up to ``max_pending`` trials in flight by
proposing new ones conditioned on those still pending (the surrogate already accounts for pending points).

An executor evaluates on other processes (``process:N``) or machines (``ray``), so it cannot be handed the campaign's
oracle object: it gets an :class:`OracleRecipe`, from which each worker builds the same oracle once. The database stays
the source of truth: a trial in flight is a running trial held (and heartbeated) by the campaign's process, so if that
process or a worker dies, the trial is re-queued and a resumed run submits it again; nothing finished is lost.

Protocol (a new kind is one class registered in ``EXECUTORS``):

- ``slots``: how many evaluations run at once;
- ``submit(trial_id, x)``: start evaluating one candidate ``x [*shape]``;
- ``done(timeout)``: the ``(trial_id, Outcome)`` pairs finished since the last call, waiting up to ``timeout`` seconds
  for at least one;
- ``in_flight``: the trial ids submitted and not yet returned by ``done``;
- ``close()``: stop, killing what is still running.

``submit`` is called by the campaign's main thread, which proposes, and ``done`` by its recorder thread, which stores
each outcome within moments of its return however long a proposal takes (:mod:`oboptim._async_loop`): an executor
must allow that (a lock around its bookkeeping).
"""

from __future__ import annotations

import pickle
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from oboptim.errors import OboptimError
from oboptim.oracles._outcome import Outcome


class ExecutorError(OboptimError):
    """An executor spec that names no executor, or an oracle that cannot run on one."""


@dataclass(frozen=True)
class OracleRecipe:
    """How a worker process builds the campaign's oracle (everything picklable).

    Attributes:
        spec: what ``--oracle`` said (a string), or a picklable callable or :class:`~oboptim.oracles.Oracle`, or
            None for the task's own oracle.
        command: ``--oracle-cmd``, or None.
        timeout: the oracle timeout, seconds.
        task: the campaign's task spec, to rebuild the task's own and named oracles.
        task_options: the task's options.
        retries, batch_retries, backoff: as :func:`~oboptim.oracles.evaluate_with_retries` takes them.
    """

    spec: Any = None
    command: str | None = None
    timeout: float = 60.0
    task: str | None = None
    task_options: Mapping[str, Any] = field(default_factory=dict)
    retries: int = 0
    batch_retries: int = 2
    backoff: float = 1.0

    def build(self):
        """The oracle this recipe describes (loading the task only when the oracle needs it)."""
        from oboptim._task import load_task
        from oboptim.oracles._context import OracleContext
        from oboptim.oracles._resolve import resolve_oracle

        needs_task = self.command is None and (self.spec is None or isinstance(self.spec, str))
        task = load_task(self.task, self.task_options) if needs_task and self.task else None
        return resolve_oracle(self.spec, OracleContext(task=task, timeout=self.timeout), command=self.command)


_ORACLES: dict[bytes, Any] = {}  # one built oracle per recipe (by its pickle), per worker process


def evaluate_one(recipe: OracleRecipe, trial_id: int, x: np.ndarray) -> tuple[int, Outcome, float]:
    """In a worker: ``(trial_id, outcome, seconds)`` of one candidate, building the recipe's oracle once."""
    from oboptim.oracles._retry import evaluate_with_retries

    key = pickle.dumps(recipe)
    oracle = _ORACLES.get(key)
    if oracle is None:
        oracle = _ORACLES[key] = recipe.build()
    started = time.perf_counter()
    (outcome,) = evaluate_with_retries(oracle, [trial_id], np.asarray(x)[None], recipe.retries,
                                       batch_retries=recipe.batch_retries, backoff_s=recipe.backoff)
    return trial_id, outcome, time.perf_counter() - started


class Executor(ABC):
    """Evaluates trials asynchronously; see the module docstring for the protocol."""

    slots: int = 1

    def __init__(self) -> None:
        self.busy_seconds = 0.0  # summed evaluation time of the returned trials (for utilisation)

    @abstractmethod
    def start(self, recipe: OracleRecipe) -> None:
        """Prepare the workers for ``recipe`` (called once, before the first submit)."""

    @abstractmethod
    def submit(self, trial_id: int, x: np.ndarray) -> None:
        """Start evaluating candidate ``x [*shape]`` of trial ``trial_id``."""

    @abstractmethod
    def done(self, timeout: float) -> list[tuple[int, Outcome]]:
        """The evaluations finished since the last call, waiting up to ``timeout`` s for at least one."""

    @property
    @abstractmethod
    def in_flight(self) -> set[int]:
        """Trial ids submitted and not yet returned by :meth:`done`."""

    @abstractmethod
    def close(self) -> None:
        """Stop the workers, killing evaluations still running."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def check_oracle_can_travel(oracle: Any) -> None:
    """:class:`ExecutorError` for an oracle that asks a person (an oracle kind such as ``human``): it answers in the
    driver's process, never on an executor's workers."""
    from oboptim._registry import ORACLE_KINDS

    if isinstance(oracle, str) and oracle in ORACLE_KINDS:
        raise ExecutorError(f"--oracle {oracle} asks a person, in this process: run it without --executor")


def parse_executor(spec: str | Executor | None) -> Executor | None:
    """An executor from ``process:N``, ``ray``, ``ray:N`` (N local CPUs) or ``ray://HOST:PORT``; None stays None."""
    from oboptim._registry import EXECUTORS

    if spec is None or isinstance(spec, Executor):
        return spec
    text = str(spec).strip()
    kind, _, argument = text.partition(":")
    if kind not in EXECUTORS:
        raise ExecutorError(f"unknown executor {text!r}: use process:N, ray, ray:N or ray://HOST:PORT "
                            f"(kinds: {', '.join(EXECUTORS.names())})")
    return EXECUTORS.get(kind)(argument or None)


__all__ = ["Executor", "ExecutorError", "OracleRecipe", "check_oracle_can_travel", "evaluate_one", "parse_executor"]
