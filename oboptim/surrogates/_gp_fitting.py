"""Robust type-II maximum-likelihood fitting of a BoTorch ``SingleTaskGP``.

``fit_gpytorch_mll`` (L-BFGS-B on the exact marginal log likelihood) can fail: the kernel matrix is not positive
definite for a bad step, the loss turns NaN, or the optimizer reports an abnormal stop. Tiny or degenerate data
(one point, duplicates, constant values) make this common. The campaign must go on all the same, so we:

1. fit from BoTorch's default initial hyperparameters;
2. on failure, refit from initial hyperparameters drawn log-uniformly from the caller's generator
   (BoTorch's own retry re-samples from the priors with the *global* RNG, which we must not touch, so it is off);
3. after ``1 + n_restarts`` failures, keep fixed, sensible hyperparameters and warn.

Everything runs in float64. The inputs are scaled to the unit cube by ``Normalize`` with fixed bounds and the
values standardized by ``Standardize``; the hyperparameters below are in those units.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass

import torch
from botorch.exceptions import InputDataWarning, ModelFittingError
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from botorch.models.transforms import Normalize, Standardize
from gpytorch import settings as gpytorch_settings
from gpytorch.constraints import GreaterThan
from gpytorch.kernels import RBFKernel
from gpytorch.mlls import ExactMarginalLogLikelihood
from gpytorch.priors import LogNormalPrior
from torch import Tensor

from oboptim.surrogates._base import SurrogateFitWarning

# Errors the optimizer or the linear algebra raise on a bad fit (NotPSDError and NanError are RuntimeErrors).
FIT_ERRORS = (ModelFittingError, RuntimeError, ValueError)

# Fallback hyperparameters, in unit-cube inputs and standardized values: a lengthscale a fifth of the data's range
# per unit of sqrt(F) (distances in the cube grow like sqrt(F)), and a small noise that still keeps the kernel
# matrix well conditioned with duplicates.
FALLBACK_LENGTHSCALE = 0.2
FALLBACK_NOISE = 1e-3
# Ranges of the log-uniform initial values for restarts (same units).
RESTART_LENGTHSCALE_RANGE = (0.05, 1.0)
RESTART_NOISE_RANGE = (1e-4, 1e-1)


@dataclass(frozen=True)
class GPFitSettings:
    """How hard to try: L-BFGS-B iterations per attempt, extra attempts, largest matrix solved by Cholesky."""

    maxiter: int = 50
    n_restarts: int = 2
    max_cholesky_size: int = 4096
    isotropic: bool = False  # one lengthscale for every feature (False: one per feature, ARD)


def input_bounds(X: Tensor) -> Tensor:
    """``[2, F]`` bounds of ``X [n, F]`` for ``Normalize``, padded by 0.5 where a feature is (nearly) constant."""
    lower, upper = X.min(dim=0).values, X.max(dim=0).values
    flat = (upper - lower) <= 1e-9 * (1.0 + lower.abs())
    pad = torch.where(flat, torch.full_like(lower, 0.5), torch.zeros_like(lower))
    return torch.stack([lower - pad, upper + pad])


def build_fit_model(X: Tensor, y: Tensor, bounds: Tensor, isotropic: bool = False) -> SingleTaskGP:
    """A fresh ``SingleTaskGP`` on ``X [n, F]``, ``y [n]`` (float64) with BoTorch's default priors; ``isotropic``
    shares one lengthscale between all features (with BoTorch's dimension-scaled prior on it)."""
    covar_module = isotropic_rbf_kernel(X.shape[-1]) if isotropic else None
    with warnings.catch_warnings():
        # Constant values standardize to zeros, which BoTorch flags; a flat posterior is the right answer there.
        warnings.simplefilter("ignore", InputDataWarning)
        return SingleTaskGP(X, y.unsqueeze(-1), input_transform=Normalize(d=X.shape[-1], bounds=bounds),
                            outcome_transform=Standardize(m=1), covar_module=covar_module)


def isotropic_rbf_kernel(dim: int) -> RBFKernel:
    """An RBF kernel with one lengthscale and BoTorch's prior for ``dim`` features (LogNormal, scaled by ``dim``).

    On one-hot features of sequences (squared distance twice the Hamming distance ``H``) it is the exponentiated
    Hamming kernel ``exp(-H / l^2)``."""
    prior = LogNormalPrior(loc=math.sqrt(2) + 0.5 * math.log(dim), scale=math.sqrt(3))
    return RBFKernel(lengthscale_prior=prior,
                     lengthscale_constraint=GreaterThan(2.5e-2, transform=None, initial_value=prior.mode))


def set_hyperparameters(model: SingleTaskGP, lengthscale: Tensor, noise: float, constant: float = 0.0) -> None:
    """Overwrite the kernel lengthscales ``[F]`` (or ``[1]``), the noise variance and the constant mean
    (standardized units)."""
    with torch.no_grad():
        shape = model.covar_module.lengthscale.shape
        model.covar_module.lengthscale = lengthscale.reshape(-1)[: shape[-1]].reshape(shape)
        model.likelihood.noise = torch.full_like(model.likelihood.noise, noise)
        model.mean_module.constant = torch.full_like(model.mean_module.constant, constant)


def fit_gp(X: Tensor, y: Tensor, bounds: Tensor, *, generator: torch.Generator,
           settings: GPFitSettings) -> tuple[SingleTaskGP, dict]:
    """Fit a ``SingleTaskGP`` to ``X [n, F]``, ``y [n]`` (float64); return it (eval mode) and diagnostics."""
    started = time.perf_counter()
    errors: list[str] = []
    for attempt in range(1 + settings.n_restarts):
        model = build_fit_model(X, y, bounds, settings.isotropic)
        if attempt > 0:
            _draw_initial_hyperparameters(model, generator)
        error = _try_fit(model, settings)
        if error is None:
            return model.eval(), _diagnostics(model, attempt + 1, errors, False, started, settings)
        errors.append(error)
    model = build_fit_model(X, y, bounds, settings.isotropic)
    dim = X.shape[-1]
    set_hyperparameters(model, torch.full((dim,), FALLBACK_LENGTHSCALE * math.sqrt(dim), dtype=X.dtype),
                        FALLBACK_NOISE)
    warnings.warn(f"GP hyperparameter fitting failed {len(errors)} times ({errors[-1]}); using fixed "
                  f"hyperparameters (lengthscale {FALLBACK_LENGTHSCALE}*sqrt(F), noise {FALLBACK_NOISE})",
                  SurrogateFitWarning, stacklevel=3)
    return model.eval(), _diagnostics(model, len(errors), errors, True, started, settings)


def marginal_log_likelihood(model: SingleTaskGP, settings: GPFitSettings) -> float:
    """The (per-observation, prior-including) exact marginal log likelihood of ``model`` on its training data."""
    mll = ExactMarginalLogLikelihood(model.likelihood, model)
    was_training = model.training
    model.train()
    try:
        with torch.no_grad(), gpytorch_settings.max_cholesky_size(settings.max_cholesky_size):
            value = mll(model(*model.train_inputs), model.train_targets)
        return float(value)
    except FIT_ERRORS:
        return float("nan")
    finally:
        model.train(was_training)


def _try_fit(model: SingleTaskGP, settings: GPFitSettings) -> str | None:
    """Run one L-BFGS-B fit in place; return None on success, else a one-line reason."""
    mll = ExactMarginalLogLikelihood(model.likelihood, model)
    try:
        with warnings.catch_warnings(record=True) as caught, \
                gpytorch_settings.max_cholesky_size(settings.max_cholesky_size):
            warnings.simplefilter("always")
            # max_attempts=1: BoTorch's retries would re-sample from the priors with the global RNG.
            fit_gpytorch_mll(mll, optimizer_kwargs={"options": {"maxiter": settings.maxiter}}, max_attempts=1)
    except FIT_ERRORS as err:
        return f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"[:200]
    del caught  # resolved optimizer warnings (e.g. maxiter reached) are expected; unresolved ones raised above
    if not all(torch.isfinite(p).all() for p in model.parameters()):
        return "non-finite hyperparameters"
    if not math.isfinite(marginal_log_likelihood(model, settings)):
        return "non-finite marginal log likelihood"
    return None


def _draw_initial_hyperparameters(model: SingleTaskGP, generator: torch.Generator) -> None:
    """Log-uniform random lengthscales and noise from ``generator`` (a restart from another basin)."""
    count = model.covar_module.lengthscale.shape[-1]  # F with ARD, 1 when isotropic
    dim = model.train_inputs[0].shape[-1]
    log_lengthscale = _log_uniform(RESTART_LENGTHSCALE_RANGE, (count,), generator) + 0.5 * math.log(dim)
    log_noise = _log_uniform(RESTART_NOISE_RANGE, (1,), generator)
    set_hyperparameters(model, log_lengthscale.exp().to(torch.float64), float(log_noise.exp()))


def _log_uniform(value_range: tuple[float, float], shape: tuple[int, ...], generator: torch.Generator) -> Tensor:
    low, high = math.log(value_range[0]), math.log(value_range[1])
    uniform = torch.rand(shape, generator=generator, device=generator.device, dtype=torch.float64).cpu()
    return low + (high - low) * uniform


def _diagnostics(model: SingleTaskGP, attempts: int, errors: list[str], fallback_used: bool, started: float,
                 settings: GPFitSettings) -> dict:
    return {"mll": marginal_log_likelihood(model, settings), "attempts": attempts, "n_restarts": attempts - 1,
            "errors": errors, "fallback_used": fallback_used, "maxiter": settings.maxiter,
            "fit_points": int(model.train_targets.shape[-1]), "seconds": time.perf_counter() - started}
