"""Baselines of the sample-efficiency benchmark, each ``run(...) -> list of rounds of (x [B, *shape], values [B])``.

- :func:`random_search`: fresh prior samples every round (round ``r`` uses the campaign's generator for round ``r``,
  so round 0 equals every oboptim campaign's round 0 with the same seed);
- :func:`box_bayesopt`: what a Bayesian-optimisation user would do without a prior: a BoTorch ``SingleTaskGP`` on the
  raw design space scaled to the unit cube of the prior samples' bounding box, and batch ``qLogExpectedImprovement``
  maximised by ``optimize_acqf``. It starts from the same round 0 of prior samples. It cannot avoid failures: a failed
  query enters its training data as the worst value observed so far (common practice).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np
import torch
from botorch.acquisition.logei import qLogExpectedImprovement
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from botorch.optim import optimize_acqf
from botorch.sampling.normal import SobolQMCNormalSampler
from gpytorch.mlls import ExactMarginalLogLikelihood

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


def box_bayesopt(prior: DiffusionPrior, oracle: Oracle, *, seed: int, batch_size: int, rounds: int, steps: int,
                 lower: np.ndarray, upper: np.ndarray, device: str = "cpu", num_restarts: int = 8,
                 raw_samples: int = 512, mc_samples: int = 128, maxiter: int = 100) -> list[Round]:
    """Round 0 from the prior, then ``rounds - 1`` batches of qLogEI over the box ``[lower, upper]`` (``[*shape]``)."""
    xs0 = sample_prior(prior, batch_size, steps, round_generator(seed, 0, device))
    history = [(xs0, _query(oracle, xs0))]
    shape = xs0.shape[1:]
    low = torch.as_tensor(lower, dtype=torch.float64).reshape(-1)
    span = (torch.as_tensor(upper, dtype=torch.float64).reshape(-1) - low).clamp_min(1e-9)
    dim = low.numel()
    unit = torch.stack([torch.zeros(dim, dtype=torch.float64), torch.ones(dim, dtype=torch.float64)])
    for r in range(1, rounds):
        X = torch.as_tensor(np.concatenate([h[0] for h in history]).reshape(-1, dim), dtype=torch.float64)
        y = torch.as_tensor(impute_failures(np.concatenate([h[1] for h in history])))
        train_x = ((X - low) / span).clamp(0.0, 1.0)
        torch.manual_seed(seed * 1000 + r)  # optimize_acqf's raw samples come from the global generator
        with warnings.catch_warnings():  # jitter and L-BFGS line-search notes are routine here
            warnings.simplefilter("ignore")
            model = SingleTaskGP(train_x, y[:, None])
            fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
            acquisition = qLogExpectedImprovement(model, best_f=float(y.max()), sampler=SobolQMCNormalSampler(
                torch.Size([mc_samples]), seed=seed * 1000 + r))
            candidates, _ = optimize_acqf(acquisition, bounds=unit, q=batch_size, num_restarts=num_restarts,
                                          raw_samples=raw_samples, options={"maxiter": maxiter})
        xs = (low + candidates.detach() * span).reshape(batch_size, *shape).float().numpy()
        history.append((xs, _query(oracle, xs)))
    return history
