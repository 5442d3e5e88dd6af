"""An exact isotropic Gaussian-mixture prior, shared by the benchmark tasks built on standard test functions.

:class:`IsotropicMixture` is ``Σ_k π_k N(mu_k, s^2 I)`` with everything a task needs in closed form: the exact noise
prediction on the toy DDPM schedule (:func:`oboptim.priors.gaussian_mixture_eps`; docs/algorithm.md, "Closed
forms"), the exact log-density and exact samples. A task composes it with a black box whose global maximiser over all of
``R^d`` is placed at a high-density point of the mixture, so that the best value on the support is known exactly
(``hartmann6d``, ``levy12d``, ``necklace10d``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from oboptim.priors import (
    DiffusionPrior,
    gaussian_mixture_eps,
    noised_mixture_log_density,
    sample_gaussian_mixture,
    toy_noise_schedule,
)

BETA_SCHEDULE = "linear"


@dataclass(frozen=True)
class IsotropicMixture:
    """``Σ_k weights_k N(means_k, std^2 I)``: ``means [K, d]``, ``weights [K]`` (normalised here)."""

    means: np.ndarray
    std: float
    weights: np.ndarray

    @property
    def dim(self) -> int:
        return int(self.means.shape[1])

    def log_density(self, x: np.ndarray | torch.Tensor) -> np.ndarray:
        """The exact log-density: ``[n, d] -> [n]`` float64."""
        points = torch.as_tensor(np.asarray(x, dtype=np.float64)).reshape(-1, self.dim)
        return noised_mixture_log_density(points, 1.0, torch.from_numpy(self.means),
                                          torch.from_numpy(self.weights), self.std).numpy()

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` exact draws: ``[n, d]`` float64."""
        return sample_gaussian_mixture(self.means, self.weights, self.std**2 * np.eye(self.dim), n, rng)

    def load_prior(self, device: torch.device | str = "cpu") -> DiffusionPrior:
        """The mixture as a diffusion prior: exact ``eps`` on the toy DDPM schedule (nothing to load or train)."""
        abar = toy_noise_schedule(BETA_SCHEDULE).alphas_cumprod
        eps_fn = gaussian_mixture_eps(torch.from_numpy(self.means).to(device), torch.from_numpy(self.weights),
                                      self.std, abar)
        return DiffusionPrior(eps_fn=eps_fn, alphas_cumprod=abar, sample_shape=(self.dim,))

    def mode_log_density(self, k: int) -> float:
        """The log-density at the centre of mode ``k`` (for certifying that a point is deep inside the support)."""
        return float(self.log_density(self.means[k:k + 1])[0])


def separated_points(count: int, dim: int, low: float, high: float, min_distance: float,
                     rng: np.random.Generator, fixed: np.ndarray | None = None) -> np.ndarray:
    """``count`` points uniform in ``[low, high]^dim`` at pairwise distance ``>= min_distance`` from each other and
    from the rows of ``fixed`` (rejection; deterministic for a given ``rng``): ``[count, dim]`` float64."""
    chosen = [] if fixed is None else [np.asarray(row, dtype=np.float64) for row in fixed]
    start = len(chosen)
    for _ in range(100_000):
        if len(chosen) - start == count:
            return np.stack(chosen[start:])
        point = rng.uniform(low, high, size=dim)
        if all(np.linalg.norm(point - other) >= min_distance for other in chosen):
            chosen.append(point)
    raise RuntimeError(f"could not place {count} points {min_distance} apart in [{low}, {high}]^{dim}")


def unit_vector(dim: int, rng: np.random.Generator) -> np.ndarray:
    """A fixed random direction: ``[dim]`` with norm 1."""
    v = rng.standard_normal(dim)
    return v / math.sqrt(float(v @ v))
