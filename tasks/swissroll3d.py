"""``swissroll3d``: the 3-D Swiss roll from the DAS paper (Kim et al., ICLR 2025; docs/algorithm.md, "Toy problems").

Prior data: ``t ~ U(1.5π, 4.5π)``, ``x = t cos t / 2``, ``y = t sin t / 2``, ``z ~ U(-3, 3)``, plus ``N(0, 0.1^2)``
noise on each coordinate. Reward: ``r(x) = -x^2/100 - y^2/100 - z^2`` (``≤ 0``), which pulls towards the inner turns
and the ``z = 0`` slice. The alpha = 1 target ``p(x) exp(r(x))`` has no closed form, but since ``r ≤ 0`` it is sampled
exactly by rejection from the data distribution (accept with probability ``exp(r(x))``). Its mean reward,
measured with 4e6 exact samples (seed 0), is :data:`EXACT_TARGET_MEAN_REWARD` (published: about -0.72).

Named oracle ``centred`` (``--oracle centred``, the sample-efficiency benchmark's): the same reward recentred on the
roll, ``-(x - c_x)^2/100 - (y - c_y)^2/100 - z^2`` plus the same noise, with ``c = (3 pi cos 3 pi / 2, 3 pi sin 3 pi /
2, 0) = (-4.712, 0, 0)`` the roll's centre line at ``t = 3 pi`` (mid-range), so its maximum over all of ``R^3`` (0)
lies on the support at a high density and no query anywhere can score above it. (The paper's reward peaks at the
origin, 2.4 off the roll: box BO found better values off the manifold.)

:func:`log_density` is the data distribution's exact log-density: the ``z`` integral is a difference of normal CDFs
and the ``t`` integral a fine trapezoid quadrature along the roll.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.special import log_ndtr
from torch import Tensor

from oboptim import TASKS, Task, oracle_without_argument
from oboptim.priors import DiffusionPrior
from oboptim.tasks._toy import TOY_CAMPAIGN_DEFAULTS, deterministic_noisy_oracle, load_mlp_prior, rejection_sample

DIM = 3
T_RANGE = (1.5 * math.pi, 4.5 * math.pi)
Z_RANGE = (-3.0, 3.0)
DATA_NOISE_STD = 0.1
ORACLE_NOISE_STD = 0.1
WEIGHTS_FILE = "swissroll3d_mlp.safetensors"
# Measured by `python scripts/train_toy_priors.py --measure-swissroll-target`: 4e6 rejection samples, seed 0,
# -0.7241 with Monte Carlo standard error 0.0004 (published: about -0.72).
EXACT_TARGET_MEAN_REWARD = -0.7241
EXACT_TARGET_MEAN_REWARD_SEM = 0.0004


def reward(x: Tensor) -> Tensor:
    """The paper's reward ``-x^2/100 - y^2/100 - z^2``: ``x [B, 3] -> [B]``, differentiable."""
    return -(x[..., 0] ** 2) / 100 - x[..., 1] ** 2 / 100 - x[..., 2] ** 2


CENTRE_T = 3 * math.pi
CENTRE = np.array([CENTRE_T * math.cos(CENTRE_T) / 2, CENTRE_T * math.sin(CENTRE_T) / 2, 0.0])


def centred_reward(x: Tensor) -> Tensor:
    """The paper's reward recentred on the roll point ``CENTRE``: ``x [B, 3] -> [B]``, maximum 0 at ``CENTRE``."""
    d = x - torch.as_tensor(CENTRE, dtype=x.dtype, device=x.device)
    return -(d[..., 0] ** 2) / 100 - d[..., 1] ** 2 / 100 - d[..., 2] ** 2


def sample_data(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` draws of the prior's data distribution: ``[n, 3]`` float64."""
    t = rng.uniform(*T_RANGE, size=n)
    z = rng.uniform(*Z_RANGE, size=n)
    clean = np.stack([t * np.cos(t) / 2, t * np.sin(t) / 2, z], axis=1)
    return clean + DATA_NOISE_STD * rng.standard_normal((n, DIM))


def log_density(x: np.ndarray | Tensor, num_t: int = 4096) -> np.ndarray:
    """Exact ``log p(x)`` of the data distribution: ``[n, 3] -> [n]`` float64.

    ``p(x) = E_t[N2((x, y); c(t), s^2)] · E_z[N(z'; z, s^2)]`` with ``c(t) = (t cos t, t sin t) / 2``; the ``t``
    expectation uses ``num_t`` trapezoid nodes (spacing 0.0023, far below ``s / |c'(t)| ≥ 0.013``).
    """
    points = np.asarray(x, dtype=np.float64).reshape(-1, DIM)
    s = DATA_NOISE_STD
    lo, hi = Z_RANGE
    # log of ∫ N(z'; z, s^2) dz / (hi - lo) over [lo, hi]: Φ((hi - z')/s) - Φ((lo - z')/s), stably in logs
    a, b = log_ndtr((hi - points[:, 2]) / s), log_ndtr((lo - points[:, 2]) / s)
    log_z = a + np.log1p(-np.exp(np.minimum(b - a, 0.0))) - math.log(hi - lo)
    t = np.linspace(*T_RANGE, num_t)
    trapezoid = np.full(num_t, 1.0 / (num_t - 1))
    trapezoid[[0, -1]] /= 2
    curve = np.stack([t * np.cos(t) / 2, t * np.sin(t) / 2], axis=1)  # [T, 2]
    log_xy = np.empty(len(points))
    for start in range(0, len(points), 1024):
        sq = ((points[start:start + 1024, None, :2] - curve[None]) ** 2).sum(-1)  # [b, T]
        terms = np.log(trapezoid)[None] - sq / (2 * s**2)
        peak = terms.max(1, keepdims=True)
        log_xy[start:start + 1024] = (peak[:, 0] + np.log(np.exp(terms - peak).sum(1))
                                      - math.log(2 * math.pi * s**2))
    return log_xy + log_z


def sample_exact_target(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` exact draws of ``p(x) exp(r(x))`` by rejection from the data distribution: ``[n, 3]`` float64."""
    return rejection_sample(sample_data, reward, n, rng)


def load_prior(device: torch.device | str = "cpu") -> DiffusionPrior:
    """The shipped MLP denoiser (``data/swissroll3d_mlp.safetensors``) as a frozen prior on ``device``."""
    return load_mlp_prior(WEIGHTS_FILE, device)


TASK = Task(
    name="swissroll3d",
    description=TASKS.help("swissroll3d"),
    load_prior=load_prior,
    oracle=deterministic_noisy_oracle(reward, ORACLE_NOISE_STD, DIM, salt="swissroll3d"),
    features=lambda x: x.flatten(1),
    reward=reward,
    exact_target=sample_exact_target,
    exact_target_mean_reward=EXACT_TARGET_MEAN_REWARD,
    sample_data=sample_data,
    defaults=TOY_CAMPAIGN_DEFAULTS,
    named_oracles={"centred": oracle_without_argument(
        "centred", deterministic_noisy_oracle(centred_reward, ORACLE_NOISE_STD, DIM, salt="swissroll3d-centred"))},
)
