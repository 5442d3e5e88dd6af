"""The built-in acquisitions, one builder each: ``(surrogate, options) -> score [B, F] -> [B]``.

- ``ucb``: ``m + beta * s``, optimism in the face of uncertainty;
- ``mean``: ``m``, pure exploitation;
- ``thompson``: one posterior sample path, drawn once when the acquisition is made;
- ``logei``: ``log E[max(f - best_f, 0)]``, computed with BoTorch's stable log-EI so that it stays finite (and has
  useful gradients) far from the data, where plain EI underflows to 0;
- ``maxhead``: the largest prediction over an ensemble's heads (optimism of bootstrap ensembles, as in SEIKO).
"""

from __future__ import annotations

import torch
from botorch.acquisition.analytic import _log_ei_helper
from torch import Tensor

from oboptim._registry import ACQUISITIONS
from oboptim.acquisition._base import AcquisitionError, AcquisitionOptions, FeatureScore, ignores_pending
from oboptim.surrogates._base import Surrogate

# log-EI: standard deviations below this fraction of the values' spread carry no information and would make
# (mean - best_f) / std, and the gradients, astronomically large.
LOGEI_RELATIVE_STD_FLOOR = 1e-6

# Below this the square root's derivative, 1 / (2 sqrt(v)), would overflow float32.
VARIANCE_FLOOR = 1e-30


@ACQUISITIONS.implements("ucb")
def upper_confidence_bound(surrogate: Surrogate, options: AcquisitionOptions) -> FeatureScore:
    """``[B, F] -> [B]``: ``mean + beta * std``."""
    beta = options.beta

    def ucb(features: Tensor) -> Tensor:
        mean, variance = surrogate.posterior(features)
        return mean + beta * _safe_sqrt(variance)

    return ucb


@ACQUISITIONS.implements("mean")
@ignores_pending
def posterior_mean(surrogate: Surrogate, options: AcquisitionOptions) -> FeatureScore:
    """``[B, F] -> [B]``: the posterior mean."""
    return lambda features: surrogate.posterior(features)[0]


@ACQUISITIONS.implements("thompson")
@ignores_pending  # the path is drawn once, from the posterior before any pick
def thompson_sample(surrogate: Surrogate, options: AcquisitionOptions) -> FeatureScore:
    """``[B, F] -> [B]``: one posterior sample path, drawn now from ``options.generator``."""
    generator = options.generator
    if generator is None:
        raise AcquisitionError("the thompson acquisition needs a generator: pass generator=torch.Generator()")
    return surrogate.sample_path(generator)


@ACQUISITIONS.implements("logei")
def log_expected_improvement(surrogate: Surrogate, options: AcquisitionOptions) -> FeatureScore:
    """``[B, F] -> [B]``: ``log EI`` over ``best_f`` (default: the best training value), in float64 inside."""
    best_f = options.best_f
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


@ACQUISITIONS.implements("maxhead")
def max_over_heads(surrogate: Surrogate, options: AcquisitionOptions) -> FeatureScore:
    """``[B, F] -> [B]``: the largest head's prediction; needs a surrogate with ``heads(X) -> [K, ...]``."""
    heads = getattr(surrogate, "heads", None)
    if not callable(heads):
        raise AcquisitionError(f"the maxhead acquisition needs an ensemble surrogate with heads, not "
                               f"{type(surrogate).__name__}: use the ensemble surrogate or another acquisition")
    return lambda features: heads(features).max(dim=0).values


def _safe_sqrt(variance: Tensor) -> Tensor:
    """sqrt with a finite gradient at zero variance (clamped values get zero gradient)."""
    return variance.clamp_min(VARIANCE_FLOOR).sqrt()
