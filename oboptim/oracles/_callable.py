"""A Python function as an oracle: ``fn(x [B, *sample_shape] numpy) -> Sequence[float]`` of length ``B``.

A NaN or inf marks that trial failed; an exception fails the whole batch with ``"TypeName: message"`` as the reason, as
a transient failure (the campaign asks again after a pause).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from oboptim.oracles._base import Oracle, Outcome, check_batch, describe_exception, outcomes_from_values


class CallableOracle(Oracle):
    """Wraps ``fn(x [B, *sample_shape]) -> B values``.

    ``fn`` gets a copy of the batch, so it may modify its argument without touching the campaign's candidates.

    Example::

        oracle = CallableOracle(lambda x: -(x**2).sum(axis=1), name="neg_sq_norm")
        oracle.evaluate([3, 4], np.array([[1.0, 2.0], [0.0, 0.5]]))   # values -5.0 and -0.25
    """

    def __init__(self, fn: Callable[[np.ndarray], Sequence[float]], name: str | None = None) -> None:
        if not callable(fn):
            raise TypeError(f"CallableOracle needs a callable, got {type(fn).__name__}")
        self.fn = fn
        self.name = name or _callable_name(fn)

    def evaluate(self, trial_ids: Sequence[int], xs: np.ndarray) -> list[Outcome]:
        ids, xs = check_batch(trial_ids, xs)
        if not ids:
            return []
        try:
            values = self.fn(xs.copy())
        except Exception as exc:  # the user's function failed: the whole batch fails with its message
            return [Outcome.failure(describe_exception(exc), transient=True)] * len(ids)
        return outcomes_from_values(values, len(ids))


def _callable_name(fn: Callable) -> str:
    """``module:qualname`` where the function has them, else its type's name."""
    qualname = getattr(fn, "__qualname__", None)
    module = getattr(fn, "__module__", None)
    if qualname and module:
        return f"{module}:{qualname}"
    return qualname or type(fn).__name__
