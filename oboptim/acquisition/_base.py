"""Acquisitions as rewards for the SMC sampler: ``x [B, *domain_shape] -> [B]`` float32, differentiable in ``x``.

The sampler draws candidates from ``p_prior(x) exp(a(x) / alpha)``, where ``a`` composes a feature map and a fitted
surrogate's posterior. Each kind of :data:`ACQUISITIONS` is a builder ``(surrogate, options) -> score``, where
``score`` maps features ``[B, F]`` to ``[B]``; :func:`make_acquisition` looks the kind up and wraps the score with the
feature map. The built-in kinds (``ucb``, ``mean``, ``thompson``, ``logei``, ``maxhead``) are in
``oboptim/acquisition/_builtins.py``; a new one is one function::

    @ACQUISITIONS.register("lcb", help="mean - beta * std (pessimism)")
    def lower_confidence_bound(surrogate, options):
        def score(features):
            mean, variance = surrogate.posterior(features)
            return mean - options.beta * variance.clamp_min(1e-30).sqrt()
        return score

A builder whose score does not change with the surrogate's pending points (the posterior mean; a sample path, drawn
once per round) says so with :func:`ignores_pending`; the ``sequential`` selection then takes the batch best-first
instead of re-scoring it on the surrogate told of each pick.

Example:
    >>> acquisition = make_acquisition("ucb", fitted_gp, features=IdentityFeatures(), beta=2.0)
    >>> rewards = acquisition(candidates)   # [B]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from oboptim._registry import ACQUISITIONS
from oboptim.errors import OboptimError
from oboptim.surrogates._base import Surrogate
from oboptim.surrogates._features import FeatureMap, features_of

FeatureScore = Callable[[Tensor], Tensor]


class AcquisitionError(OboptimError, ValueError):
    """An unknown acquisition name, or one that the surrogate or the arguments cannot support."""


@dataclass(frozen=True)
class AcquisitionOptions:
    """What acquisition builders may read besides the surrogate.

    Attributes:
        beta: UCB's exploration weight on the standard deviation.
        best_f: the incumbent for improvement-based kinds (default: the best training value).
        generator: randomness drawn when the acquisition is built (a Thompson sample path).
    """

    beta: float = 2.0
    best_f: float | None = None
    generator: torch.Generator | None = None


AcquisitionBuilder = Callable[[Surrogate, AcquisitionOptions], "FeatureScore"]


class Acquisition:
    """A named reward ``x [B, *domain_shape] -> [B]`` (float32): ``score(features(x))``.

    Attributes:
        name: a kind of :data:`ACQUISITIONS`.
        surrogate: the fitted surrogate it reads.
        features: the feature map applied to candidates.
    """

    def __init__(self, name: str, surrogate: Surrogate, features: FeatureMap, score: FeatureScore) -> None:
        self.name, self.surrogate, self.features, self._score = name, surrogate, features, score

    def __call__(self, x: Tensor) -> Tensor:
        return self._score(features_of(self.features, x)).to(torch.float32)

    def on_features(self, features: Tensor) -> Tensor:
        """The same acquisition on precomputed features ``[B, F] -> [B]``."""
        return self._score(features).to(torch.float32)

    def __repr__(self) -> str:
        return f"Acquisition({self.name!r}, surrogate={type(self.surrogate).__name__}, features={self.features!r})"


def ignores_pending(builder: AcquisitionBuilder) -> AcquisitionBuilder:
    """Mark ``builder`` as one whose score does not change when the surrogate is conditioned on pending points."""
    builder.ignores_pending = True  # type: ignore[attr-defined]
    return builder


def reads_pending(name: str) -> bool:
    """Whether acquisition ``name``'s score changes when the surrogate is told of pending points (every kind not
    marked with :func:`ignores_pending`)."""
    return not getattr(ACQUISITIONS.get(name), "ignores_pending", False)


def make_acquisition(name: str, surrogate: Surrogate, *, features: FeatureMap, beta: float = 2.0,
                     best_f: float | None = None, generator: torch.Generator | None = None) -> Acquisition:
    """Build the acquisition ``name`` on a fitted ``surrogate``.

    Args:
        name: a kind of :data:`ACQUISITIONS`.
        surrogate: a fitted surrogate (possibly conditioned on pending points).
        features: the feature map the surrogate was fitted on.
        beta: UCB exploration weight on the standard deviation.
        best_f: log-EI incumbent; defaults to the best training value.
        generator: required for ``thompson`` (the path is drawn from it once, here).
    """
    surrogate.check_fitted()
    if name not in ACQUISITIONS:
        raise AcquisitionError(f"unknown acquisition {name!r}: choose one of {', '.join(ACQUISITIONS.names())}")
    builder: AcquisitionBuilder = ACQUISITIONS.get(name)
    score = builder(surrogate, AcquisitionOptions(beta=beta, best_f=best_f, generator=generator))
    return Acquisition(name, surrogate, features, score)


__all__ = ["Acquisition", "AcquisitionBuilder", "AcquisitionError", "AcquisitionOptions", "ignores_pending",
           "make_acquisition", "reads_pending"]


