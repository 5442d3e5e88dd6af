"""Is a particle on the prior's manifold? Its denoising error, compared with that of the prior's own samples.

A strong tilt ``exp(a(x) / alpha)`` can pull SMC particles off the support where the acquisition is large off it (a
GP's UCB rises into unexplored space), and a batch taken by acquisition value picks exactly those. A diffusion prior
knows where its support is: the denoising error of a point,

    S(x) = sum_{t, eps} |eps - eps_hat(sqrt(abar_t) x + sqrt(1 - abar_t) eps, t)|^2,

is small on the data and grows off it; weighted over all ``t`` it would be the DDPM variational bound on
``-log p(x)`` (Ho et al. 2020), but the bound's weights blow up at small ``t`` and make a few-sample estimate useless.
Unweighted at four moderate noise levels (``t = 5%, 10%, 20%, 40%`` of the schedule) and 8 noises shared by all
points (common random numbers: a deterministic function of ``x``), it ranks points as the exact log-density does
(Spearman 0.91 on gmm2d and mixture8d, 0.83 on swissroll3d, on prior and perturbed samples).

:class:`ManifoldCheck` scores ``num_samples`` prior samples once per prior (fixed seed, cached); a particle passes
when its score is at most the ``1 - percentile / 100`` quantile of theirs. :func:`restrict_to_manifold` gives the
failing final particles of an :class:`~oboptim.sampling.SMCResult` weight 0 and reward ``-inf``, so that no batch
selection takes them.

Example:
    >>> check = ManifoldCheck(prior, percentile=2.0)  # doctest: +SKIP
    >>> result, passing = restrict_to_manifold(result, check)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import math
import weakref

import torch
from torch import Tensor

from oboptim.priors._diffusion_prior import DiffusionPrior
from oboptim.sampling._baselines import ddim_sample
from oboptim.sampling._result import SMCResult

CHECK_SEED = 0x6D66
NOISE_FRACTIONS = (0.05, 0.1, 0.2, 0.4)
_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # prior -> {(samples, steps, device): (score, ref)}


class DenoisingScore:
    """``x [B, *sample_shape] -> [B]`` denoising error (lower = more likely), float64 on the CPU, no gradient.

    Args:
        prior: the diffusion prior (``x`` in its particle space, before decoding).
        fractions: noise levels, as fractions of the schedule's length.
        num_noises: noise draws per level (the same for every point).
        batch_size: points per denoiser call.
        device: where the denoiser runs.
    """

    def __init__(self, prior: DiffusionPrior, fractions: tuple[float, ...] = NOISE_FRACTIONS, num_noises: int = 8,
                 batch_size: int = 4096, device: torch.device | str = "cpu") -> None:
        self.prior, self.batch_size, self.device = prior, batch_size, torch.device(device)
        abar = prior.alphas_cumprod.double().cpu()
        total = abar.numel()
        self.timesteps = [min(max(int(f * total), 1), total - 1) for f in fractions]
        self.abar = [float(abar[t]) for t in self.timesteps]
        generator = torch.Generator().manual_seed(CHECK_SEED)
        self.noises = torch.randn(num_noises, *prior.sample_shape, generator=generator).to(self.device)

    def __call__(self, x: Tensor) -> Tensor:
        with torch.no_grad():
            return torch.cat([self._score(x[i:i + self.batch_size]) for i in range(0, x.shape[0], self.batch_size)])

    def _score(self, x: Tensor) -> Tensor:
        x = x.to(self.device).float()
        b = x.shape[0]
        cond = self.prior.conditioning
        if cond is not None:
            cond = cond.to(self.device).expand(b, *cond.shape[1:])
        total = torch.zeros(b, dtype=torch.float64, device=self.device)
        dims = tuple(range(1, x.ndim))
        for step, abar in zip(self.timesteps, self.abar):
            t = torch.full((b,), step, dtype=torch.long, device=self.device)
            abar_t = torch.full((b,), abar, dtype=torch.float32, device=self.device)
            for eps in self.noises:
                predicted = self.prior.predict_eps(abar**0.5 * x + (1 - abar) ** 0.5 * eps, t, abar_t, cond)
                total += ((predicted - eps) ** 2).sum(dims).double() / len(self.noises)
        return total.cpu()


class ManifoldCheck:
    """Pass or fail against the scores of ``num_samples`` prior samples (drawn once per prior, with a fixed seed).

    Args:
        prior: the diffusion prior.
        num_samples: prior samples whose scores set the threshold.
        steps: reverse diffusion steps of those samples.
        percentile: the worst this percentage of prior samples fail the check (in [0, 100)).
        device: where the denoiser runs.
        batch_size: particles per denoiser call while sampling (None: all).
    """

    def __init__(self, prior: DiffusionPrior, *, num_samples: int = 1024, steps: int = 50, percentile: float = 2.0,
                 device: torch.device | str = "cpu", batch_size: int | None = None) -> None:
        if not 0 <= percentile < 100:
            raise ValueError(f"percentile must lie in [0, 100); got {percentile!r}")
        key = (num_samples, steps, str(device))
        per_prior = _CACHE.setdefault(prior, {})
        if key not in per_prior:
            score = DenoisingScore(prior, device=device)
            generator = torch.Generator(device=device).manual_seed(CHECK_SEED)
            with torch.no_grad():
                samples = ddim_sample(prior, num_samples, steps, generator, batch_size=batch_size)
            per_prior[key] = (score, score(samples))
        self.score, reference = per_prior[key]
        self.threshold = float(torch.quantile(reference, 1 - percentile / 100))

    def passes(self, particles: Tensor) -> Tensor:
        """``particles [..., *sample_shape]`` -> bool ``[...]`` on the CPU."""
        sample_shape = tuple(self.score.prior.sample_shape)
        lead = particles.shape[: particles.ndim - len(sample_shape)]
        flat = particles.reshape(-1, *sample_shape)
        return (self.score(flat) <= self.threshold).reshape(lead)


def restrict_to_manifold(result: SMCResult, check: ManifoldCheck) -> tuple[SMCResult, Tensor]:
    """``result`` with its off-manifold final particles given reward ``-inf`` and weight 0, and the passing mask
    ``[G, N]``.

    Every failing particle loses its reward, so a selection across groups (``top``, ``sequential``) never takes one
    while enough others pass: a strong tilt can push whole groups off the support, and their particles are the ones
    the acquisition ranks highest. A group where no particle passes keeps its weights (a per-group selection such as
    ``resample`` needs one candidate per group)."""
    ok = check.passes(result.particles).to(result.log_weights.device)
    return exclude_particles(result, ok), ok


def exclude_particles(result: SMCResult, keep: Tensor) -> SMCResult:
    """``result`` with the final particles outside ``keep [G, N]`` (bool) given reward ``-inf`` and weight 0; a group
    that keeps none keeps its weights, so that a per-group selection still has a candidate."""
    keep_weight = keep | ~keep.any(-1, keepdim=True)
    log_weights = torch.where(keep_weight, result.log_weights, torch.full_like(result.log_weights, -math.inf))
    log_weights = log_weights - torch.logsumexp(log_weights, -1, keepdim=True)
    rewards = torch.where(keep, result.rewards, torch.full_like(result.rewards, -math.inf))
    return dataclasses.replace(result, log_weights=log_weights, rewards=rewards)


__all__ = ["DenoisingScore", "ManifoldCheck", "exclude_particles", "restrict_to_manifold"]
