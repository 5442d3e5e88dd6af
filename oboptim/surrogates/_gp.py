"""Gaussian-process surrogate: a BoTorch ``SingleTaskGP`` with a cheap, cached posterior, exact or sparse.

Fitting (``gp_fitting.fit_gp``) chooses the RBF lengthscales, the noise and the constant mean by maximizing the
marginal likelihood on at most ``max_fit_points`` observations (a random subset beyond that: each L-BFGS step costs
a Cholesky of the training matrix, and a few hundred points pin the hyperparameters down well). The posterior then
conditions on every observation, with those hyperparameters:

- up to ``max_exact`` observations, exactly: a call on ``N`` points costs ``O(N n (n + F))``;
- beyond, through ``num_inducing`` inducing inputs chosen among the data (SGPR, ``_gp_posterior``): a call costs
  ``O(N m (m + F))`` whatever ``n``, conditioning ``O(n m^2)`` (up to ``max_sparse`` observations, a random subset
  that keeps the best one beyond that).

The sampler evaluates the posterior and its gradient on every particle at every step, so the exact form's cost,
quadratic in ``n``, is what limits a round. The defaults come from ``scripts/bench_history.py``
(``bench/history_cpu*.md``): up to 512 observations the exact posterior keeps a toy round near a second; beyond,
256 inducing inputs predict as well as the exact posterior on 1,000 observations (and better than the exact one on
a random 2,000 of 10,000) at a quarter of the cost of 512, and a round at 10,000 observations stays interactive.
The formulas are in ``oboptim/surrogates/_gp_posterior.py``. Thompson samples are pathwise (Matheron) samples:
BoTorch's for the exact form, random Fourier features plus an inducing-point update for the sparse one.

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
from botorch.sampling.pathwise import draw_kernel_feature_paths, draw_matheron_paths
from torch import Tensor

from oboptim._registry import SURROGATES
from oboptim.surrogates._base import FitReport, SamplePath, Surrogate, SurrogateDataError, validate_training_data
from oboptim.surrogates._gp_fitting import GPFitSettings, fit_gp, input_bounds
from oboptim.surrogates._gp_posterior import (
    PosteriorFactors,
    exact_factors,
    greedy_inducing_indices,
    posterior_moments,
    sparse_factors,
    sparse_path_weights,
)

# Smallest latent variance returned, in standardized units: keeps sqrt(var) and its gradient finite.
VARIANCE_FLOOR = 1e-10

# The greedy choice of inducing inputs costs O(candidates * m^2): it looks at this many data points per inducing input.
CANDIDATES_PER_INDUCING = 8

Inducing = tuple[Tensor, Tensor]  # inducing inputs [m, F] and their values [m], original units


@SURROGATES.implements("gp")
class GPSurrogate(Surrogate):
    """GP surrogate (BoTorch ``SingleTaskGP``, RBF kernel with ARD, ``Normalize`` + ``Standardize``).

    Args:
        max_exact: most observations the posterior conditions on exactly; beyond, it is sparse.
        num_inducing: inducing inputs of the sparse posterior; None keeps it exact, on a random subset of
            ``max_exact`` observations that keeps the best one.
        max_sparse: most observations the sparse posterior conditions on (a random subset, keeping the best).
        max_fit_points: most observations used to fit the hyperparameters.
        maxiter: L-BFGS-B iterations per fitting attempt.
        n_restarts: extra fitting attempts from random initial hyperparameters before the fixed fallback.

    Attributes:
        model: a ``SingleTaskGP`` with the fitted hyperparameters on the points the posterior is expressed on (all
            of them when exact, the inducing inputs when sparse), standardized values.
    """

    kind = "gp"

    isotropic = False  # one lengthscale per feature (ARD)

    def __init__(self, *, max_exact: int = 512, num_inducing: int | None = 256, max_sparse: int = 50_000,
                 max_fit_points: int = 300, maxiter: int = 50, n_restarts: int = 2) -> None:
        super().__init__()
        if min(max_exact, max_fit_points, max_sparse, num_inducing or 1) < 1:
            raise ValueError("max_exact, num_inducing, max_sparse and max_fit_points must be at least 1")
        self.max_exact, self.num_inducing, self.max_sparse = max_exact, num_inducing, max_sparse
        self.max_fit_points = max_fit_points
        self.maxiter = maxiter
        self.n_restarts = n_restarts
        self.fit_settings = GPFitSettings(maxiter=maxiter, n_restarts=n_restarts,
                                          max_cholesky_size=max(max_exact, max_fit_points) + 1,
                                          isotropic=self.isotropic)
        self.model: SingleTaskGP | None = None
        self.num_pending = 0

    # -- fitting --------------------------------------------------------------------------------------------------

    def fit(self, X: Tensor, y: Tensor, *, generator: torch.Generator) -> FitReport:
        """Fit to ``X [n, F]``, ``y [n]``; see the module docstring for the two posteriors and subsampling."""
        validate_training_data(X, y)
        X, y = X.detach().to(torch.float64).cpu(), y.detach().to(torch.float64).cpu()
        limit = self.max_exact if self.num_inducing is None else self.max_sparse
        X_kept, y_kept = subsample_keeping_best(X, y, limit, generator)
        bounds = input_bounds(X_kept)
        X_fit, y_fit = subsample_keeping_best(X_kept, y_kept, self.max_fit_points, generator)
        fit_model, diagnostics = fit_gp(X_fit, y_fit, bounds, generator=generator, settings=self.fit_settings)
        y_mean = float(fit_model.outcome_transform.means.squeeze())
        y_std = float(fit_model.outcome_transform.stdvs.squeeze())
        fit_model, X_kept, y_kept, bounds = (t.to(self.device) for t in (fit_model, X_kept, y_kept, bounds))
        inducing = None
        if X_kept.shape[0] > self.max_exact:
            inducing = choose_inducing(fit_model, X_kept, y_kept, bounds, self.num_inducing, generator)
        self._condition(X_kept, y_kept, fit_model, bounds, y_mean, y_std, inducing)
        self._remember_training_data(X_kept, y_kept)
        self.num_pending = 0
        diagnostics.update(num_observations=int(X.shape[0]), num_train=int(X_kept.shape[0]),
                           posterior="sparse" if self.is_sparse else "exact",
                           num_inducing=int(self.unit_inducing.shape[0]) if self.is_sparse else None)
        self._last_report = FitReport(self.hyperparameters, diagnostics)
        return self._last_report

    def _condition(self, X: Tensor, y: Tensor, source: SingleTaskGP, bounds: Tensor, y_mean: float, y_std: float,
                   inducing: Inducing | None = None) -> None:
        """Condition on ``X [n, F]``, ``y [n]`` (original units) with ``source``'s hyperparameters, exactly or
        through ``inducing``; cache what posterior calls need."""
        device = next(iter(source.parameters())).device
        X, y, bounds = X.to(device), y.to(device), bounds.to(device)
        model_X, model_y = (X, y) if inducing is None else inducing
        self.model = _conditioned_model(source, model_X, (model_y - y_mean) / y_std, bounds)
        self.register_buffer("bounds", bounds, persistent=False)
        self.register_buffer("y_mean", torch.tensor(y_mean, dtype=torch.float64, device=device), persistent=False)
        self.register_buffer("y_std", torch.tensor(y_std, dtype=torch.float64, device=device), persistent=False)
        self.register_buffer("conditioning_X", X, persistent=False)
        self.register_buffer("conditioning_y", y, persistent=False)
        self.register_buffer("inducing_X", model_X, persistent=False)
        self.register_buffer("inducing_y", model_y, persistent=False)
        with torch.no_grad():
            factors = self._factors(X, y, model_X if inducing is not None else None)
        for name in ("unit_inducing", "weights", "explaining", "reducing", "restoring"):
            self.register_buffer(name, getattr(factors, name), persistent=False)

    def _factors(self, X: Tensor, y: Tensor, inducing_X: Tensor | None) -> PosteriorFactors:
        """The posterior's cached factors on ``X [n, F]``, ``y [n]``, exact or through ``inducing_X [m, F]``."""
        kernel, noise = self.model.covar_module, self.model.likelihood.noise.reshape(())
        residual = (y - self.y_mean) / self.y_std - self.model.mean_module.constant.reshape(())
        if inducing_X is None:
            return exact_factors(kernel, noise, self._to_unit_cube(X), residual)
        return sparse_factors(kernel, noise, self._to_unit_cube(X), residual, self._to_unit_cube(inducing_X))

    @property
    def is_sparse(self) -> bool:
        """Whether the posterior goes through inducing inputs (more than ``max_exact`` observations)."""
        self.check_fitted()
        return self.restoring.shape[0] > 0

    # -- prediction -----------------------------------------------------------------------------------------------

    def posterior(self, X: Tensor) -> tuple[Tensor, Tensor]:
        """Latent mean and variance ``[...]`` (float32, units of ``y``) at ``X [..., F]``, on ``X``'s device."""
        mean, variance = self._standardized_posterior(X)
        return ((mean * self.y_std + self.y_mean).to(torch.float32),
                (variance * self.y_std ** 2).to(torch.float32))

    def _standardized_posterior(self, X: Tensor) -> tuple[Tensor, Tensor]:
        """float64 mean and variance ``[...]`` in standardized units, on ``X``'s device."""
        self.check_fitted()
        self.check_features(X)
        batch_shape = X.shape[:-1]
        unit_X = self._to_unit_cube(X.reshape(-1, X.shape[-1]).to(self.bounds))
        centred, variance = posterior_moments(self.model.covar_module, self.unit_inducing, self.weights,
                                              self.explaining, unit_X)
        mean = self.model.mean_module.constant.reshape(()) + centred
        variance = variance.clamp_min(VARIANCE_FLOOR)
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
            path = self._sparse_path() if self.is_sparse else draw_matheron_paths(self.model, torch.Size([]))
        y_mean, y_std, num_features = self.y_mean, self.y_std, self.num_features

        def gp_sample_path(X: Tensor) -> Tensor:
            if X.dim() == 0 or X.shape[-1] != num_features:
                raise SurrogateDataError(f"expected features [..., {num_features}], got shape {tuple(X.shape)}")
            flat = X.reshape(-1, num_features).to(y_mean.device, torch.float64)
            values = path(flat).reshape(X.shape[:-1]) * y_std + y_mean
            return values.to(device=X.device, dtype=torch.float32)

        return gp_sample_path

    def _sparse_path(self) -> SamplePath:
        """A standardized sparse posterior sample ``[N, F] -> [N]`` (original-unit inputs), from the global RNG."""
        prior = draw_kernel_feature_paths(self.model, sample_shape=torch.Size([]))  # constant mean + f0
        constant = self.model.mean_module.constant.reshape(())
        normal = torch.randn(self.weights.shape, dtype=self.weights.dtype, device=self.weights.device)
        with torch.no_grad():
            update = sparse_path_weights(self.weights, self.reducing, self.restoring,
                                         prior(self.inducing_X) - constant, normal)
        kernel, unit_inducing, to_unit_cube = self.model.covar_module, self.unit_inducing, self._to_unit_cube

        def sparse_path(X: Tensor) -> Tensor:
            return prior(X) + kernel(to_unit_cube(X), unit_inducing).to_dense() @ update

        return sparse_path

    # -- pending points -------------------------------------------------------------------------------------------

    def condition_on_pending(self, X_pending: Tensor) -> GPSurrogate:
        """Kriging believer: add ``X_pending [p, F]`` with their posterior mean as fantasy observations.

        The hyperparameters stay fixed. Observing the mean leaves the posterior mean unchanged everywhere, while the
        variance at and near the pending points shrinks toward the noise level, so UCB and Thompson sampling stop
        proposing the same spot again within one batch, without inventing a value the oracle has not returned.
        A sparse posterior also takes the pending points as inducing inputs, so that it can resolve them. The
        fantasies are dropped at the next ``fit`` on real values.
        """
        self.check_fitted()
        self.check_features(X_pending)
        pending = X_pending.detach().reshape(-1, self.num_features).to(self.bounds)
        with torch.no_grad():
            fantasy, _ = self._standardized_posterior(pending)
        fantasy = fantasy * self.y_std + self.y_mean
        clone = GPSurrogate(max_exact=self.max_exact, num_inducing=self.num_inducing, max_sparse=self.max_sparse,
                            max_fit_points=self.max_fit_points, maxiter=self.maxiter, n_restarts=self.n_restarts)
        inducing = None
        if self.is_sparse:
            inducing = (torch.cat([self.inducing_X, pending]), torch.cat([self.inducing_y, fantasy]))
        clone._condition(torch.cat([self.conditioning_X, pending]), torch.cat([self.conditioning_y, fantasy]),
                         self.model, self.bounds, float(self.y_mean), float(self.y_std), inducing)
        clone._train_X, clone._train_y, clone._last_report = self._train_X, self._train_y, self._last_report
        clone.num_pending = self.num_pending + pending.shape[0]
        return clone.to(self.device)

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


def choose_inducing(model: SingleTaskGP, X: Tensor, y: Tensor, bounds: Tensor, num_inducing: int,
                    generator: torch.Generator) -> Inducing:
    """Inducing inputs ``[m, F]`` and their values ``[m]``: rows of ``X [n, F]``, ``y [n]`` chosen by greedy
    variance reduction under ``model``'s kernel, starting from the best observation, among at most
    ``CANDIDATES_PER_INDUCING * num_inducing`` of them (a random subset that keeps the best)."""
    X, y = subsample_keeping_best(X.cpu(), y.cpu(), CANDIDATES_PER_INDUCING * num_inducing, generator)
    X, y = X.to(bounds.device), y.to(bounds.device)
    unit_X = (X - bounds[0]) / (bounds[1] - bounds[0])
    rows = greedy_inducing_indices(model.covar_module, unit_X, num_inducing, first=int(torch.argmax(y)))
    return X[rows], y[rows]


def _conditioned_model(source: SingleTaskGP, X: Tensor, standardized: Tensor, bounds: Tensor) -> SingleTaskGP:
    """A ``SingleTaskGP`` on ``X [m, F]``, ``standardized [m]`` with copies of ``source``'s fitted modules."""
    model = SingleTaskGP(X, standardized.unsqueeze(-1), likelihood=copy.deepcopy(source.likelihood),
                         covar_module=copy.deepcopy(source.covar_module),
                         mean_module=copy.deepcopy(source.mean_module),
                         input_transform=Normalize(d=X.shape[-1], bounds=bounds), outcome_transform=None)
    return model.eval().requires_grad_(False)


@SURROGATES.implements("hamming-gp")
class HammingGPSurrogate(GPSurrogate):
    """:class:`GPSurrogate` with one lengthscale shared by every feature (an isotropic RBF kernel).

    On one-hot features of sequences ``[B, L V]`` the squared distance is twice the Hamming distance ``H``, so the
    kernel is the exponentiated Hamming kernel ``exp(-H / l^2)``, a kernel for categorical inputs; inside the sampler
    the same kernel is a smooth function of the soft decode, so guidance works. One lengthscale instead of ``L V``
    also keeps the fit cheap at thousands of features. Same arguments as :class:`GPSurrogate`.
    """

    kind = "hamming-gp"
    isotropic = True
