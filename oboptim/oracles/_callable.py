"""A Python function as an oracle: ``fn(x [B, *sample_shape] numpy) -> Sequence[float]`` of length ``B``.

A NaN or inf marks that trial failed; an exception fails the whole batch with ``"TypeName: message"`` as the reason, as
a transient failure (the campaign asks again after a pause).

With a ``timeout`` the function runs in a worker process (:mod:`oboptim.oracles._worker`), which is killed when a
batch takes longer, failing that batch's trials with "timed out after N s". The worker imports the function by
name, so it must be defined at the top level of a module or a ``.py`` file (what ``--oracle module:function`` and
``--oracle path/to/file.py:function`` name); a lambda, a closure or a method cannot be timed out, and asking for it
is an error. Without a timeout (the default) the function runs in this process, at no cost.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from oboptim.oracles._base import Oracle, check_batch, describe_exception, outcomes_from_values
from oboptim.oracles._outcome import Outcome
from oboptim.oracles._worker import FunctionWorker

USER_MODULE_PREFIX = "_oboptim_user_"  # how oboptim._specs names a module it loaded from a .py file


class CallableOracle(Oracle):
    """Wraps ``fn(x [B, *sample_shape]) -> B values``.

    ``fn`` gets a copy of the batch, so it may modify its argument without touching the campaign's candidates.

    Args:
        fn: the function.
        name: shown in logs (default ``module:qualname``).
        timeout: seconds a batch may take; ``fn`` then runs in a worker process that is killed past it (see the
            module docstring). ``None``: in this process, without a limit.
        spec: how the worker imports ``fn`` (``module:NAME`` or ``/abs/path/file.py:NAME``); by default found from
            ``fn`` itself.

    Raises:
        ValueError: a timeout for a function that cannot be imported by name.

    Example::

        oracle = CallableOracle(lambda x: -(x**2).sum(axis=1), name="neg_sq_norm")
        oracle.evaluate([3, 4], np.array([[1.0, 2.0], [0.0, 0.5]]))   # values -5.0 and -0.25
        with CallableOracle(my_lab.assay, timeout=30.0) as timed:       # a module-level function
            timed.evaluate([5], np.zeros((1, 2)))
    """

    def __init__(self, fn: Callable[[np.ndarray], Sequence[float]], name: str | None = None, *,
                 timeout: float | None = None, spec: str | None = None) -> None:
        if not callable(fn):
            raise TypeError(f"CallableOracle needs a callable, got {type(fn).__name__}")
        if timeout is not None and not timeout > 0:
            raise ValueError(f"CallableOracle's timeout must be positive or None, got {timeout}")
        self.fn = fn
        self.name = name or _callable_name(fn)
        self.timeout = timeout
        self._worker: FunctionWorker | None = None
        if timeout is not None:
            spec = spec or importable_spec(fn)
            if spec is None:
                raise ValueError(f"a timeout runs the oracle in a worker process, which imports it by name, but "
                                 f"{self.name} is not a top-level function of a module or file: define it at the top "
                                 "level, or pass timeout=None to run it in this process without one")
            self._worker = FunctionWorker(spec)

    def evaluate(self, trial_ids: Sequence[int], xs: np.ndarray) -> list[Outcome]:
        ids, xs = check_batch(trial_ids, xs)
        if not ids:
            return []
        if self._worker is not None:
            return self._worker.call(xs, self.timeout)
        try:
            values = self.fn(xs.copy())
        except Exception as exc:  # the user's function failed: the whole batch fails with its message
            return [Outcome.failure(describe_exception(exc), transient=True)] * len(ids)
        return outcomes_from_values(values, len(ids))

    def close(self) -> None:
        """Stop the worker process, if there is one."""
        if self._worker is not None:
            self._worker.close()


def importable_spec(fn: Callable) -> str | None:
    """``module:NAME`` or ``/abs/path/file.py:NAME`` that imports ``fn`` in a fresh process; None if there is none."""
    module_name = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None)
    module = sys.modules.get(module_name or "")
    if module is None or not qualname or "." in qualname or "<" in qualname or module_name == "__main__":
        return None  # a method, a lambda, a closure, or the parent's own script
    if getattr(module, qualname, None) is not fn:
        return None
    if module_name.startswith(USER_MODULE_PREFIX):
        return f"{Path(module.__file__).resolve()}:{qualname}"
    return f"{module_name}:{qualname}"


def _callable_name(fn: Callable) -> str:
    """``module:qualname`` where the function has them, else its type's name."""
    qualname = getattr(fn, "__qualname__", None)
    module = getattr(fn, "__module__", None)
    if qualname and module:
        return f"{module}:{qualname}"
    return qualname or type(fn).__name__
