"""What an SMC run returns, and the ways to pick samples from it.

A campaign takes its batch from a result with a batch selection (:data:`oboptim.sampling.SELECTIONS`,
:func:`oboptim.sampling.select_particles`); :meth:`SMCResult.resample` and :meth:`SMCResult.argmax` give the
per-group draws a direct user of the sampler wants.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from oboptim._registry import RESAMPLERS


@dataclass(frozen=True)
class SMCResult:
    """The particles of G groups after K steps, with their weights and traces.

    Attributes:
        particles: ``[G, N, *shape]`` final particles (in the prior's space; see :meth:`decoded`).
        log_weights: ``[G, N]`` normalised per group.
        log_z: ``[G]`` estimate of ``log E_prior[exp(r / alpha)]``.
        ess: ``[K, G]`` ESS after each move, before resampling.
        lambdas: ``[K + 1, G]`` tempering weight at each level.
        log_z_trace: ``[K, G]`` running log Z.
        reward_trace: ``[K, G]`` weighted mean of ``r(x0_hat)`` after each move.
        resampled: ``[K, G]`` bool, whether each group was resampled after each move.
        rewards: ``[G, N]`` reward of the final particles.
        decoder: maps particles into the task's domain.
    """

    particles: Tensor
    log_weights: Tensor
    log_z: Tensor
    ess: Tensor
    lambdas: Tensor
    log_z_trace: Tensor
    reward_trace: Tensor
    resampled: Tensor
    rewards: Tensor
    decoder: Callable[[Tensor], Tensor]

    @property
    def weights(self) -> Tensor:
        """``[G, N]`` normalised weights."""
        return self.log_weights.exp()

    def resample(self, k: int, generator: torch.Generator, scheme: str = "systematic") -> Tensor:
        """``k`` particles per group drawn by weight: ``[G, k, *shape]`` (diverse, distributional)."""
        return self._gather(self.resample_indices(k, generator, scheme))

    def resample_indices(self, k: int, generator: torch.Generator, scheme: str = "systematic") -> Tensor:
        """The ``[G, k]`` particle indices :meth:`resample` would pick."""
        return RESAMPLERS.get(scheme)(self.log_weights, k, generator)

    def argmax(self) -> Tensor:
        """The heaviest particle of each group: ``[G, *shape]``."""
        return self._gather(self.log_weights.argmax(-1, keepdim=True)).squeeze(1)

    def decoded(self, samples: Tensor | None = None) -> Tensor:
        """Decode ``samples`` (default: all particles) into the task's domain, keeping leading dims."""
        samples = self.particles if samples is None else samples
        lead = samples.shape[: samples.ndim - (self.particles.ndim - 2)]
        with torch.no_grad():
            out = self.decoder(samples.reshape(-1, *self.particles.shape[2:]))
        return out.reshape(*lead, *out.shape[1:])

    def weighted_mean(self, values: Tensor | None = None) -> Tensor:
        """Weighted mean per group of ``values`` [G, N, ...] (default: the particles): ``[G, ...]``."""
        values = self.particles if values is None else values
        w = self.weights.view(*self.weights.shape, *([1] * (values.ndim - 2)))
        return (w * values).sum(1)

    def _gather(self, index: Tensor) -> Tensor:
        groups, n = self.log_weights.shape
        flat = (index + torch.arange(groups, device=index.device).unsqueeze(-1) * n).reshape(-1)
        picked = self.particles.reshape(groups * n, *self.particles.shape[2:])[flat]
        return picked.view(groups, index.shape[1], *self.particles.shape[2:])
