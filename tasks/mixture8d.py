"""``mixture8d``: an exact 8-D Gaussian mixture prior (no training) and a shifted Ackley oracle with a known optimum.

Prior data: 8 equal-weight Gaussians ``N(mu_k, s^2 I)`` with ``s = 0.5`` and means ``mu_k = 1.5 · h_k``, where
``h_k`` are the rows of the 8x8 Sylvester-Hadamard matrix. Any two rows differ in 4 coordinates, so every pair of
modes is 6 apart (12 standard deviations): the support is 8 well-separated blobs filling a vanishing fraction of their
bounding box, the situation in which box-constrained Bayesian optimisation wastes queries off the data manifold.

Prior: a :class:`DiffusionPrior` with the exact mixture noise prediction (:func:`gaussian_mixture_eps`,
docs/algorithm.md, "Closed forms") on the toy DDPM schedule (1000 linear betas, 1e-4 to 0.02), so the sampler is
tested without any training error.

Oracle: ``f(x) = -Ackley((x - x*) / LENGTH_SCALE)``, noise free, maximised at ``x* = mu_5 + s · u`` (``u`` a fixed
unit vector) with ``f(x*) = 0``. ``x*`` lies one standard deviation from the centre of mode 5, deep inside the
support (its log-density is 0.5 nats below that mode's peak; the 1st percentile of prior samples lies about 10 nats
below). The other modes score about -5.5, so the oracle rewards finding the right mode and then its best point.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from oboptim import TASKS, Task
from oboptim.priors import (
    DiffusionPrior,
    gaussian_mixture_eps,
    noised_mixture_log_density,
    sample_gaussian_mixture,
    toy_noise_schedule,
)
from oboptim.tasks._toy import TOY_CAMPAIGN_DEFAULTS

DIM = 8
MODE_STD = 0.5
MODE_SCALE = 1.5


def _hadamard(n: int) -> np.ndarray:
    """Sylvester's ``n x n`` Hadamard matrix (``n`` a power of 2): rows of ±1, pairwise orthogonal."""
    h = np.ones((1, 1))
    while h.shape[0] < n:
        h = np.block([[h, h], [h, -h]])
    return h


MODE_MEANS = MODE_SCALE * _hadamard(DIM)  # [8, 8]
MODE_WEIGHTS = np.full(DIM, 1 / DIM)
OPTIMUM_MODE = 5
_DIRECTION = np.array([1.0, -1.0, 1.0, 1.0, -1.0, 1.0, -1.0, -1.0]) / math.sqrt(DIM)
OPTIMUM = MODE_MEANS[OPTIMUM_MODE] + MODE_STD * _DIRECTION  # [8]; f(OPTIMUM) = 0
OPTIMUM_VALUE = 0.0
LENGTH_SCALE = 2.0
BETA_SCHEDULE = "linear"


def ackley(z: Tensor) -> Tensor:
    """The Ackley function ``[B, d] -> [B]`` (minimum 0 at ``z = 0``), differentiable except at 0."""
    mean_square = (z**2).mean(-1)
    # sqrt'(0) is infinite: the floor keeps the gradient finite exactly at the optimum
    radius = mean_square.clamp_min(1e-24).sqrt()
    return (-20.0 * torch.exp(-0.2 * radius) - torch.exp(torch.cos(2 * math.pi * z).mean(-1)) + 20.0 + math.e)


def reward(x: Tensor) -> Tensor:
    """The noise-free oracle ``-Ackley((x - x*) / LENGTH_SCALE)``: ``x [B, 8] -> [B]`` (maximum 0 at ``x*``)."""
    shift = torch.as_tensor(OPTIMUM, dtype=x.dtype, device=x.device)
    return -ackley((x - shift) / LENGTH_SCALE)


def oracle(x: np.ndarray) -> list[float]:
    """The black box: ``x [B, 8]`` numpy -> ``B`` floats, deterministic (float64 inside)."""
    rows = torch.from_numpy(np.asarray(x, dtype=np.float64).reshape(-1, DIM))
    return [float(v) for v in reward(rows)]


def sample_data(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` exact draws of the mixture: ``[n, 8]`` float64."""
    return sample_gaussian_mixture(MODE_MEANS, MODE_WEIGHTS, MODE_STD**2 * np.eye(DIM), n, rng)


def log_density(x: np.ndarray | Tensor) -> np.ndarray:
    """The mixture's exact log-density: ``[n, 8] -> [n]`` float64."""
    points = torch.as_tensor(np.asarray(x, dtype=np.float64)).reshape(-1, DIM)
    return noised_mixture_log_density(points, 1.0, torch.from_numpy(MODE_MEANS), torch.from_numpy(MODE_WEIGHTS),
                                      MODE_STD).numpy()


def load_prior(device: torch.device | str = "cpu") -> DiffusionPrior:
    """The mixture as a diffusion prior: exact ``eps`` on the toy DDPM schedule (nothing to load or train)."""
    abar = toy_noise_schedule(BETA_SCHEDULE).alphas_cumprod
    eps_fn = gaussian_mixture_eps(torch.from_numpy(MODE_MEANS).to(device), torch.from_numpy(MODE_WEIGHTS), MODE_STD,
                                  abar)
    return DiffusionPrior(eps_fn=eps_fn, alphas_cumprod=abar, sample_shape=(DIM,))


TASK = Task(
    name="mixture8d",
    description=TASKS.help("mixture8d"),
    load_prior=load_prior,
    oracle=oracle,
    features=lambda x: x.flatten(1),
    reward=reward,
    sample_data=sample_data,
    defaults={**TOY_CAMPAIGN_DEFAULTS, "budget": 128},
)
