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

SAMPLER_KEYS = ("particles", "steps", "alpha", "resampling", "ess_threshold", "tempering", "gamma", "guidance",
                "selection", "acquisition", "beta", "surrogate")


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


def _propose_from_prior(prior, config, num_candidates, generator, round_index, particle_batch_size) -> Proposal:
    start = time.perf_counter()
    samples = ddim_sample(prior, num_candidates, int(config["steps"]), generator, batch_size=particle_batch_size)
    with torch.no_grad():
        step = particle_batch_size or num_candidates
        xs = np.concatenate([prior.decode(samples[i:i + step]).float().cpu().numpy()
                             for i in range(0, num_candidates, step)])
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
    reward = _on_device_of_input(acquisition)
    sampler = SMCSampler(
        prior, reward, num_particles=int(config["particles"]), num_steps=int(config["steps"]),
        alpha=float(config["alpha"]), resampling=config["resampling"], ess_threshold=float(config["ess_threshold"]),
        tempering=config["tempering"], gamma=float(config["gamma"]), guidance=bool(config["guidance"]),
        particle_batch_size=particle_batch_size,
    )
    result = sampler.sample(num_candidates, generator)
    if config["selection"] == "argmax":
        picks = result.log_weights.argmax(-1)
    else:
        picks = result.resample_indices(1, generator)[:, 0]
    groups = torch.arange(num_candidates, device=picks.device)
    chosen = result.particles[groups, picks]  # [B, *shape]
    with torch.no_grad():
        xs = prior.decode(chosen).float()
        features = task.features(xs.cpu()).double()
        mean, variance = model.posterior(features)
    acq_values = result.rewards[groups, picks]  # the sampler already scored every final particle
    xs_np = xs.cpu().numpy()
    # The oracle's values carry observation noise; calibration compares them with the predictive spread.
    noise_variance = float(fit.hyperparameters.get("noise_original", 0.0)) if config["surrogate"] == "gp" else 0.0
    settings = {key: config[key] for key in SAMPLER_KEYS}
    provenances = [
        {
            "source": "smc",
            "round": round_index,
            "group": int(g),
            "particle": int(picks[g]),
            "log_weight": float(result.log_weights[g, picks[g]]),
            "acquisition": float(acq_values[g]),
            "predicted_mean": float(mean[g]),
            "predicted_std": float(variance[g].clamp_min(0).sqrt()),
            "predictive_std": float((variance[g].clamp_min(0) + noise_variance) ** 0.5),
            "surrogate_version": round_index,
            "train_size": int(history.y.shape[0]),
            "pending": int(history.pending.shape[0]),
            "sampler": settings,
        }
        for g in range(num_candidates)
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
        "seconds_fit": fitted_seconds,
        "seconds_propose": time.perf_counter() - start - fitted_seconds,
    }
    snapshot = {
        "train_size": int(history.y.shape[0]),
        "hyperparameters": fit.hyperparameters,
        "diagnostics": fit.diagnostics,
    }
    return Proposal(xs_np, provenances, diagnostics, snapshot)


def _on_device_of_input(acquisition):
    """The surrogate lives on the CPU; particles may live on a GPU. Move across, keeping the gradient."""

    def reward(x: Tensor) -> Tensor:
        if x.device.type == "cpu":
            return acquisition(x)
        return acquisition(x.cpu()).to(x.device)

    return reward


def _cpu_generator(generator: torch.Generator) -> torch.Generator:
    """A CPU generator seeded from ``generator``, for the CPU-side surrogate."""
    if generator.device.type == "cpu":
        return generator
    seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device).item())
    return torch.Generator().manual_seed(seed)
