"""Sample-quality metrics: the 2-Wasserstein distance between point sets, on random subsets.

For two sets of ``n`` points with uniform weights, the optimal transport plan is a permutation (Birkhoff's theorem:
the extreme points of the doubly stochastic matrices are permutations), so the exact

    W2(a, b) = sqrt( min_σ (1/n) Σ_i |a_i - b_σ(i)|^2 )

is a linear assignment problem, solved here with :func:`scipy.optimize.linear_sum_assignment`. That is cubic in ``n``,
so distributions are compared on random subsets (500 points, 10 repeats, as in the DAS paper's toy experiments).
Because a finite sample is never at distance 0 from its own distribution, always report the *noise floor* next to
it: the same statistic between two independent samples of the reference itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from oboptim.errors import OboptimError


class WassersteinSummary(NamedTuple):
    """Mean and standard deviation of W2 over repeats, and the per-repeat values ``[repeats]``."""

    mean: float
    std: float
    values: np.ndarray


def _as_points(x: np.ndarray | torch.Tensor) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().double().numpy()
    x = np.asarray(x, dtype=np.float64)
    return x.reshape(x.shape[0], -1)


def wasserstein2(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> float:
    """Exact W2 between two equal-size point sets with uniform weights (optimal transport is then an assignment).

    Args:
        a: ``[n, d]`` points (extra trailing dims are flattened).
        b: ``[n, d]`` points.
    Returns:
        ``sqrt(min over permutations of the mean squared distance)``.
    """
    a, b = _as_points(a), _as_points(b)
    if a.shape != b.shape:
        raise OboptimError(f"wasserstein2 needs equal-size sets of equal dimension; got {a.shape} and {b.shape}")
    cost = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
    rows, cols = linear_sum_assignment(cost)
    return float(np.sqrt(cost[rows, cols].mean()))


def _random_subset(x: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    if len(x) < size:
        raise OboptimError(f"need at least {size} points for a {size}-point subset, got {len(x)}: draw more samples")
    return x[rng.choice(len(x), size=size, replace=False)]


def _summary(values: list[float]) -> WassersteinSummary:
    arr = np.asarray(values)
    return WassersteinSummary(float(arr.mean()), float(arr.std(ddof=1)) if len(arr) > 1 else 0.0, arr)


def subset_wasserstein(
    samples: np.ndarray | torch.Tensor,
    reference: np.ndarray | torch.Tensor,
    *,
    subset: int = 500,
    repeats: int = 10,
    rng: np.random.Generator,
) -> WassersteinSummary:
    """W2 between random ``subset``-point subsets of ``samples [n, d]`` and ``reference [m, d]``, over ``repeats``."""
    samples, reference = _as_points(samples), _as_points(reference)
    values = [
        wasserstein2(_random_subset(samples, subset, rng), _random_subset(reference, subset, rng))
        for _ in range(repeats)
    ]
    return _summary(values)


def noise_floor(
    reference_sampler: Callable[[int, np.random.Generator], np.ndarray],
    *,
    subset: int = 500,
    repeats: int = 10,
    rng: np.random.Generator,
) -> WassersteinSummary:
    """W2 between two independent ``subset``-point draws of the reference itself: the best a perfect sampler scores.

    Args:
        reference_sampler: ``(n, rng) -> [n, d]`` exact samples (e.g. ``Task.sample_data`` or ``Task.exact_target``).
    """
    values = [wasserstein2(reference_sampler(subset, rng), reference_sampler(subset, rng)) for _ in range(repeats)]
    return _summary(values)
