"""Baselines of the sample-efficiency benchmark, each ``run(...) -> list of rounds of (x [B, *shape], values [B])``.

- :func:`random_search`: fresh prior samples every round (round ``r`` uses the campaign's generator for round ``r``,
  so round 0 equals every oboptim campaign's round 0 with the same seed);
- :func:`box_bayesopt`: what a Bayesian-optimisation user would do without a prior: a BoTorch ``SingleTaskGP`` on the
  raw design space scaled to the unit cube of the prior samples' bounding box, and batch ``qLogExpectedImprovement``
  maximised by ``optimize_acqf``. It starts from the same round 0 of prior samples. It cannot avoid failures: a failed
  query enters its training data as the worst value observed so far (common practice);
- :func:`trust_region_bayesopt`: TuRBO-1 (Eriksson et al., "Scalable Global Optimization via Local Bayesian
  Optimization", NeurIPS 2019), the strong standard-BO baseline for higher dimensions: the same GP in the same unit
  cube, but each batch is chosen by Thompson sampling inside a box around the incumbent whose side grows after
  ``success_tolerance`` improving rounds and halves after ``failure_tolerance`` rounds without improvement (no prior;
  failures imputed as in box BO).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from botorch.acquisition.logei import qLogExpectedImprovement
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from botorch.optim import optimize_acqf
from botorch.sampling.normal import SobolQMCNormalSampler
from botorch.sampling.pathwise import draw_matheron_paths
from gpytorch.kernels import MaternKernel, ScaleKernel
from gpytorch.mlls import ExactMarginalLogLikelihood
from torch.quasirandom import SobolEngine

from oboptim._campaign import round_generator
from oboptim.benchmark._problems import sample_prior
from oboptim.priors._diffusion_prior import DiffusionPrior

Oracle = Callable[[np.ndarray], Sequence[float]]
Round = tuple[np.ndarray, np.ndarray]


def _query(oracle: Oracle, xs: np.ndarray) -> np.ndarray:
    return np.asarray(oracle(xs.copy()), dtype=np.float64)


def random_search(prior: DiffusionPrior, oracle: Oracle, *, seed: int, batch_size: int, rounds: int, steps: int,
                  device: str = "cpu") -> list[Round]:
    """``rounds`` batches of ``batch_size`` prior samples, each queried."""
    history = []
    for r in range(rounds):
        xs = sample_prior(prior, batch_size, steps, round_generator(seed, r, device))
        history.append((xs, _query(oracle, xs)))
    return history


def impute_failures(values: np.ndarray) -> np.ndarray:
    """Failed (non-finite) values replaced by the worst finite value so far (0 if none is finite yet)."""
    finite = np.isfinite(values)
    worst = values[finite].min() if finite.any() else 0.0
    return np.where(finite, values, worst)


@dataclass(frozen=True)
class UnitBox:
    """The box ``[lower, upper]`` of the standard-BO baselines, flattened to ``dim`` coordinates and mapped to the
    unit cube, where their GPs live."""

    low: torch.Tensor  # [dim] float64
    span: torch.Tensor  # [dim] float64, > 0

    @classmethod
    def of(cls, lower: np.ndarray, upper: np.ndarray) -> UnitBox:
        low = torch.as_tensor(lower, dtype=torch.float64).reshape(-1)
        return cls(low, (torch.as_tensor(upper, dtype=torch.float64).reshape(-1) - low).clamp_min(1e-9))

    @property
    def dim(self) -> int:
        return self.low.numel()

    def training_data(self, history: list[Round]) -> tuple[torch.Tensor, torch.Tensor]:
        """Every query so far in unit-cube coordinates ``[n, dim]`` (clamped) and its value ``[n]`` float64, failures
        scored as the worst value observed so far."""
        X = torch.as_tensor(np.concatenate([h[0] for h in history]).reshape(-1, self.dim), dtype=torch.float64)
        y = torch.as_tensor(impute_failures(np.concatenate([h[1] for h in history])))
        return ((X - self.low) / self.span).clamp(0.0, 1.0), y

    def from_unit(self, unit_x: torch.Tensor, shape: tuple[int, ...]) -> np.ndarray:
        """Unit-cube points ``[q, dim]`` as candidates ``[q, *shape]`` float32."""
        return (self.low + unit_x * self.span).reshape(unit_x.shape[0], *shape).float().numpy()


def _prior_round(prior: DiffusionPrior, oracle: Oracle, seed: int, batch_size: int, steps: int,
                 device: str) -> list[Round]:
    """The history after round 0: prior samples, drawn and scored as every method's round 0 is."""
    xs0 = sample_prior(prior, batch_size, steps, round_generator(seed, 0, device))
    return [(xs0, _query(oracle, xs0))]


def box_bayesopt(prior: DiffusionPrior, oracle: Oracle, *, seed: int, batch_size: int, rounds: int, steps: int,
                 lower: np.ndarray, upper: np.ndarray, device: str = "cpu", num_restarts: int = 8,
                 raw_samples: int = 512, mc_samples: int = 128, maxiter: int = 100) -> list[Round]:
    """Round 0 from the prior, then ``rounds - 1`` batches of qLogEI over the box ``[lower, upper]`` (``[*shape]``)."""
    history = _prior_round(prior, oracle, seed, batch_size, steps, device)
    box = UnitBox.of(lower, upper)
    unit = torch.stack([torch.zeros(box.dim, dtype=torch.float64), torch.ones(box.dim, dtype=torch.float64)])
    for r in range(1, rounds):
        train_x, y = box.training_data(history)
        torch.manual_seed(seed * 1000 + r)  # optimize_acqf's raw samples come from the global generator
        with warnings.catch_warnings():  # jitter and L-BFGS line-search notes are routine here
            warnings.simplefilter("ignore")
            model = SingleTaskGP(train_x, y[:, None])
            fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
            acquisition = qLogExpectedImprovement(model, best_f=float(y.max()), sampler=SobolQMCNormalSampler(
                torch.Size([mc_samples]), seed=seed * 1000 + r))
            candidates, _ = optimize_acqf(acquisition, bounds=unit, q=batch_size, num_restarts=num_restarts,
                                          raw_samples=raw_samples, options={"maxiter": maxiter})
        xs = box.from_unit(candidates.detach(), history[0][0].shape[1:])
        history.append((xs, _query(oracle, xs)))
    return history


@dataclass
class TrustRegion:
    """TuRBO-1's trust region state (side ``length`` of the box in unit-cube coordinates, before the ARD reshaping).

    The defaults are the paper's: initial side 0.8, bounds ``[0.5^7, 1.6]``, success tolerance 3 and failure
    tolerance ``ceil(max(4 / q, d / q))`` rounds.
    """

    dim: int
    batch_size: int
    length: float = 0.8
    length_min: float = 0.5**7
    length_max: float = 1.6
    success_tolerance: int = 3
    successes: int = 0
    failures: int = 0
    best_value: float = -math.inf
    restarts: int = 0

    @property
    def failure_tolerance(self) -> int:
        return math.ceil(max(4.0 / self.batch_size, self.dim / self.batch_size))

    def update(self, values: np.ndarray) -> None:
        """After a batch with (imputed) ``values [q]``: count a success if it beat the best by ``1e-3 |best|``."""
        best_new = float(np.max(values))
        if best_new > self.best_value + 1e-3 * abs(self.best_value):
            self.successes, self.failures = self.successes + 1, 0
        else:
            self.successes, self.failures = 0, self.failures + 1
        if self.successes == self.success_tolerance:
            self.length, self.successes = min(2.0 * self.length, self.length_max), 0
        elif self.failures == self.failure_tolerance:
            self.length, self.failures = self.length / 2.0, 0
        self.best_value = max(self.best_value, best_new)
        if self.length < self.length_min:  # converged: restart the region (the data are kept; see below)
            self.length, self.successes, self.failures = 0.8, 0, 0
            self.restarts += 1


def trust_region_bayesopt(prior: DiffusionPrior, oracle: Oracle, *, seed: int, batch_size: int, rounds: int,
                          steps: int, lower: np.ndarray, upper: np.ndarray, device: str = "cpu",
                          max_candidates: int = 5000) -> list[Round]:
    """TuRBO-1: round 0 from the prior (as every method), then ``rounds - 1`` Thompson-sampled batches in a trust
    region of the unit cube of ``[lower, upper]`` (``[*shape]``) centred on the incumbent.

    Per round: a ``SingleTaskGP`` with a Matern-5/2 ARD kernel on all data (values standardised); the region is the
    box of side ``length * w_i`` around the best point, ``w`` the lengthscales divided by their geometric mean;
    ``min(max_candidates, max(2000, 200 d))`` Sobol candidates perturb the incumbent in each coordinate with
    probability ``min(20 / d, 1)``; ``q`` pathwise posterior samples each take their best candidate not yet chosen.
    Unlike the paper, a restart after the region collapses keeps the data (with 7 rounds it almost never happens).
    """
    history = _prior_round(prior, oracle, seed, batch_size, steps, device)
    box = UnitBox.of(lower, upper)
    dim = box.dim
    region = TrustRegion(dim, batch_size)
    region.best_value = float(np.max(impute_failures(history[0][1])))
    num_candidates = min(max_candidates, max(2000, 200 * dim))
    for r in range(1, rounds):
        train_x, y = box.training_data(history)
        train_y = (y - y.mean()) / y.std().clamp_min(1e-9)
        torch.manual_seed(seed * 1000 + r)  # BoTorch's path features come from the global generator
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            covar = ScaleKernel(MaternKernel(nu=2.5, ard_num_dims=dim))
            model = SingleTaskGP(train_x, train_y[:, None], covar_module=covar)
            fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
            candidates = _trust_region_candidates(model, train_x, train_y, region.length, num_candidates,
                                                  seed * 1000 + r)
            chosen = _thompson_batch(model, candidates, batch_size)
        xs = box.from_unit(chosen, history[0][0].shape[1:])
        values = _query(oracle, xs)
        history.append((xs, values))
        all_values = impute_failures(np.concatenate([h[1] for h in history]))
        region.update(all_values[-batch_size:])
    return history


def _trust_region_candidates(model, train_x: torch.Tensor, train_y: torch.Tensor, length: float, n: int,
                             seed: int) -> torch.Tensor:
    """``[n, d]`` candidates in the trust region around the incumbent (unit-cube coordinates)."""
    dim = train_x.shape[-1]
    center = train_x[int(train_y.argmax())]
    lengthscale = model.covar_module.base_kernel.lengthscale.detach().reshape(-1)
    weights = lengthscale / lengthscale.mean()
    weights = weights / weights.prod().pow(1.0 / dim)
    lo = (center - weights * length / 2).clamp(0.0, 1.0)
    hi = (center + weights * length / 2).clamp(0.0, 1.0)
    sobol = SobolEngine(dim, scramble=True, seed=seed).draw(n).to(train_x)
    perturbed = lo + (hi - lo) * sobol
    probability = min(20.0 / dim, 1.0)
    generator = torch.Generator().manual_seed(seed)
    mask = torch.rand(n, dim, generator=generator, dtype=train_x.dtype) <= probability
    empty = mask.sum(1) == 0  # every candidate moves in at least one coordinate
    mask[empty, torch.randint(0, dim, (int(empty.sum()),), generator=generator)] = True
    return torch.where(mask, perturbed, center.expand(n, dim))


def _thompson_batch(model, candidates: torch.Tensor, q: int) -> torch.Tensor:
    """``[q, d]``: each of ``q`` pathwise posterior samples picks its best candidate not already picked."""
    with torch.no_grad():
        paths = draw_matheron_paths(model, sample_shape=torch.Size([q]))
        values = paths(candidates).reshape(q, -1)  # [q, n]
    taken = torch.zeros(candidates.shape[0], dtype=torch.bool)
    picks = []
    for row in values:
        index = int(torch.where(taken, -math.inf, row).argmax())
        taken[index] = True
        picks.append(index)
    return candidates[picks]
