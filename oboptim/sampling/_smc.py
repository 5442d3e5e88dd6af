"""DAS: tempered, twisted sequential Monte Carlo over a diffusion prior.

Samples ``p*(x0) ∝ p(x0) exp(r(x0) / alpha)`` without training (Kim, Kim & Park, "Test-time Alignment of Diffusion
Models without Reward Over-optimization", ICLR 2025; docs/algorithm.md). G independent groups of N particles run in
one batch. At every reverse step ``x_t -> x_prev``:

- the twist ``log phi_t(x_t) = lambda_t r(x0_hat(x_t)) / alpha`` looks ahead through Tweedie's estimate;
- the proposal is the prior kernel shifted by ``lambda_prev sigma_t^2 g_t``, ``g_t = ∇ r(x0_hat(x_t)) / alpha``
  (``g = 0`` in derivative-free mode);
- the log weight gains ``log p - log q + log phi_prev(x_prev) - log phi_t(x_t)``;
- a group whose ESS falls below ``ess_threshold · N`` is resampled, and ``log Z`` accumulates
  ``logsumexp`` of the incremental weights.

The loop is written blackjax-style: :func:`smc_init` and :func:`smc_step` are pure functions of an immutable
:class:`SMCState`; :class:`SMCSampler` only validates arguments, runs them and collects the traces.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from oboptim._registry import RESAMPLERS, TEMPERING_SCHEDULES
from oboptim.priors._diffusion_prior import DiffusionPrior, TimeGrid
from oboptim.sampling._config import SMCConfig
from oboptim.sampling._evaluation import Evaluation, ParticleEvaluator
from oboptim.sampling._kernel import ddim_mean, ddim_sigma, predict_x0, proposal_log_ratio
from oboptim.sampling._resampling import Resampler
from oboptim.sampling._result import SMCResult
from oboptim.sampling._tempering import adaptive_lambda, tempering_schedule
from oboptim.sampling._weights import effective_sample_size, log_mean_exp, normalize_log_weights


@dataclass(frozen=True)
class SMCState:
    """Particles at one level of the reverse process.

    Attributes:
        level: moves made so far (0 = initial noise, K = clean samples).
        particles: ``[G, N, *shape]`` float32.
        log_weights: ``[G, N]`` normalised per group; ``-inf`` marks a dead particle.
        lam: ``[G]`` current tempering weight.
        evaluation: denoiser output, scaled reward and gradient at the particles (flattened ``[G*N, ...]``).
        log_z: ``[G]`` running estimate of ``log Z``.
    """

    level: int
    particles: Tensor
    log_weights: Tensor
    lam: Tensor
    evaluation: Evaluation
    log_z: Tensor


@dataclass(frozen=True)
class StepInfo:
    """Diagnostics of one move, each ``[G]``: ESS before resampling, the new lambda, log Z, whether the group was
    resampled, and the weighted mean reward ``r(x0_hat)`` (reward units, not divided by alpha)."""

    ess: Tensor
    lam: Tensor
    log_z: Tensor
    resampled: Tensor
    mean_reward: Tensor


class SMCSampler:
    """The DAS sampler: ``p(x0) exp(r(x0) / alpha)`` by tempered, twisted SMC.

    Args:
        prior: the diffusion prior.
        reward_fn: ``x [B, *domain_shape] -> [B]`` on decoded samples; differentiable when ``guidance`` is on.
        num_particles: N, particles per group.
        num_steps: K, reverse steps on the prior's time grid.
        alpha: KL coefficient (> 0); smaller trusts the reward more.
        eta: DDIM stochasticity in (0, 1]; SMC needs noise on every step but the last.
        resampling: a kind of :data:`oboptim.sampling.RESAMPLERS`.
        ess_threshold: resample a group when its ESS < ``ess_threshold · N``; in [0, 1].
        tempering: a kind of :data:`oboptim.sampling.TEMPERING_SCHEDULES` (``exp``, ``poly``, ``adaptive``, ``none``).
        gamma: tempering rate.
        tempering_power: exponent of the ``poly`` schedule.
        tempering_start: fraction of the steps before tempering and guidance begin.
        guidance: shift the proposal along the reward gradient; off = derivative-free (the weights alone steer).
        particle_batch_size: evaluate the denoiser and reward on at most this many particles at once.

    Example:
        >>> prior = DiffusionPrior(eps_fn, scheduler.alphas_cumprod, (2,))
        >>> sampler = SMCSampler(prior, lambda x: -(x ** 2).sum(-1), num_particles=100, num_steps=100)
        >>> res = sampler.sample(num_groups=4, generator=torch.Generator().manual_seed(0))
        >>> res.particles.shape, res.log_weights.shape, res.ess.shape
        (torch.Size([4, 100, 2]), torch.Size([4, 100]), torch.Size([100, 4]))
    """

    def __init__(
        self,
        prior: DiffusionPrior,
        reward_fn: Callable[[Tensor], Tensor],
        num_particles: int = 100,
        num_steps: int = 100,
        alpha: float = 1.0,
        *,
        eta: float = 1.0,
        resampling: str = "ssp",
        ess_threshold: float = 0.5,
        tempering: str = "exp",
        gamma: float = 0.008,
        tempering_power: float = 1.0,
        tempering_start: float = 0.0,
        guidance: bool = True,
        particle_batch_size: int | None = None,
    ) -> None:
        config = SMCConfig(
            num_particles=num_particles, num_steps=num_steps, alpha=alpha, eta=eta, resampling=resampling,
            ess_threshold=ess_threshold, tempering=tempering, gamma=gamma, tempering_power=tempering_power,
            tempering_start=tempering_start, guidance=guidance, particle_batch_size=particle_batch_size,
        )
        self.prior = prior
        self.reward_fn = reward_fn
        self.config = config
        self.resampler: Resampler = RESAMPLERS.get(config.resampling)

    @classmethod
    def from_config(cls, prior: DiffusionPrior, reward_fn: Callable[[Tensor], Tensor], config: SMCConfig
                    ) -> SMCSampler:
        """A sampler with the settings of ``config`` (e.g. :meth:`oboptim.CampaignSettings.smc_config`)."""
        return cls(prior, reward_fn, **{name: getattr(config, name) for name in config.__dataclass_fields__})

    def sample(
        self,
        num_groups: int = 1,
        generator: torch.Generator | int | None = None,
        *,
        conditioning: Tensor | None = None,
        progress: bool = False,
        start: Tensor | None = None,
        start_timestep: int | None = None,
    ) -> SMCResult:
        """Run G independent SMC groups in one batch on the generator's device.

        Args:
            num_groups: G.
            generator: a ``torch.Generator`` (its device is where the particles live) or an int seed (CPU).
            conditioning: ``[G, ...]`` or ``[1, ...]`` rows handed to the prior's ``eps_fn``; overrides the
                prior's own conditioning.
            progress: show a tqdm bar.
            start: optional ``[G, *sample_shape]`` clean particles to start from (a warm start, as in SDEdit): group
                ``g`` starts at ``x_t = sqrt(abar_t) start[g] + sqrt(1 - abar_t) noise`` with ``t = start_timestep``
                and runs ``num_steps`` evenly spaced reverse steps from there to 0. The final particles then follow
                the prior's reverse process from that noised copy (local edits that stay on the prior's support),
                tilted by the reward, rather than the whole target.
            start_timestep: the model timestep a warm start begins at (required with ``start``, at least
                ``num_steps - 1``).
        """
        if num_groups < 1:
            raise ValueError(f"num_groups must be >= 1, got {num_groups}")
        generator = _as_generator(generator)
        cfg = self.config
        if start is not None:
            if start_timestep is None:
                raise ValueError("a warm start needs start_timestep")
            if tuple(start.shape) != (num_groups, *self.prior.sample_shape):
                raise ValueError(f"start must have shape {(num_groups, *self.prior.sample_shape)}, "
                                 f"got {tuple(start.shape)}")
        grid = self.prior.time_grid(cfg.num_steps, device=generator.device,
                                    start=None if start is None else start_timestep)
        schedule = tempering_schedule(
            cfg.tempering, cfg.num_steps, gamma=cfg.gamma, power=cfg.tempering_power, start=cfg.tempering_start
        ).tolist()  # host floats: decisions on them never wait for the device
        evaluator = ParticleEvaluator(
            self.prior, self.reward_fn, alpha=cfg.alpha, batch_size=cfg.particle_batch_size,
            num_groups=num_groups, num_particles=cfg.num_particles,
            conditioning=conditioning if conditioning is not None else self.prior.conditioning,
        )
        state = smc_init(evaluator, grid, schedule, num_groups, cfg, generator, start=start)
        infos = []
        steps = range(cfg.num_steps)
        if progress:
            from tqdm.auto import tqdm

            steps = tqdm(steps, desc="SMC", leave=False)
        for _ in steps:
            state, info = smc_step(state, evaluator, grid, schedule, cfg, self.resampler, generator)
            infos.append(info)
        evaluator.finish()
        return _collect(state, infos, schedule, evaluator)


def smc_init(
    evaluator: ParticleEvaluator, grid: TimeGrid, schedule: list[float], num_groups: int, cfg: SMCConfig,
    generator: torch.Generator, start: Tensor | None = None,
) -> SMCState:
    """Draw ``x_K ~ N(0, I)`` (or, with ``start [G, *sample_shape]``, ``x_K ~ N(sqrt(abar_K) start, (1 - abar_K) I)``)
    and weight it by the first twist ``lambda_0 r(x0_hat) / alpha``."""
    shape = (num_groups, cfg.num_particles, *evaluator.prior.sample_shape)
    particles = torch.randn(shape, generator=generator, device=generator.device, dtype=torch.float32)
    if start is not None:
        abar = grid.abar[0]
        particles = abar.sqrt() * start.to(particles).unsqueeze(1) + (1 - abar).sqrt() * particles
    with_grad = cfg.guidance and (schedule[1] > 0 or _is_adaptive(cfg))
    evaluation = evaluator.at_timestep(particles, grid.timesteps[0], grid.abar[0], with_grad=with_grad)
    lam = torch.full((num_groups,), schedule[0], device=particles.device)
    log_twist = lam.unsqueeze(-1) * evaluation.scaled_reward.view(num_groups, -1)
    log_weights = torch.where(evaluation.alive.view(num_groups, -1), log_twist, -math.inf)
    evaluator.check_groups_alive(log_weights, now=True)
    return SMCState(0, particles, normalize_log_weights(log_weights), lam, evaluation, log_mean_exp(log_weights))


def smc_step(
    state: SMCState, evaluator: ParticleEvaluator, grid: TimeGrid, schedule: list[float], cfg: SMCConfig,
    resampler: Resampler, generator: torch.Generator,
) -> tuple[SMCState, StepInfo]:
    """One move ``x_t -> x_prev``: choose lambda, propose, reweight, maybe resample."""
    j = state.level
    groups, n = state.log_weights.shape
    final = j + 1 == len(grid)
    ev = state.evaluation
    rewards_now = ev.scaled_reward.view(groups, n)

    lam_next = torch.full((groups,), schedule[j + 1], device=state.particles.device)
    if _is_adaptive(cfg) and not final:
        lam_next = adaptive_lambda(state.log_weights, rewards_now, state.lam, lam_next, cfg.ess_threshold)

    # Propose x_prev = mu + lambda sigma^2 g + sigma z.
    sigma = ddim_sigma(grid.abar[j], grid.abar_prev[j], cfg.eta)
    eps = ev.eps.view_as(state.particles)
    mean = ddim_mean(predict_x0(state.particles, eps, grid.abar[j]), eps, grid.abar_prev[j], sigma)
    noise = torch.randn(state.particles.shape, generator=generator, device=generator.device, dtype=torch.float32)
    lam_b = lam_next.view(groups, 1, *([1] * len(evaluator.prior.sample_shape)))
    if ev.grad is not None:
        grad = ev.grad.view_as(state.particles)
        particles = mean + lam_b * sigma.square() * grad + sigma * noise
        log_ratio = proposal_log_ratio(grad, noise, lam_next.view(groups, 1), sigma, batch_dims=2)
    else:
        particles = mean + sigma * noise
        log_ratio = torch.zeros_like(state.log_weights)

    if final:
        evaluation = evaluator.at_clean(particles)
    else:
        with_grad = cfg.guidance and (schedule[j + 2] > 0 or _is_adaptive(cfg))
        evaluation = evaluator.at_timestep(particles, grid.timesteps[j + 1], grid.abar[j + 1], with_grad=with_grad)

    rewards_next = evaluation.scaled_reward.view(groups, n)
    increment = log_ratio + lam_next.unsqueeze(-1) * rewards_next - state.lam.unsqueeze(-1) * rewards_now
    unnormalised = torch.where(evaluation.alive.view(groups, n), state.log_weights + increment, -math.inf)
    evaluator.check_groups_alive(unnormalised)
    log_z = state.log_z + torch.logsumexp(unnormalised, dim=-1)
    log_weights = normalize_log_weights(unnormalised)
    ess = effective_sample_size(log_weights)

    resample = ess < cfg.ess_threshold * n
    if final:
        resample = torch.zeros_like(resample)  # keep the final weights for the caller to select from
    if bool(resample.any()):
        particles, log_weights, evaluation = _resample(particles, log_weights, evaluation, resample, resampler,
                                                       generator)
    mean_reward = (log_weights.exp() * rewards_next).sum(-1) * cfg.alpha
    new_state = SMCState(j + 1, particles, log_weights, lam_next.clone(), evaluation, log_z)
    return new_state, StepInfo(ess, lam_next.clone(), log_z, resample, mean_reward)


def _resample(
    particles: Tensor, log_weights: Tensor, evaluation: Evaluation, mask: Tensor, resampler: Resampler,
    generator: torch.Generator,
) -> tuple[Tensor, Tensor, Evaluation]:
    """Resample the groups in ``mask`` ([G] bool); the others keep their particles (identity ancestors)."""
    groups, n = log_weights.shape
    ancestors = resampler(log_weights, n, generator)
    identity = torch.arange(n, device=ancestors.device).expand(groups, n)
    ancestors = torch.where(mask.unsqueeze(-1), ancestors, identity)
    flat = (ancestors + torch.arange(groups, device=ancestors.device).unsqueeze(-1) * n).reshape(-1)
    particles = particles.reshape(groups * n, *particles.shape[2:])[flat].view_as(particles)
    log_weights = torch.where(mask.unsqueeze(-1), torch.full_like(log_weights, -math.log(n)), log_weights)
    return particles, log_weights, evaluation.select(flat)


def _collect(state: SMCState, infos: list[StepInfo], schedule: list[float], evaluator: ParticleEvaluator
             ) -> SMCResult:
    groups, n = state.log_weights.shape
    stack = lambda name: torch.stack([getattr(info, name) for info in infos])  # noqa: E731
    first = torch.full((1, groups), schedule[0], device=state.log_weights.device)
    lambdas = torch.cat([first, stack("lam")])
    return SMCResult(
        particles=state.particles.detach(),
        log_weights=state.log_weights.detach(),
        log_z=state.log_z.detach(),
        ess=stack("ess"),
        lambdas=lambdas,
        log_z_trace=stack("log_z"),
        reward_trace=stack("mean_reward"),
        resampled=stack("resampled"),
        rewards=(state.evaluation.scaled_reward.view(groups, n) * evaluator.alpha).detach(),
        decoder=evaluator.prior.decode,
    )


def _as_generator(generator: torch.Generator | int | None) -> torch.Generator:
    if isinstance(generator, torch.Generator):
        return generator
    if generator is None:
        raise ValueError("generator is required: pass torch.Generator(device=...).manual_seed(seed) or an int seed")
    if isinstance(generator, int):
        return torch.Generator().manual_seed(generator)
    raise ValueError(f"generator must be a torch.Generator or an int seed, got {type(generator).__name__}")


def _is_adaptive(cfg: SMCConfig) -> bool:
    return bool(TEMPERING_SCHEDULES.get(cfg.tempering).adaptive)
