"""Evaluating particles: denoiser, Tweedie estimate, reward and its gradient, in memory-bounded chunks.

Everything the SMC loop needs about the particles at one level comes from one forward (and, with guidance, one
backward) pass, done here. The reward is divided by alpha once, here. A non-finite reward or gradient marks that
particle dead (weight 0) instead of poisoning its group; a group with no live particle left is an error.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from oboptim.priors._diffusion_prior import DiffusionPrior
from oboptim.sampling._kernel import predict_x0


@dataclass(frozen=True)
class Evaluation:
    """Per-particle quantities at one level, flattened over groups: M = G · N.

    Attributes:
        eps: ``[M, *shape]`` float32 noise prediction (None for clean samples).
        scaled_reward: ``[M]`` ``r(x0_hat) / alpha``, 0 where the particle is dead.
        grad: ``[M, *shape]`` ``∇ r(x0_hat) / alpha`` w.r.t. the particle, 0 where dead; None without guidance.
        alive: ``[M]`` bool, False where the reward or its gradient was not finite.
    """

    eps: Tensor | None
    scaled_reward: Tensor
    grad: Tensor | None
    alive: Tensor

    def select(self, index: Tensor) -> Evaluation:
        """The rows ``index`` ([M] long), e.g. after resampling."""
        pick = lambda t: None if t is None else t[index]  # noqa: E731
        return Evaluation(pick(self.eps), self.scaled_reward[index], pick(self.grad), self.alive[index])


class ParticleEvaluator:
    """Runs the prior and the reward on ``[G, N, *shape]`` particles, ``batch_size`` particles at a time."""

    def __init__(
        self,
        prior: DiffusionPrior,
        reward_fn: Callable[[Tensor], Tensor],
        *,
        alpha: float,
        batch_size: int | None,
        num_groups: int,
        num_particles: int,
        conditioning: Tensor | None = None,
    ) -> None:
        self.prior = prior
        self.reward_fn = reward_fn
        self.alpha = alpha
        self.batch_size = batch_size
        self.num_groups = num_groups
        self.num_particles = num_particles
        self.conditioning = conditioning
        if conditioning is not None and conditioning.shape[0] not in (1, num_groups):
            raise ValueError(
                f"conditioning has {conditioning.shape[0]} rows; expected 1 or num_groups={num_groups}"
            )
        self._dead_groups: Tensor | None = None  # [G] bool, on the particles' device
        self._any_dead: Tensor | None = None  # 0-d bool

    def at_timestep(self, particles: Tensor, t: Tensor, abar: Tensor, *, with_grad: bool) -> Evaluation:
        """Denoise ``particles`` [G, N, *shape] at timestep ``t`` and score Tweedie's estimate."""
        flat = particles.reshape(-1, *self.prior.sample_shape)
        chunks = [self._chunk_at_timestep(flat, start, stop, t, abar, with_grad) for start, stop in self._spans(flat)]
        eps = torch.cat([c[0] for c in chunks])
        reward = torch.cat([c[1] for c in chunks])
        grad = torch.cat([c[2] for c in chunks]) if with_grad else None
        return self._sanitised(eps, reward, grad)

    def at_clean(self, particles: Tensor) -> Evaluation:
        """Score clean samples ``particles`` [G, N, *shape] with the exact reward (no denoiser)."""
        flat = particles.reshape(-1, *self.prior.sample_shape)
        with torch.no_grad():
            reward = torch.cat([self._reward(flat[start:stop]) for start, stop in self._spans(flat)])
        return self._sanitised(None, reward, None)

    def check_groups_alive(self, log_weights: Tensor, *, now: bool = False) -> None:
        """Note groups ([G, N] log weights) with no finite weight left; raise at once with ``now``, else at
        :meth:`finish` (checking every step would stall a GPU on a host sync)."""
        dead = ~torch.isfinite(log_weights).any(-1)
        self._dead_groups = dead if self._dead_groups is None else self._dead_groups | dead
        if now:
            self._raise_if_dead()

    def finish(self) -> None:
        """End of a run: raise for dead groups, warn once if some particles were dropped."""
        self._raise_if_dead()
        if self._any_dead is not None and bool(self._any_dead):
            warnings.warn(
                "reward_fn returned NaN/inf (or a NaN gradient) for some particles; they got weight 0",
                RuntimeWarning, stacklevel=3,
            )

    def _raise_if_dead(self) -> None:
        if self._dead_groups is not None and bool(self._dead_groups.any()):
            group = int(self._dead_groups.nonzero()[0, 0])
            raise ValueError(
                f"reward_fn returned NaN/inf (or a NaN gradient) for every particle of group {group}; "
                "check the reward on samples of the prior"
            )

    def _spans(self, flat: Tensor) -> list[tuple[int, int]]:
        size = flat.shape[0] if self.batch_size is None else self.batch_size
        return [(start, min(start + size, flat.shape[0])) for start in range(0, flat.shape[0], size)]

    def _cond_rows(self, start: int, stop: int, device: torch.device) -> Tensor | None:
        if self.conditioning is None:
            return None
        if self.conditioning.shape[0] == 1:
            return self.conditioning.expand(stop - start, *self.conditioning.shape[1:])
        groups = torch.arange(start, stop, device=device) // self.num_particles
        return self.conditioning.to(device)[groups]

    def _chunk_at_timestep(
        self, flat: Tensor, start: int, stop: int, t: Tensor, abar: Tensor, with_grad: bool
    ) -> tuple[Tensor, Tensor, Tensor | None]:
        x = flat[start:stop].detach()
        ts = t.expand(stop - start)
        abars = abar.expand(stop - start)
        cond = self._cond_rows(start, stop, x.device)
        if not with_grad:
            with torch.no_grad():
                eps = self.prior.predict_eps(x, ts, abars, cond)
                return eps, self._reward(predict_x0(x, eps, abar)), None
        with torch.enable_grad():
            x = x.requires_grad_(True)
            eps = self.prior.predict_eps(x, ts, abars, cond)
            reward = self._reward(predict_x0(x, eps, abar))
            if not reward.requires_grad:
                raise ValueError(
                    "reward_fn is not differentiable (its output has no gradient); pass guidance=False"
                )
            (grad,) = torch.autograd.grad(reward.sum(), x)
        return eps.detach(), reward.detach(), grad.float()

    def _reward(self, x0: Tensor) -> Tensor:
        out = self.reward_fn(self.prior.decode(x0))
        if not isinstance(out, Tensor) or out.shape != (x0.shape[0],):
            shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
            raise ValueError(f"reward_fn returned {shape}; expected a tensor of shape ({x0.shape[0]},)")
        return out.float() / self.alpha

    def _sanitised(self, eps: Tensor | None, reward: Tensor, grad: Tensor | None) -> Evaluation:
        alive = torch.isfinite(reward)
        if grad is not None:
            alive &= torch.isfinite(grad).flatten(1).all(-1)
        # Unconditional masking: no host sync to ask whether any particle died.
        some_dead = (~alive).any()
        self._any_dead = some_dead if self._any_dead is None else self._any_dead | some_dead
        reward = torch.where(alive, reward, torch.zeros_like(reward))
        if grad is not None:
            mask = alive.view(-1, *([1] * (grad.ndim - 1)))
            grad = torch.where(mask, grad, torch.zeros_like(grad))
        return Evaluation(eps, reward, grad, alive)
