"""``gmm2d``: the 2-D mixture of 9 Gaussians from the DAS paper (Kim et al., ICLR 2025; docs/algorithm.md).

Prior data: equal-weight Gaussians with means on the grid ``{-4, 0, 4}^2`` and covariance ``0.3 I``.
Reward: ``r(x) = -x1^2/100 - x2^2``, i.e. ``-x^T A x / 2`` with ``A = diag(0.02, 2)``; it favours the three modes on
the x-axis, with the centre one slightly ahead. For ``alpha = 1`` the target ``p(x) exp(r(x))`` is again a Gaussian
mixture (:func:`oboptim.priors._closed_form.mixture_quadratic_posterior`): mean reward -0.290 and weights
0.315 / 0.370 / 0.315 on the x-axis modes, so samples and Wasserstein distances to it are exact.

The shipped prior is an :class:`~oboptim.priors._mlp.MLPDenoiser` trained by ``scripts/train_toy_priors.py``;
:func:`exact_mixture_prior` gives the same schedule with the exact mixture noise prediction instead, to separate
training error from sampler error.

Named oracle ``corner`` (``--oracle corner``): ``-|x - (4, 4)|^2 / 2`` plus the same noise, maximised (value 0) at the
centre of the corner mode ``(4, 4)``, so its optimum lies on the prior's support; the sample-efficiency benchmark
(``scripts/bench_campaign.py --compare``) uses it. :func:`log_density` is the data mixture's exact log-density.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import torch
from torch import Tensor

from oboptim import TASKS, Task, oracle_without_argument
from oboptim.priors import (
    DiffusionPrior,
    gaussian_mixture_eps,
    mixture_quadratic_posterior,
    noised_mixture_log_density,
    sample_gaussian_mixture,
    toy_noise_schedule,
)
from oboptim.tasks._toy import TOY_CAMPAIGN_DEFAULTS, deterministic_noisy_oracle, load_mlp_prior

DIM = 2
MODE_MEANS = np.array(list(itertools.product((-4.0, 0.0, 4.0), repeat=2)))  # [9, 2]
MODE_WEIGHTS = np.full(9, 1 / 9)
MODE_VARIANCE = 0.3
REWARD_MATRIX = np.diag([2 / 100, 2.0])  # r(x) = -x^T A x / 2
ORACLE_NOISE_STD = 0.1
WEIGHTS_FILE = "gmm2d_mlp.safetensors"
BETA_SCHEDULE = "linear"
CORNER = np.array([4.0, 4.0])  # the corner mode the ``corner`` oracle rewards


def reward(x: Tensor) -> Tensor:
    """The paper's reward ``-x1^2/100 - x2^2``: ``x [B, 2] -> [B]``, differentiable."""
    return -(x[..., 0] ** 2) / 100 - x[..., 1] ** 2


def corner_reward(x: Tensor) -> Tensor:
    """``-|x - (4, 4)|^2 / 2``: ``x [B, 2] -> [B]``, differentiable; maximum 0 at the corner mode's centre."""
    return -((x - torch.as_tensor(CORNER, dtype=x.dtype, device=x.device)) ** 2).sum(-1) / 2


def log_density(x: np.ndarray | Tensor) -> np.ndarray:
    """The data mixture's exact log-density: ``[n, 2] -> [n]`` float64."""
    points = torch.as_tensor(np.asarray(x, dtype=np.float64)).reshape(-1, DIM)
    return noised_mixture_log_density(points, 1.0, torch.from_numpy(MODE_MEANS), torch.from_numpy(MODE_WEIGHTS),
                                      math.sqrt(MODE_VARIANCE)).numpy()


def sample_data(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` draws of the prior's data distribution: ``[n, 2]`` float64."""
    return sample_gaussian_mixture(MODE_MEANS, MODE_WEIGHTS, MODE_VARIANCE * np.eye(DIM), n, rng)


def exact_posterior():
    """The alpha = 1 target as a mixture (means, cov, weights, mean_reward); the prior is the true data mixture."""
    return mixture_quadratic_posterior(
        torch.from_numpy(MODE_MEANS), torch.from_numpy(MODE_WEIGHTS), math.sqrt(MODE_VARIANCE),
        torch.from_numpy(REWARD_MATRIX),
    )


def sample_exact_target(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` exact draws of ``p(x) exp(r(x))``: ``[n, 2]`` float64."""
    post = exact_posterior()
    return sample_gaussian_mixture(post.means.numpy(), post.weights.numpy(), post.cov.numpy(), n, rng)


def nearest_mode(x: np.ndarray) -> np.ndarray:
    """Index of the closest mixture mean for each point: ``[n, 2] -> [n]`` int."""
    return np.argmin(((np.asarray(x)[:, None, :] - MODE_MEANS[None]) ** 2).sum(-1), axis=1)


def load_prior(device: torch.device | str = "cpu") -> DiffusionPrior:
    """The shipped MLP denoiser (``data/gmm2d_mlp.safetensors``) as a frozen prior on ``device``."""
    return load_mlp_prior(WEIGHTS_FILE, device)


def exact_mixture_prior(device: torch.device | str = "cpu") -> DiffusionPrior:
    """The true data mixture as a prior, with the exact noise prediction and the shipped model's schedule."""
    abar = toy_noise_schedule(BETA_SCHEDULE).alphas_cumprod
    eps_fn = gaussian_mixture_eps(
        torch.from_numpy(MODE_MEANS).to(device), torch.from_numpy(MODE_WEIGHTS), math.sqrt(MODE_VARIANCE), abar
    )
    return DiffusionPrior(eps_fn=eps_fn, alphas_cumprod=abar, sample_shape=(DIM,))


TASK = Task(
    name="gmm2d",
    description=TASKS.help("gmm2d"),
    load_prior=load_prior,
    oracle=deterministic_noisy_oracle(reward, ORACLE_NOISE_STD, DIM, salt="gmm2d"),
    features=lambda x: x.flatten(1),
    reward=reward,
    exact_target=sample_exact_target,
    exact_target_mean_reward=exact_posterior().mean_reward,
    sample_data=sample_data,
    defaults=TOY_CAMPAIGN_DEFAULTS,
    # --oracle corner: corner_reward plus noise 0.1, deterministic in x
    named_oracles={"corner": oracle_without_argument(
        "corner", deterministic_noisy_oracle(corner_reward, ORACLE_NOISE_STD, DIM, salt="gmm2d-corner"))},
)
