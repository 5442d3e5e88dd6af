"""Reference samplers without weights: plain DDIM from the prior, and reward-guided DDIM.

They share the kernel with the SMC sampler and do the least work each needs (no weights, no resampling), so that
the benchmark's wall-time ratios measure exactly what SMC adds.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from oboptim.priors.diffusion_prior import DiffusionPrior
from oboptim.sampling.kernel import ddim_mean, ddim_sigma, predict_x0
from oboptim.sampling.tempering import tempering_schedule


def ddim_sample(
    prior: DiffusionPrior, num_samples: int, num_steps: int, generator: torch.Generator, *, eta: float = 1.0
) -> Tensor:
    """Ancestral DDIM samples of the prior: ``[num_samples, *sample_shape]`` (in the prior's space)."""
    return guided_ddim_sample(prior, None, num_samples, num_steps, generator, eta=eta)


def guided_ddim_sample(
    prior: DiffusionPrior,
    reward_fn: Callable[[Tensor], Tensor] | None,
    num_samples: int,
    num_steps: int,
    generator: torch.Generator,
    *,
    alpha: float = 1.0,
    guidance_schedule: Tensor | None = None,
    eta: float = 1.0,
) -> Tensor:
    """DDIM with the mean shifted by ``lambda_{j+1} · sigma^2 · ∇ r(x0_hat) / alpha`` (no weights).

    This is the SMC sampler's proposal alone. ``guidance_schedule`` gives ``lambda`` at each of the K + 1 levels
    (default: the ``exp`` tempering schedule with gamma = 0.008, as the sampler's); full-strength guidance from the
    first step (all ones) overshoots wherever Tweedie's estimate is poor at high noise.

    Returns ``[num_samples, *sample_shape]``. With ``reward_fn=None`` this is plain prior sampling.
    """
    grid = prior.time_grid(num_steps, device=generator.device)
    if guidance_schedule is None:
        guidance_schedule = tempering_schedule("exp", num_steps, gamma=0.008)
    guidance_schedule = torch.as_tensor(guidance_schedule, dtype=torch.float32, device=generator.device)
    x = torch.randn((num_samples, *prior.sample_shape), generator=generator, device=generator.device)
    cond = prior.conditioning
    if cond is not None and cond.shape[0] != num_samples:
        if cond.shape[0] != 1:
            raise ValueError(f"the prior's conditioning has {cond.shape[0]} rows; expected 1 or {num_samples}")
        cond = cond.expand(num_samples, *cond.shape[1:])
    for j in range(num_steps):
        t = grid.timesteps[j].expand(num_samples)
        abar = grid.abar[j].expand(num_samples)
        if reward_fn is None:
            with torch.no_grad():
                eps = prior.predict_eps(x, t, abar, cond)
            grad = None
        else:
            with torch.enable_grad():
                x_in = x.detach().requires_grad_(True)
                eps = prior.predict_eps(x_in, t, abar, cond)
                reward = reward_fn(prior.decode(predict_x0(x_in, eps, grid.abar[j])))
                (grad,) = torch.autograd.grad(reward.sum(), x_in)
            eps = eps.detach()
        sigma = ddim_sigma(grid.abar[j], grid.abar_prev[j], eta)
        mean = ddim_mean(predict_x0(x, eps, grid.abar[j]), eps, grid.abar_prev[j], sigma)
        if grad is not None:
            mean = mean + guidance_schedule[j + 1] * sigma.square() * grad / alpha
        x = (mean + sigma * torch.randn(x.shape, generator=generator, device=x.device)).detach()
    return x
