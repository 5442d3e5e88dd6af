"""One round's proposal: fit the surrogate, build the acquisition, sample the batch with DAS (REFERENCE.md §4).

Round 0 (or any round with no completed trial yet) samples the prior. Later rounds fit the surrogate on the task's
features of every completed trial, account for pending trials (asked, not yet told), and run the SMC sampler on
``p_prior(x) · exp(acquisition(x) / alpha)`` with one group per requested candidate; each group contributes one
particle, drawn by weight (``selection="resample"``) or its heaviest (``"argmax"``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from oboptim.acquisition import make_acquisition
from oboptim.priors.diffusion_prior import DiffusionPrior
from oboptim.sampling.baselines import ddim_sample
from oboptim.sampling.smc import SMCSampler
from oboptim.surrogates import SURROGATES
from oboptim.task import Task

SAMPLER_KEYS = ("particles", "steps", "alpha", "alpha_units", "resampling", "ess_threshold", "tempering", "gamma",
                "guidance", "selection", "acquisition", "beta", "surrogate")


@dataclass(frozen=True)
class History:
    """What the campaign knows when it proposes.

    Attributes:
        X: ``[n, *domain_shape]`` completed candidates, in trial order.
        y: ``[n]`` their observed values.
        pending: ``[p, *domain_shape]`` asked but unfinished candidates.
    """

    X: np.ndarray
    y: np.ndarray
    pending: np.ndarray


@dataclass(frozen=True)
class Proposal:
    """Candidates ``xs`` ``[B, *domain_shape]`` with per-candidate provenance, round diagnostics and, after round 0,
    the surrogate snapshot."""

    xs: np.ndarray
    provenances: list[dict[str, Any]]
    diagnostics: dict[str, Any]
    surrogate: dict[str, Any] | None = field(default=None)


def propose(
    task: Task,
    prior: DiffusionPrior,
    config: Mapping[str, Any],
    history: History,
    num_candidates: int,
    generator: torch.Generator,
    *,
    round_index: int,
    particle_batch_size: int | None = None,
) -> Proposal:
    """``num_candidates`` new candidates for round ``round_index``, all randomness from ``generator``."""
    if history.y.shape[0] == 0:
        return _propose_from_prior(prior, config, num_candidates, generator, round_index, particle_batch_size)
    return _propose_with_smc(task, prior, config, history, num_candidates, generator, round_index,
                             particle_batch_size)


def sample_from_prior(prior: DiffusionPrior, n: int, steps: int, generator: torch.Generator,
                      batch_size: int | None = None) -> np.ndarray:
    """``n`` decoded prior samples ``[n, *domain_shape]`` float32, as a campaign's round 0 draws them."""
    samples = ddim_sample(prior, n, steps, generator, batch_size=batch_size)
    with torch.no_grad():
        return prior.decode(samples).float().cpu().numpy()  # a costly decoder bounds its own batches (sd's VAE)


def _propose_from_prior(prior, config, num_candidates, generator, round_index, particle_batch_size) -> Proposal:
    start = time.perf_counter()
    xs = sample_from_prior(prior, num_candidates, int(config["steps"]), generator, particle_batch_size)
    provenance = {"source": "prior", "round": round_index, "steps": int(config["steps"])}
    diagnostics = {"source": "prior", "seconds_propose": time.perf_counter() - start}
    return Proposal(xs, [dict(provenance) for _ in range(num_candidates)], diagnostics)


def _features(task: Task, x: np.ndarray | Tensor) -> Tensor:
    with torch.no_grad():
        return task.features(torch.as_tensor(x, dtype=torch.float32)).double()


def _propose_with_smc(task, prior, config, history, num_candidates, generator, round_index,
                      particle_batch_size) -> Proposal:
    start = time.perf_counter()
    surrogate = SURROGATES[config["surrogate"]]()
    fit = surrogate.fit(_features(task, history.X), torch.as_tensor(history.y, dtype=torch.float64),
                        generator=_cpu_generator(generator))
    fitted_seconds = time.perf_counter() - start
    model = surrogate
    if history.pending.shape[0] > 0:
        model = surrogate.condition_on_pending(_features(task, history.pending))
    acquisition = make_acquisition(
        config["acquisition"], model, features=task.features, beta=float(config["beta"]),
        best_f=float(history.y.max()), generator=_cpu_generator(generator),
    )
    scale = _reward_scale(config, history.y)
    reward = _on_device_of_input(acquisition, scale)
    sampler = SMCSampler(
        prior, reward, num_particles=int(config["particles"]), num_steps=int(config["steps"]),
        alpha=float(config["alpha"]), resampling=config["resampling"], ess_threshold=float(config["ess_threshold"]),
        tempering=config["tempering"], gamma=float(config["gamma"]), guidance=bool(config["guidance"]),
        particle_batch_size=particle_batch_size,
    )
    result = sampler.sample(num_candidates, generator)
    groups, picks = select_particles(result, config["selection"], generator)
    chosen = result.particles[groups, picks]  # [B, *shape]
    with torch.no_grad():
        xs = prior.decode(chosen).float()
        features = task.features(xs.cpu()).double()
        mean, variance = model.posterior(features)
    acq_values = result.rewards[groups, picks] * scale  # the sampler already scored every final particle
    xs_np = xs.cpu().numpy()
    # The oracle's values carry observation noise; calibration compares them with the predictive spread.
    noise_variance = float(fit.hyperparameters.get("noise_original", 0.0)) if config["surrogate"] == "gp" else 0.0
    settings = {key: config[key] for key in SAMPLER_KEYS if key in config}  # older campaigns lack newer keys
    provenances = [
        {
            "source": "smc",
            "round": round_index,
            "group": int(groups[i]),
            "particle": int(picks[i]),
            "log_weight": float(result.log_weights[groups[i], picks[i]]),
            "acquisition": float(acq_values[i]),
            "predicted_mean": float(mean[i]),
            "predicted_std": float(variance[i].clamp_min(0).sqrt()),
            "predictive_std": float((variance[i].clamp_min(0) + noise_variance) ** 0.5),
            "surrogate_version": round_index,
            "train_size": int(history.y.shape[0]),
            "pending": int(history.pending.shape[0]),
            "sampler": settings,
        }
        for i in range(num_candidates)
    ]
    diagnostics = {
        "source": "smc",
        "ess": result.ess.mean(-1).tolist(),
        "ess_min": float(result.ess.min()),
        "lambda": result.lambdas.mean(-1).tolist(),
        "log_z": result.log_z.tolist(),
        "reward_trace": result.reward_trace.mean(-1).tolist(),
        "resample_count": int(result.resampled.sum()),
        "final_ess": result.ess[-1].tolist(),
        "alpha_scale": scale,
        "seconds_fit": fitted_seconds,
        "seconds_propose": time.perf_counter() - start - fitted_seconds,
    }
    snapshot = {
        "train_size": int(history.y.shape[0]),
        "hyperparameters": fit.hyperparameters,
        "diagnostics": fit.diagnostics,
    }
    return Proposal(xs_np, provenances, diagnostics, snapshot)


def select_particles(result, selection: str, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """The batch's ``(group, particle)`` indices, ``[B]`` each, from the final particles of ``B`` groups.

    - ``resample``: one particle per group, drawn by weight (a draw from the tilted target);
    - ``argmax``: each group's heaviest particle;
    - ``top``: the ``B`` distinct particles of all groups with the highest acquisition, whatever their group
      (exploits hardest; distinct, since resampling leaves copies).
    """
    num_groups = result.particles.shape[0]
    if selection == "argmax":
        return torch.arange(num_groups, device=result.particles.device), result.log_weights.argmax(-1)
    if selection == "resample":
        return torch.arange(num_groups, device=result.particles.device), result.resample_indices(1, generator)[:, 0]
    if selection != "top":
        raise ValueError(f"selection must be resample, argmax or top; got {selection!r}")
    num_particles = result.particles.shape[1]
    flat = result.particles.reshape(num_groups * num_particles, -1)
    order = torch.argsort(result.rewards.reshape(-1), descending=True, stable=True)
    # Copies left by resampling are bit-identical rows: keep each row's best-ranked copy.
    _, inverse = torch.unique(flat, dim=0, return_inverse=True)
    rank = torch.empty_like(order)
    rank[order] = torch.arange(order.numel(), device=order.device)
    best_rank = torch.full_like(rank, order.numel()).scatter_reduce(0, inverse, rank, reduce="amin")
    first_seen = rank == best_rank[inverse]
    distinct = order[first_seen[order]]
    chosen = torch.cat([distinct, order[~first_seen[order]]])[:num_groups]  # copies only if too few distinct
    return chosen // num_particles, chosen % num_particles


def _reward_scale(config, y: np.ndarray) -> float:
    """What the acquisition is divided by before the sampler sees it: 1, or the observed values' std."""
    if config.get("alpha_units", "oracle") != "std" or y.shape[0] < 2:
        return 1.0
    spread = float(np.std(y))
    return spread if np.isfinite(spread) and spread > 0 else 1.0


def _on_device_of_input(acquisition, scale: float = 1.0):
    """The surrogate lives on the CPU; particles may live on a GPU. Move across, keeping the gradient."""

    def reward(x: Tensor) -> Tensor:
        if x.device.type == "cpu":
            return acquisition(x) / scale
        return (acquisition(x.cpu()) / scale).to(x.device)

    return reward


def _cpu_generator(generator: torch.Generator) -> torch.Generator:
    """A CPU generator seeded from ``generator``, for the CPU-side surrogate."""
    if generator.device.type == "cpu":
        return generator
    seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device).item())
    return torch.Generator().manual_seed(seed)
