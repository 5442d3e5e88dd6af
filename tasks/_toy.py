"""Helpers shared by the low-dimensional toy tasks (``gmm2d``, ``swissroll3d``).

- :func:`load_mlp_prior`: a shipped :class:`~oboptim.priors._mlp.MLPDenoiser` as a frozen :class:`DiffusionPrior`.
- :func:`deterministic_noisy_oracle`: reward plus Gaussian noise whose draw is a function of the candidate's bytes, so
  re-querying the same ``x`` (for instance after a resume) returns exactly the same value.
- :func:`rejection_sample`: exact samples of ``p(x) exp(r(x))`` for ``r ≤ 0`` from samples of ``p``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

import oboptim.data
from oboptim.priors import DiffusionPrior, MLPDenoiser

DATA_DIR = Path(oboptim.data.__file__).parent

# Campaign defaults shared by the toy tasks (gmm2d, swissroll3d, mixture8d): only the batch and the budget. Every
# sampler setting is the library's default (CampaignSettings), which needs no per-task alpha
# (bench/defaults_research.md).
TOY_CAMPAIGN_DEFAULTS = {
    "batch_size": 16,
    "budget": 96,
}

RewardFn = Callable[[Tensor], Tensor]
Sampler = Callable[[int, np.random.Generator], np.ndarray]


def load_mlp_prior(filename: str, device: torch.device | str = "cpu") -> DiffusionPrior:
    """The shipped denoiser ``data/<filename>`` as a prior; weights frozen, gradients still flow to ``x``."""
    model = MLPDenoiser.load(DATA_DIR / filename, device=device).eval()
    model.requires_grad_(False)
    scheduler = model.noise_schedule()
    return DiffusionPrior(eps_fn=model, alphas_cumprod=scheduler.alphas_cumprod, sample_shape=(model.config["dim"],))


def candidate_seed(row: np.ndarray, salt: str) -> int:
    """A 64-bit seed that is a function of one candidate's float64 bytes (and a per-task salt)."""
    digest = hashlib.blake2b(np.ascontiguousarray(row, dtype=np.float64).tobytes(), digest_size=8, person=b"oboptim")
    digest.update(salt.encode())
    return int.from_bytes(digest.digest(), "little")


def deterministic_noisy_oracle(
    reward: RewardFn, noise_std: float, dim: int, salt: str
) -> Callable[[np.ndarray], list[float]]:
    """An oracle ``x [B, dim] -> B floats``: ``reward(x) + noise_std · z`` with ``z`` seeded by ``x``'s bytes."""

    def oracle(x: np.ndarray) -> list[float]:
        rows = np.asarray(x, dtype=np.float64).reshape(-1, dim)
        clean = reward(torch.from_numpy(rows)).numpy()
        noise = [np.random.default_rng(candidate_seed(row, salt)).standard_normal() for row in rows]
        return [float(v + noise_std * z) for v, z in zip(clean, noise)]

    return oracle


def rejection_sample(
    sample_prior: Sampler, reward: RewardFn, n: int, rng: np.random.Generator, batch: int = 1 << 16
) -> np.ndarray:
    """Exact draws from ``p(x) exp(reward(x))`` for a reward ``≤ 0``: accept a prior draw with probability
    ``exp(reward(x))``. Returns ``[n, d]`` float64."""
    accepted: list[np.ndarray] = []
    count = 0
    while count < n:
        proposals = sample_prior(batch, rng)
        log_accept = reward(torch.from_numpy(proposals)).numpy()
        if np.any(log_accept > 1e-12):
            raise ValueError("rejection_sample needs a reward <= 0 everywhere")
        keep = proposals[np.log(rng.uniform(size=batch)) < log_accept]
        accepted.append(keep)
        count += len(keep)
    return np.concatenate(accepted)[:n]
