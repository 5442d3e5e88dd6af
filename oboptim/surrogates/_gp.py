"""Gaussian-process surrogate: a BoTorch ``SingleTaskGP`` with a cheap, cached, exact posterior.

Fitting (``gp_fitting.fit_gp``) chooses the RBF lengthscales, the noise and the constant mean by maximizing the
marginal likelihood on at most ``max_fit_points`` observations (a random subset beyond that: each L-BFGS step costs
a Cholesky of the training matrix, and a few hundred points pin the hyperparameters down well). The posterior then
conditions on all observations, up to ``max_exact`` (a random subset that always keeps the best one beyond that).

With the ``n`` conditioning points in unit-cube coordinates ``Z`` (``Normalize`` with fixed bounds) and the values
standardized, the posterior of the latent function at ``z`` is, for ``K = k(Z, Z) + noise * I = L L^T``,

    mean(z) = c + k(z, Z) K^{-1} (y - c)        var(z) = k(z, z) - |L^{-1} k(Z, z)|^2

``K^{-1}(y - c)`` and ``L^{-1}`` are computed once per fit, so a posterior call costs two ``[N, n]`` products,
``O(N n (n + F))``, and is differentiable in ``z``. Thompson samples are BoTorch pathwise (Matheron) samples.

Example:
    >>> X = torch.rand(20, 2, dtype=torch.float64); y = X.sum(-1)
    >>> gp = GPSurrogate(); report = gp.fit(X, y, generator=torch.Generator().manual_seed(0))
    >>> mean, variance = gp.posterior(torch.rand(5, 2))
"""

from __future__ import annotations

import copy

import torch
from botorch.models import SingleTaskGP
from botorch.models.transforms import Normalize
from botorch.sampling.pathwise import draw_matheron_paths
from linear_operator.utils.cholesky import psd_safe_cholesky
from torch import Tensor

from oboptim._registry import SURROGATES
from oboptim.surrogates._base import FitReport, SamplePath, Surrogate, SurrogateDataError, validate_training_data
from oboptim.surrogates._gp_fitting import GPFitSettings, fit_gp, input_bounds

# Smallest latent variance returned, in standardized units: keeps sqrt(var) and its gradient finite.
VARIANCE_FLOOR = 1e-10


@SURROGATES.implements("gp")
class GPSurrogate(Surrogate):
    """Exact GP surrogate (BoTorch ``SingleTaskGP``, RBF kernel with ARD, ``Normalize`` + ``Standardize``).

    Args:
        max_exact: most observations the posterior conditions on (a random subset, keeping the best, beyond it).
        max_fit_points: most observations used to fit the hyperparameters.
        maxiter: L-BFGS-B iterations per fitting attempt.
        n_restarts: extra fitting attempts from random initial hyperparameters before the fixed fallback.
    """

    kind = "gp"

    def __init__(self, *, max_exact: int = 2000, max_fit_points: int = 300, maxiter: int = 50,
                 n_restarts: int = 2) -> None:
        super().__init__()
        if max_exact < 1 or max_fit_points < 1:
            raise ValueError("max_exact and max_fit_points must be at least 1")
        self.max_exact = max_exact
        self.max_fit_points = max_fit_points
        self.maxiter = maxiter
        self.n_restarts = n_restarts
        self.fit_settings = GPFitSettings(maxiter=maxiter, n_restarts=n_restarts,
                                          max_cholesky_size=max(max_exact, max_fit_points) + 1)
        self.model: SingleTaskGP | None = None  # conditions on all points (incl. pending), standardized values
        self.num_pending = 0

    # -- fitting --------------------------------------------------------------------------------------------------

    def fit(self, X: Tensor, y: Tensor, *, generator: torch.Generator) -> FitReport:
        """Fit to ``X [n, F]``, ``y [n]``; see the module docstring for subsampling."""
        validate_training_data(X, y)
        X, y = X.detach().to(torch.float64).cpu(), y.detach().to(torch.float64).cpu()
        X_kept, y_kept = subsample_keeping_best(X, y, self.max_exact, generator)
        bounds = input_bounds(X_kept)
        X_fit, y_fit = subsample_keeping_best(X_kept, y_kept, self.max_fit_points, generator)
        fit_model, diagnostics = fit_gp(X_fit, y_fit, bounds, generator=generator, settings=self.fit_settings)
        y_mean = float(fit_model.outcome_transform.means.squeeze())
        y_std = float(fit_model.outcome_transform.stdvs.squeeze())
        self._condition(X_kept, y_kept, fit_model, bounds, y_mean, y_std)
        self._remember_training_data(X_kept, y_kept)
        self.num_pending = 0
        diagnostics.update(num_observations=int(X.shape[0]), num_train=int(X_kept.shape[0]))
        self._last_report = FitReport(self.hyperparameters, diagnostics)
        return self._last_report

    def _condition(self, X: Tensor, y: Tensor, source: SingleTaskGP, bounds: Tensor, y_mean: float,
                   y_std: float) -> None:
        """Condition on ``X [m, F]``, ``y [m]`` (original units) with ``source``'s hyperparameters; cache solves."""
        device = next(iter(source.parameters())).device
        X, y, bounds = X.to(device), y.to(device), bounds.to(device)
        standardized = ((y - y_mean) / y_std).unsqueeze(-1)
        model = SingleTaskGP(X, standardized, likelihood=copy.deepcopy(source.likelihood),
                             covar_module=copy.deepcopy(source.covar_module),
                             mean_module=copy.deepcopy(source.mean_module),
                             input_transform=Normalize(d=X.shape[-1], bounds=bounds), outcome_transform=None)
        model.eval().requires_grad_(False)
        self.model = model
        self.register_buffer("bounds", bounds, persistent=False)
        self.register_buffer("y_mean", torch.tensor(y_mean, dtype=torch.float64, device=device), persistent=False)
        self.register_buffer("y_std", torch.tensor(y_std, dtype=torch.float64, device=device), persistent=False)
        with torch.no_grad():
            unit_X = self._to_unit_cube(X)
            train_covariance = model.covar_module(unit_X).to_dense()
            noise = model.likelihood.noise.reshape(())
            eye = torch.eye(X.shape[0], dtype=X.dtype, device=device)
            cholesky = psd_safe_cholesky(train_covariance + noise * eye)
            residual = standardized - model.mean_module.constant.reshape(())
            self.register_buffer("conditioning_X", X, persistent=False)
            self.register_buffer("conditioning_y", y, persistent=False)
            self.register_buffer("unit_train_X", unit_X, persistent=False)
            self.register_buffer("weights", torch.cholesky_solve(residual, cholesky).squeeze(-1),
                                 persistent=False)
            self.register_buffer("cholesky_inverse", torch.linalg.solve_triangular(cholesky, eye, upper=False),
                                 persistent=False)

    # -- prediction -----------------------------------------------------------------------------------------------

    def posterior(self, X: Tensor) -> tuple[Tensor, Tensor]:
        """Latent mean and variance ``[...]`` (float32, units of ``y``) at ``X [..., F]``."""
        mean, variance = self._standardized_posterior(X)
        return ((mean * self.y_std + self.y_mean).to(torch.float32),
                (variance * self.y_std ** 2).to(torch.float32))

    def _standardized_posterior(self, X: Tensor) -> tuple[Tensor, Tensor]:
        """float64 mean and variance ``[...]`` in standardized units, on ``X``'s device."""
        self.check_fitted()
        self.check_features(X)
        batch_shape = X.shape[:-1]
        unit_X = self._to_unit_cube(X.reshape(-1, X.shape[-1]).to(self.bounds))
        covar_module = self.model.covar_module
        cross = covar_module(unit_X, self.unit_train_X).to_dense()  # [N, n]
        mean = self.model.mean_module.constant.reshape(()) + cross @ self.weights
        explained = (cross @ self.cholesky_inverse.T).square().sum(-1)
        variance = (covar_module(unit_X, diag=True) - explained).clamp_min(VARIANCE_FLOOR)
        return mean.reshape(batch_shape).to(X.device), variance.reshape(batch_shape).to(X.device)

    def sample_path(self, generator: torch.Generator) -> SamplePath:
        """A pathwise (Matheron) posterior sample ``[..., F] -> [...]``, float32 in the units of ``y``.

        BoTorch draws its random features from the global RNG, so we draw a seed from ``generator`` and run the
        draw inside ``torch.random.fork_rng``: the global RNG state is restored afterwards.
        """
        self.check_fitted()
        seed = int(torch.randint(0, 2 ** 62, (1,), generator=generator, device=generator.device))
        device = self.bounds.device
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(seed)
            path = draw_matheron_paths(self.model, sample_shape=torch.Size([]))
        y_mean, y_std, num_features = self.y_mean, self.y_std, self.num_features

        def gp_sample_path(X: Tensor) -> Tensor:
            if X.dim() == 0 or X.shape[-1] != num_features:
                raise SurrogateDataError(f"expected features [..., {num_features}], got shape {tuple(X.shape)}")
            flat = X.reshape(-1, num_features).to(y_mean.device, torch.float64)
            values = path(flat).reshape(X.shape[:-1]) * y_std + y_mean
            return values.to(device=X.device, dtype=torch.float32)

        return gp_sample_path

    # -- pending points -------------------------------------------------------------------------------------------

    def condition_on_pending(self, X_pending: Tensor) -> GPSurrogate:
        """Kriging believer: add ``X_pending [p, F]`` with their posterior mean as fantasy observations.

        The hyperparameters stay fixed. Observing the mean leaves the posterior mean unchanged everywhere, while the
        variance at and near the pending points shrinks toward the noise level, so UCB and Thompson sampling stop
        proposing the same spot again within one batch, without inventing a value the oracle has not returned.
        The fantasies are dropped at the next ``fit`` on real values.
        """
        self.check_fitted()
        self.check_features(X_pending)
        pending = X_pending.detach().reshape(-1, self.num_features).to(self.bounds)
        with torch.no_grad():
            fantasy, _ = self._standardized_posterior(pending)
        clone = GPSurrogate(max_exact=self.max_exact, max_fit_points=self.max_fit_points, maxiter=self.maxiter,
                            n_restarts=self.n_restarts)
        X_all = torch.cat([self.conditioning_X, pending])
        y_all = torch.cat([self.conditioning_y, fantasy * self.y_std + self.y_mean])
        clone._condition(X_all, y_all, self.model, self.bounds, float(self.y_mean), float(self.y_std))
        clone._train_X, clone._train_y, clone._last_report = self._train_X, self._train_y, self._last_report
        clone.num_pending = self.num_pending + pending.shape[0]
        return clone

    # -- snapshots ------------------------------------------------------------------------------------------------

    @property
    def hyperparameters(self) -> dict:
        """Lengthscales (unit cube and original units), noise, constant mean, value scaling and input bounds."""
        self.check_fitted()
        lengthscale = self.model.covar_module.lengthscale.detach().reshape(-1)
        width = self.bounds[1] - self.bounds[0]
        noise = float(self.model.likelihood.noise.detach().reshape(()))
        return {"lengthscale": lengthscale.tolist(), "lengthscale_original": (lengthscale * width).tolist(),
                "noise": noise, "noise_original": noise * float(self.y_std) ** 2,
                "mean_constant": float(self.model.mean_module.constant.detach().reshape(())),
                "y_mean": float(self.y_mean), "y_std": float(self.y_std),
                "input_lower": self.bounds[0].tolist(), "input_upper": self.bounds[1].tolist()}

    def noise_variance(self) -> float:
        """The fitted observation-noise variance, in the units of ``y`` squared."""
        self.check_fitted()
        return float(self.model.likelihood.noise.detach().reshape(())) * float(self.y_std) ** 2

    def _to_unit_cube(self, X: Tensor) -> Tensor:
        return (X - self.bounds[0]) / (self.bounds[1] - self.bounds[0])


def subsample_keeping_best(X: Tensor, y: Tensor, limit: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """At most ``limit`` rows of ``X [n, F]``, ``y [n]``: the best one plus a random subset, in original order."""
    if X.shape[0] <= limit:
        return X, y
    best = int(torch.argmax(y))
    order = torch.randperm(X.shape[0], generator=generator, device=generator.device).cpu()
    others = order[order != best][: limit - 1]
    keep = torch.sort(torch.cat([others, torch.tensor([best])])).values
    return X[keep], y[keep]
