"""Acquisitions as rewards for the SMC sampler: ``x [B, *domain_shape] -> [B]`` float32, differentiable in ``x``.

The sampler draws candidates from ``p_prior(x) exp(a(x) / alpha)`` (shared/REFERENCE.md §4), where ``a`` composes a
feature map and a fitted surrogate's posterior (mean ``m``, standard deviation ``s``):

- ``ucb``: ``m + beta * s``, optimism in the face of uncertainty;
- ``mean``: ``m``, pure exploitation;
- ``thompson``: one posterior sample path, drawn once when the acquisition is made;
- ``logei``: ``log E[max(f - best_f, 0)]``, computed with BoTorch's stable log-EI so that it stays finite (and has
  useful gradients) far from the data, where plain EI underflows to 0;
- ``maxhead``: the largest prediction over an ensemble's heads (optimism of bootstrap ensembles, as in SEIKO).

Example:
    >>> acquisition = make_acquisition("ucb", fitted_gp, features=IdentityFeatures(), beta=2.0)
    >>> rewards = acquisition(candidates)   # [B]
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from botorch.acquisition.analytic import _log_ei_helper
from torch import Tensor

from oboptim.errors import OboptimError
from oboptim.surrogates.base import Surrogate
from oboptim.surrogates.features import FeatureMap, features_of

ACQUISITIONS = ("ucb", "mean", "thompson", "logei", "maxhead")

# log-EI: standard deviations below this fraction of the values' spread carry no information and would make
# (mean - best_f) / std, and the gradients, astronomically large.
LOGEI_RELATIVE_STD_FLOOR = 1e-6

# Below this the square root's derivative, 1 / (2 sqrt(v)), would overflow float32.
VARIANCE_FLOOR = 1e-30

FeatureScore = Callable[[Tensor], Tensor]


class AcquisitionError(OboptimError, ValueError):
    """An unknown acquisition name, or one that the surrogate or the arguments cannot support."""


class Acquisition:
    """A named reward ``x [B, *domain_shape] -> [B]`` (float32): ``score(features(x))``.

    Attributes:
        name: one of ``ACQUISITIONS``.
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


def make_acquisition(name: str, surrogate: Surrogate, *, features: FeatureMap, beta: float = 2.0,
                     best_f: float | None = None, generator: torch.Generator | None = None) -> Acquisition:
    """Build the acquisition ``name`` on a fitted ``surrogate``.

    Args:
        name: one of ``ACQUISITIONS``.
        surrogate: a fitted surrogate (possibly conditioned on pending points).
        features: the feature map the surrogate was fitted on.
        beta: UCB exploration weight on the standard deviation.
        best_f: log-EI incumbent; defaults to the best training value.
        generator: required for ``thompson`` (the path is drawn from it once, here).
    """
    surrogate.check_fitted()
    builders = {"ucb": lambda: upper_confidence_bound(surrogate, beta),
                "mean": lambda: posterior_mean(surrogate),
                "thompson": lambda: thompson_sample(surrogate, generator),
                "logei": lambda: log_expected_improvement(surrogate, best_f),
                "maxhead": lambda: max_over_heads(surrogate)}
    if name not in builders:
        raise AcquisitionError(f"unknown acquisition {name!r}: choose one of {', '.join(ACQUISITIONS)}")
    return Acquisition(name, surrogate, features, builders[name]())


def upper_confidence_bound(surrogate: Surrogate, beta: float) -> FeatureScore:
    """``[B, F] -> [B]``: ``mean + beta * std``."""

    def ucb(features: Tensor) -> Tensor:
        mean, variance = surrogate.posterior(features)
        return mean + beta * _safe_sqrt(variance)

    return ucb


def posterior_mean(surrogate: Surrogate) -> FeatureScore:
    """``[B, F] -> [B]``: the posterior mean."""
    return lambda features: surrogate.posterior(features)[0]


def thompson_sample(surrogate: Surrogate, generator: torch.Generator | None) -> FeatureScore:
    """``[B, F] -> [B]``: one posterior sample path, drawn now from ``generator``."""
    if generator is None:
        raise AcquisitionError("the thompson acquisition needs a generator: pass generator=torch.Generator()")
    return surrogate.sample_path(generator)


def log_expected_improvement(surrogate: Surrogate, best_f: float | None) -> FeatureScore:
    """``[B, F] -> [B]``: ``log EI`` over ``best_f`` (default: the best training value), in float64 inside."""
    train_y = surrogate.train_y
    incumbent = float(train_y.max()) if best_f is None else float(best_f)
    spread = float(train_y.std()) if train_y.numel() > 1 else 0.0
    std_floor = LOGEI_RELATIVE_STD_FLOOR * (spread if spread > 0 else max(abs(incumbent), 1.0))

    def logei(features: Tensor) -> Tensor:
        mean, variance = surrogate.posterior(features)
        std = _safe_sqrt(variance.to(torch.float64)).clamp_min(std_floor)
        standardized_improvement = (mean.to(torch.float64) - incumbent) / std
        return _log_ei_helper(standardized_improvement) + std.log()

    return logei


def max_over_heads(surrogate: Surrogate) -> FeatureScore:
    """``[B, F] -> [B]``: the largest head's prediction; needs a surrogate with ``heads(X) -> [K, ...]``."""
    heads = getattr(surrogate, "heads", None)
    if not callable(heads):
        raise AcquisitionError(f"the maxhead acquisition needs an ensemble surrogate with heads, not "
                               f"{type(surrogate).__name__}: use the ensemble surrogate or another acquisition")
    return lambda features: heads(features).max(dim=0).values


def _safe_sqrt(variance: Tensor) -> Tensor:
    """sqrt with a finite gradient at zero variance (clamped values get zero gradient)."""
    return variance.clamp_min(VARIANCE_FLOOR).sqrt()


__all__ = ["ACQUISITIONS", "Acquisition", "AcquisitionError", "make_acquisition"]
