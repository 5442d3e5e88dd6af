"""Reference samplers without weights: plain DDIM from the prior, and reward-guided DDIM.

They share the kernel with the SMC sampler and do the least work each needs (no weights, no resampling), so that
the benchmark's wall-time ratios measure exactly what SMC adds.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from oboptim.priors._diffusion_prior import DiffusionPrior
from oboptim.sampling._kernel import ddim_mean, ddim_sigma, predict_x0
from oboptim.sampling._tempering import tempering_schedule


def ddim_sample(
    prior: DiffusionPrior, num_samples: int, num_steps: int, generator: torch.Generator, *, eta: float = 1.0,
    batch_size: int | None = None,
) -> Tensor:
    """Ancestral DDIM samples of the prior: ``[num_samples, *sample_shape]`` (in the prior's space)."""
    return guided_ddim_sample(prior, None, num_samples, num_steps, generator, eta=eta, batch_size=batch_size)


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
    batch_size: int | None = None,
) -> Tensor:
    """DDIM with the mean shifted by ``lambda_{j+1} · sigma^2 · ∇ r(x0_hat) / alpha`` (no weights).

    This is the SMC sampler's proposal alone. ``guidance_schedule`` gives ``lambda`` at each of the K + 1 levels
    (default: the ``exp`` tempering schedule with gamma = 0.008, as the sampler's); full-strength guidance from the
    first step (all ones) overshoots wherever Tweedie's estimate is poor at high noise.

    ``batch_size`` bounds the samples per denoiser (and reward) call, to fit memory; the noise is drawn for all
    samples at once, so the result does not depend on it beyond floating-point kernel choices.

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
    chunks = _chunks(num_samples, batch_size)
    for j in range(num_steps):
        t = grid.timesteps[j].expand(num_samples)
        abar = grid.abar[j].expand(num_samples)
        parts = [_eps_and_grad(prior, reward_fn, x[c], t[c], abar[c], None if cond is None else cond[c],
                               grid.abar[j]) for c in chunks]
        eps = parts[0][0] if len(parts) == 1 else torch.cat([e for e, _ in parts])
        grad = parts[0][1] if len(parts) == 1 else (None if reward_fn is None else torch.cat([g for _, g in parts]))
        sigma = ddim_sigma(grid.abar[j], grid.abar_prev[j], eta)
        mean = ddim_mean(predict_x0(x, eps, grid.abar[j]), eps, grid.abar_prev[j], sigma)
        if grad is not None:
            mean = mean + guidance_schedule[j + 1] * sigma.square() * grad / alpha
        x = (mean + sigma * torch.randn(x.shape, generator=generator, device=x.device)).detach()
    return x


def _chunks(n: int, batch_size: int | None) -> list[slice]:
    step = n if not batch_size else max(1, int(batch_size))
    return [slice(i, min(i + step, n)) for i in range(0, n, step)]


def _eps_and_grad(prior, reward_fn, x, t, abar, cond, abar_level) -> tuple[Tensor, Tensor | None]:
    """The prior's eps on one chunk ``[b, *shape]`` and, with a reward, ``∇_x r(decode(x0_hat))`` (else None)."""
    if reward_fn is None:
        with torch.no_grad():
            return prior.predict_eps(x, t, abar, cond), None
    with torch.enable_grad():
        x_in = x.detach().requires_grad_(True)
        eps = prior.predict_eps(x_in, t, abar, cond)
        reward = reward_fn(prior.decode(predict_x0(x_in, eps, abar_level)))
        (grad,) = torch.autograd.grad(reward.sum(), x_in)
    return eps.detach(), grad
