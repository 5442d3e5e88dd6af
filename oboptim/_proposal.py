"""One round's proposal, as a pipeline of small named steps (docs/algorithm.md, "The online loop").

Round 0 (or any round with no completed trial yet) samples the prior. Later rounds run these steps, each a function
that can be called and tested alone:

1. :func:`fit_surrogate`: the surrogate kind of the settings, fitted on the task's features of every completed trial;
2. :func:`condition_on_pending`: the fitted model told about candidates asked but not yet scored, so a batch does not
   pile onto one spot;
3. :func:`build_acquisition`: the acquisition kind of the settings on that model;
4. :func:`tilt`: what the sampler sees, ``p(x) exp(a(x) / (scale * alpha))``, with ``scale`` 1 or the observed values'
   spread (``alpha_units=std``);
5. :func:`sample`: the DAS sampler, one group per requested candidate;
6. :func:`check_manifold`: the final particles off the prior's manifold excluded (``manifold_check > 0``);
7. :func:`select`: the batch from the final particles (the selection kind of the settings; ``sequential`` re-scores
   them with ``select_acquisition`` on the surrogate told of its earlier picks, :func:`selection_context`);
8. :func:`describe`: decoded candidates with their provenance, the round's diagnostics and the surrogate snapshot;
9. :func:`only_new_sequences`, for a sequence task (round 0 too): a candidate already scored, pending or taken
   earlier in the batch is dropped, and a batch left short is filled from further prior draws (the heaviest under
   the tilt first), then, for a small space, from the sequences the prior allows; what is still missing is not
   proposed (the round's ``note`` says so), and with nothing new at all :class:`oboptim.errors.SpaceExhausted`.

All randomness comes from one generator, so a round is a pure function of the history, the settings and the seed.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import torch
from torch import Tensor

from oboptim._records import PRIOR, SMC, Provenance, RoundDiagnostics
from oboptim._registry import SURROGATES
from oboptim._settings import CampaignSettings
from oboptim._task import Task
from oboptim.acquisition._base import Acquisition, make_acquisition, reads_pending
from oboptim.errors import SpaceExhausted
from oboptim.priors._diffusion_prior import DiffusionPrior
from oboptim.sampling._baselines import ddim_sample
from oboptim.sampling._manifold import ManifoldCheck, exclude_particles, restrict_to_manifold
from oboptim.sampling._result import SMCResult
from oboptim.sampling._selection import SelectionContext, select_particles
from oboptim.sampling._smc import SMCSampler
from oboptim.sequences._novelty import (
    NewSequences,
    allowed_by_prior,
    find_new_sequences,
    sequence_key,
    sequence_keys,
    space_size,
)
from oboptim.sequences._space import SequenceSpace
from oboptim.surrogates._base import FitReport, Surrogate


@dataclass(frozen=True)
class History:
    """What the campaign knows when it proposes.

    Attributes:
        X: ``[n, *domain_shape]`` completed candidates, in trial order.
        y: ``[n]`` their observed values.
        pending: ``[p, *domain_shape]`` asked but unfinished candidates.
        failed: ``[f, *domain_shape]`` candidates whose trials failed (an infeasible sequence, say); a sequence task
            never proposes them again (None: not known).
    """

    X: np.ndarray
    y: np.ndarray
    pending: np.ndarray
    failed: np.ndarray | None = None

    @cached_property
    def known_sequences(self) -> set[bytes]:
        """The keys (:func:`oboptim.sequences._novelty.sequence_key`) of every candidate asked about: completed,
        pending and failed; computed once a round, for the steps that keep a sequence round new."""
        return sequence_keys(known_candidates(self))


@dataclass(frozen=True)
class Proposal:
    """Candidates ``xs`` ``[B, *domain_shape]`` with one provenance each, the round's diagnostics and, after round 0,
    the surrogate snapshot (``train_size``, ``hyperparameters``, ``diagnostics``)."""

    xs: np.ndarray
    provenances: list[Provenance]
    diagnostics: RoundDiagnostics
    surrogate: dict[str, Any] | None = field(default=None)


@dataclass(frozen=True)
class FittedSurrogate:
    """Step 1's result: the fitted surrogate, its fit report, and the seconds the fit took."""

    surrogate: Surrogate
    report: FitReport
    seconds: float


@dataclass(frozen=True)
class Tilt:
    """Step 4's result: the sampler's reward ``acquisition(x) / scale`` and its KL coefficient.

    Attributes:
        reward: ``x [B, *domain_shape] -> [B]`` on the particles' device, differentiable.
        scale: what the acquisition is divided by (1, or the observed values' standard deviation).
        alpha: the KL coefficient the sampler uses, for the scaled reward.
    """

    reward: Callable[[Tensor], Tensor]
    scale: float
    alpha: float


@dataclass(frozen=True)
class ManifoldFilter:
    """Step 6's result: the sampler's result with off-manifold particles excluded, and how many were.

    Attributes:
        result: the result, off-manifold final particles at weight 0 and reward ``-inf``.
        dropped: final particles excluded (0 when the check is off).
    """

    result: SMCResult
    dropped: int


# -- the pipeline ----------------------------------------------------------------------------------------------------


def propose(
    task: Task,
    prior: DiffusionPrior,
    settings: CampaignSettings,
    history: History,
    num_candidates: int,
    generator: torch.Generator,
    *,
    round_index: int,
    particle_batch_size: int | None = None,
) -> Proposal:
    """``num_candidates`` new candidates for round ``round_index``, all randomness from ``generator`` (fewer for a
    sequence task short of new sequences; :class:`SpaceExhausted` when it has none left)."""
    if task.sequence is not None:
        check_space_left(task.sequence, history)
    if history.y.shape[0] == 0:
        proposal = propose_from_prior(prior, settings, num_candidates, generator, round_index, particle_batch_size,
                                      task=task)
        return only_new_sequences(task, prior, settings, history, proposal, num_candidates, generator,
                                  round_index=round_index, particle_batch_size=particle_batch_size)
    started = time.perf_counter()
    fitted = fit_surrogate(task, settings, history, generator)
    model = condition_on_pending(fitted.surrogate, task, history)
    acquisition = build_acquisition(settings, model, task, history, generator)
    tilted = tilt(acquisition, settings, history)
    start = warm_start(task, prior, settings, history, num_candidates)
    result = sample(prior, tilted, settings, num_candidates, generator, particle_batch_size, start=start)
    checked = check_manifold(prior, result, settings, generator, particle_batch_size)
    checked = exclude_known_sequences(task, prior, tilted, history, checked)
    context = selection_context(task, prior, settings, model, history, checked.result)
    groups, picks = select(checked.result, settings, generator, context)
    proposal = describe(task, prior, settings, history, fitted, model, tilted, checked.result, groups, picks,
                        round_index=round_index, seconds=time.perf_counter() - started,
                        manifold_dropped=checked.dropped)
    return only_new_sequences(task, prior, settings, history, proposal, num_candidates, generator,
                              round_index=round_index, particle_batch_size=particle_batch_size, model=model,
                              tilted=tilted)


def propose_from_prior(prior: DiffusionPrior, settings: CampaignSettings, num_candidates: int,
                       generator: torch.Generator, round_index: int,
                       particle_batch_size: int | None = None, task: Task | None = None) -> Proposal:
    """Round 0: ``num_candidates`` samples of the prior itself (as ``task``'s candidates, when given)."""
    started = time.perf_counter()
    xs = sample_from_prior(prior, num_candidates, settings.steps, generator, particle_batch_size, task=task)
    provenance = Provenance(source=PRIOR, round=round_index, steps=settings.steps)
    diagnostics = RoundDiagnostics(source=PRIOR, seconds_propose=time.perf_counter() - started)
    return Proposal(xs, [provenance] * num_candidates, diagnostics)


def sample_from_prior(prior: DiffusionPrior, n: int, steps: int, generator: torch.Generator,
                      batch_size: int | None = None, task: Task | None = None) -> np.ndarray:
    """``n`` prior samples as candidates ``[n, *candidate_shape]``, as a campaign's round 0 draws them: decoded,
    float32 (or, for a sequence ``task``, its ``[n, L]`` int64 sequences)."""
    samples = ddim_sample(prior, n, steps, generator, batch_size=batch_size)
    with torch.no_grad():
        decoded = prior.decode(samples).float()  # a costly decoder bounds its own batches (sd's VAE)
        return (decoded if task is None else task.to_candidates(decoded)).cpu().numpy()


def fit_surrogate(task: Task, settings: CampaignSettings, history: History,
                  generator: torch.Generator) -> FittedSurrogate:
    """Step 1: a fresh surrogate of the settings' kind, fitted on the features of the completed candidates."""
    started = time.perf_counter()
    surrogate: Surrogate = SURROGATES.get(settings.surrogate)()
    report = surrogate.fit(features_of(task, history.X), torch.as_tensor(history.y, dtype=torch.float64),
                           generator=cpu_generator(generator))
    return FittedSurrogate(surrogate, report, time.perf_counter() - started)


def condition_on_pending(surrogate: Surrogate, task: Task, history: History) -> Surrogate:
    """Step 2: the surrogate conditioned on the pending candidates (itself when there are none)."""
    if history.pending.shape[0] == 0:
        return surrogate
    return surrogate.condition_on_pending(features_of(task, history.pending))


def build_acquisition(settings: CampaignSettings, model: Surrogate, task: Task, history: History,
                      generator: torch.Generator) -> Acquisition:
    """Step 3: the settings' acquisition kind on ``model``, incumbent = the best observed value."""
    return make_acquisition(settings.acquisition, model, features=task.features, beta=settings.beta,
                            best_f=float(history.y.max()), generator=cpu_generator(generator))


def tilt(acquisition: Acquisition, settings: CampaignSettings, history: History) -> Tilt:
    """Step 4: the sampler's reward and alpha. With ``alpha_units=std`` the acquisition is divided by the standard
    deviation of the observed values, so that one alpha tilts every oracle alike."""
    scale = reward_scale(settings, history.y)
    return Tilt(_on_device_of_input(acquisition, scale), scale, settings.alpha)


def warm_start(task: Task, prior: DiffusionPrior, settings: CampaignSettings, history: History,
               num_candidates: int) -> Tensor | None:
    """Step 5's start with ``warm_start > 0``: ``[G, *sample_shape]`` clean particles, group ``g`` on the
    ``g mod k``-th best of the ``k = warm_start_seeds`` best distinct candidates so far (None when off)."""
    if settings.warm_start <= 0:
        return None
    order = np.argsort(-history.y, kind="stable")
    seeds: list[np.ndarray] = []
    seen: set[bytes] = set()
    for index in order:
        key = np.ascontiguousarray(history.X[index]).tobytes()
        if key not in seen:
            seen.add(key)
            seeds.append(history.X[index])
        if len(seeds) == settings.warm_start_seeds:
            break
    rows = np.stack([seeds[g % len(seeds)] for g in range(num_candidates)])
    return prior.encode(torch.as_tensor(rows))


def warm_start_timestep(prior: DiffusionPrior, settings: CampaignSettings) -> int:
    """The model timestep a warm start begins at: ``warm_start`` of the diffusion time, at least ``steps - 1``."""
    return max(int(round(settings.warm_start * (prior.num_train_timesteps - 1))), settings.steps - 1)


def sample(prior: DiffusionPrior, tilted: Tilt, settings: CampaignSettings, num_candidates: int,
           generator: torch.Generator, particle_batch_size: int | None = None,
           start: Tensor | None = None) -> SMCResult:
    """Step 5: DAS on ``p(x) exp(reward(x) / alpha)``, one group of ``settings.particles`` per candidate (from
    ``start [G, *sample_shape]`` noised to the warm start's time, when given)."""
    config = settings.smc_config(alpha=tilted.alpha, particle_batch_size=particle_batch_size)
    sampler = SMCSampler.from_config(prior, tilted.reward, config)
    if start is None:
        return sampler.sample(num_candidates, generator)
    return sampler.sample(num_candidates, generator, start=start.to(generator.device),
                          start_timestep=warm_start_timestep(prior, settings))


def check_manifold(prior: DiffusionPrior, result: SMCResult, settings: CampaignSettings, generator: torch.Generator,
                   particle_batch_size: int | None = None) -> ManifoldFilter:
    """Step 6: with ``manifold_check > 0``, the final particles whose denoising error exceeds that of the worst
    ``manifold_check`` % of prior samples get weight 0 and reward ``-inf`` (a group where none passes keeps all)."""
    if settings.manifold_check <= 0:
        return ManifoldFilter(result, 0)
    check = ManifoldCheck(prior, steps=settings.steps, percentile=settings.manifold_check, device=generator.device,
                          batch_size=particle_batch_size)
    restricted, passing = restrict_to_manifold(result, check)
    dropped = int((~passing & passing.any(-1, keepdim=True)).sum())
    return ManifoldFilter(restricted, dropped)


def exclude_known_sequences(task: Task, prior: DiffusionPrior, tilted: Tilt, history: History,
                            checked: ManifoldFilter) -> ManifoldFilter:
    """Step 6b, for a sequence task: each final particle snapped to its sequence, rewards recomputed on the
    sequences, and every particle whose sequence was already scored (or failed), is pending, or is held by a heavier
    particle of this round given reward ``-inf`` and weight 0 (a group where none is left keeps its weights, and
    ``argmax`` gives it another group's best spare new particle): a discrete space repeats itself, and a repeated
    query teaches nothing. Snapped particles with one sequence are copies, which the selections across groups take
    once."""
    if task.sequence is None:
        return checked
    result = checked.result
    groups, n = result.log_weights.shape
    flat = result.particles.reshape(groups * n, *result.particles.shape[2:])
    with torch.no_grad():
        tokens = task.to_candidates(prior.decode(flat)).cpu()
        snapped = prior.encode(tokens).to(flat)
        rewards = tilted.reward(prior.decode(snapped)).float().view(groups, n).to(result.rewards)
    seen = set(history.known_sequences)
    rows = tokens.numpy().astype(np.int64)
    fresh = np.zeros(groups * n, dtype=bool)
    usable = torch.isfinite(result.rewards).reshape(-1).cpu().numpy()  # the manifold check's verdict stands
    for index in torch.argsort(result.log_weights.reshape(-1).cpu(), descending=True, stable=True).tolist():
        key = sequence_key(rows[index])
        if usable[index] and key not in seen:
            seen.add(key)
            fresh[index] = True
    fresh_mask = torch.from_numpy(fresh).view(groups, n).to(result.log_weights.device)
    snapped_result = dataclasses.replace(result, particles=snapped.view_as(result.particles), rewards=rewards)
    return ManifoldFilter(exclude_particles(snapped_result, fresh_mask), checked.dropped)


def selection_context(task: Task, prior: DiffusionPrior, settings: CampaignSettings, model: Surrogate,
                      history: History, result: SMCResult) -> SelectionContext:
    """What the selection may know: for ``sequential``, ``select_acquisition`` (or the sampler's acquisition) on the
    surrogate conditioned on the picks so far, and the share taken best-first by the sampler's reward."""
    name = settings.select_acquisition or settings.acquisition
    top_fraction = settings.top_fraction if settings.select_acquisition else 0.0
    if settings.selection != "sequential" or not reads_pending(name):  # re-scoring could change nothing
        return SelectionContext(top_fraction=top_fraction)
    flat = result.particles.reshape(-1, *result.particles.shape[2:])
    cache: dict[str, Tensor] = {}

    def rescore(candidates: Tensor, chosen: Tensor) -> Tensor:
        if "features" not in cache or not torch.equal(cache["candidates"], candidates):
            with torch.no_grad():
                decoded = prior.decode(flat[candidates]).float().cpu()
                domain = task.to_domain(task.to_candidates(decoded))
            cache.update(candidates=candidates, features=task.features(domain).double())
        features = cache["features"]
        positions = (candidates[None, :] == chosen[:, None]).int().argmax(1)  # chosen are among the candidates
        current = model if chosen.numel() == 0 else model.condition_on_pending(features[positions.cpu()])
        acquisition = make_acquisition(name, current, features=task.features, beta=settings.beta,
                                       best_f=float(history.y.max()))
        with torch.no_grad():
            return acquisition.on_features(features)

    return SelectionContext(rescore=rescore, top_fraction=top_fraction)


def select(result: SMCResult, settings: CampaignSettings, generator: torch.Generator,
           context: SelectionContext | None = None) -> tuple[Tensor, Tensor]:
    """Step 7: the batch's ``(group, particle)`` indices ``[B]`` each, by the settings' selection kind."""
    return select_particles(result, settings.selection, generator, context)


def describe(task: Task, prior: DiffusionPrior, settings: CampaignSettings, history: History,
             fitted: FittedSurrogate, model: Surrogate, tilted: Tilt, result: SMCResult, groups: Tensor,
             picks: Tensor, *, round_index: int, seconds: float, manifold_dropped: int = 0) -> Proposal:
    """Step 8: the decoded candidates with their provenance, the round's diagnostics and the surrogate snapshot."""
    with torch.no_grad():
        xs = task.to_candidates(prior.decode(result.particles[groups, picks]).float()).cpu()
        mean, variance = model.posterior(task.features(task.to_domain(xs)).double())
    latent_variance = variance.clamp_min(0)
    # The oracle's values carry observation noise; calibration compares them with the predictive spread.
    noise_variance = model.noise_variance()
    # The sampler scored every final particle already; undo the scaling to store oracle units.
    acquisition_values = result.rewards[groups, picks] * tilted.scale
    stored_settings = settings.to_json()
    provenances = [
        Provenance(
            source=SMC, round=round_index, group=int(groups[i]), particle=int(picks[i]),
            log_weight=float(result.log_weights[groups[i], picks[i]]), acquisition=float(acquisition_values[i]),
            predicted_mean=float(mean[i]), predicted_std=float(latent_variance[i].sqrt()),
            predictive_std=float((latent_variance[i] + noise_variance) ** 0.5), surrogate_version=round_index,
            train_size=int(history.y.shape[0]), pending=int(history.pending.shape[0]), settings=stored_settings,
        )
        for i in range(len(groups))
    ]
    diagnostics = RoundDiagnostics(
        source=SMC, seconds_fit=fitted.seconds, seconds_propose=seconds - fitted.seconds,
        ess=result.ess.mean(-1).tolist(), ess_min=float(result.ess.min()), final_ess=result.ess[-1].tolist(),
        lambdas=result.lambdas.mean(-1).tolist(), log_z=result.log_z.tolist(),
        reward_trace=result.reward_trace.mean(-1).tolist(), resample_count=int(result.resampled.sum()),
        alpha=tilted.alpha, alpha_scale=tilted.scale, acquisition=settings.acquisition,
        selection=settings.selection, batch_spread=batch_spread(result.particles[groups, picks]),
        manifold_dropped=manifold_dropped,
    )
    snapshot = {"train_size": int(history.y.shape[0]), "hyperparameters": fitted.report.hyperparameters,
                "diagnostics": fitted.report.diagnostics}
    return Proposal(xs.numpy(), provenances, diagnostics, snapshot)


def check_space_left(space: SequenceSpace, history: History) -> None:
    """Before a sequence round: :class:`SpaceExhausted` when every sequence of ``space`` was scored or is pending."""
    size = space_size(space.num_states, space.length)
    if len(history.known_sequences) >= size:
        raise SpaceExhausted(f"all {size:,} sequences of length {space.length} over {space.alphabet!r} were scored "
                             f"or are pending: nothing new is left to propose; {_START_ANEW}")


def only_new_sequences(task: Task, prior: DiffusionPrior, settings: CampaignSettings, history: History,
                       proposal: Proposal, num_candidates: int, generator: torch.Generator, *, round_index: int,
                       particle_batch_size: int | None = None, model: Surrogate | None = None,
                       tilted: Tilt | None = None) -> Proposal:
    """Step 9, for a sequence task: ``proposal`` without the candidates already scored, pending, or earlier in the
    batch, filled back to ``num_candidates`` from a widened search (:func:`oboptim.sequences._novelty
    .find_new_sequences`: further prior draws, the heaviest under ``tilted`` first when given, then for a small
    space the sequences the prior allows). A round still short proposes fewer and says so in its diagnostics'
    ``note``; one with nothing new raises :class:`SpaceExhausted`. Fill-ins are ``source="prior"`` candidates,
    with the surrogate's predictions when ``model`` is given. Draws randomness from ``generator`` only when short.
    """
    if task.sequence is None:
        return proposal
    known = history.known_sequences
    keep: dict[bytes, int] = {}
    for index, row in enumerate(proposal.xs):
        key = sequence_key(row)
        if key not in known and key not in keep:
            keep[key] = index
    missing = num_candidates - len(keep)
    if missing == 0 and len(keep) == len(proposal.xs):
        return proposal
    space = task.sequence
    rank = None if tilted is None else (lambda tokens: sequence_rewards(prior, tilted, tokens, generator.device))
    found = find_new_sequences(
        missing, known | set(keep), num_states=space.num_states, length=space.length,
        draw=lambda n: sample_from_prior(prior, n, settings.steps, generator, particle_batch_size, task=task),
        allowed=lambda tokens: allowed_by_prior(prior, space.relaxation, tokens, device=generator.device),
        generator=generator, rank=rank)
    kept = list(keep.values())
    if not kept and found.tokens.shape[0] == 0:
        raise SpaceExhausted(_exhausted_message(space, found))
    xs = np.concatenate([proposal.xs[kept].astype(np.int64), found.tokens])
    provenances = [proposal.provenances[i] for i in kept] + prior_fill_provenances(
        task, prior, settings, history, found.tokens, round_index=round_index, model=model, tilted=tilted,
        device=generator.device)
    note = _fill_note(num_candidates, len(kept), found, sampler=tilted is not None)
    return dataclasses.replace(proposal, xs=xs, provenances=provenances,
                               diagnostics=dataclasses.replace(proposal.diagnostics, note=note))


def prior_fill_provenances(task: Task, prior: DiffusionPrior, settings: CampaignSettings, history: History,
                           tokens: np.ndarray, *, round_index: int, model: Surrogate | None = None,
                           tilted: Tilt | None = None, device: torch.device | str = "cpu") -> list[Provenance]:
    """Provenances of the prior draws ``tokens [k, L]`` that filled a short round: ``source="prior"``, with the
    acquisition and the surrogate's predictions when the round had a surrogate."""
    base = Provenance(source=PRIOR, round=round_index, steps=settings.steps)
    if tokens.shape[0] == 0 or model is None or tilted is None:
        return [base] * tokens.shape[0]
    rewards = sequence_rewards(prior, tilted, tokens, device) * tilted.scale
    with torch.no_grad():
        mean, variance = model.posterior(features_of(task, tokens))
    latent_variance = variance.clamp_min(0)
    noise_variance = model.noise_variance()
    stored_settings = settings.to_json()
    return [dataclasses.replace(
        base, acquisition=float(rewards[i]), predicted_mean=float(mean[i]),
        predicted_std=float(latent_variance[i].sqrt()),
        predictive_std=float((latent_variance[i] + noise_variance) ** 0.5), surrogate_version=round_index,
        train_size=int(history.y.shape[0]), pending=int(history.pending.shape[0]), settings=stored_settings)
        for i in range(tokens.shape[0])]


_START_ANEW = "stop here, or start a new campaign with --name over a larger space (longer sequences, more states)"


def _exhausted_message(space: SequenceSpace, found: NewSequences) -> str:
    if found.enumerated is not None:
        size = space_size(space.num_states, space.length)
        return (f"every sequence the prior allows ({found.enumerated:,} of the {size:,} of length {space.length} over "
                f"{space.alphabet!r}) was scored or is pending: nothing new is left to propose; {_START_ANEW}")
    return (f"no new sequence in {found.draws:,} prior draws: every sequence the prior proposes was scored or is "
            f"pending, so there is nothing new to propose; {_START_ANEW}")


def _fill_note(asked: int, kept: int, found: NewSequences, *, sampler: bool) -> str:
    """The round's one-line note on a batch the sampler alone did not fill with new sequences."""
    searched = f"{found.draws:,} more prior draws"
    if found.enumerated is not None:
        searched += f" and the {found.enumerated:,} sequences the prior allows"
    filled = found.tokens.shape[0]
    sources = f"{kept} from {'the sampler' if sampler else 'the first prior draws'}, {filled} from {searched}"
    if kept + filled == asked:
        return f"new sequences: {sources}"
    left = "no other new sequence found" if found.enumerated is None else "no other sequence the prior allows is new"
    return f"proposed {kept + filled} of {asked}: {left} ({sources})"


# -- helpers ---------------------------------------------------------------------------------------------------------


def known_candidates(history: History) -> np.ndarray:
    """Every candidate the campaign has asked about: completed, pending and failed ``[n, *domain_shape]``."""
    parts = [history.X, history.pending] + ([] if history.failed is None else [history.failed])
    parts = [np.asarray(part).reshape(-1, *history.X.shape[1:]) for part in parts]
    return np.concatenate(parts) if parts else history.X


def sequence_rewards(prior: DiffusionPrior, tilted: Tilt, tokens: np.ndarray,
                     device: torch.device | str = "cpu") -> np.ndarray:
    """The sampler's reward of sequences ``tokens [n, L]`` (their clean particles): ``[n]`` float64."""
    with torch.no_grad():
        particles = prior.encode(torch.as_tensor(tokens)).to(device)
        return tilted.reward(prior.decode(particles)).double().cpu().numpy()


def features_of(task: Task, x: np.ndarray | Tensor) -> Tensor:
    """The task's features of stored candidates ``x [n, *candidate_shape]``: ``[n, F]`` float64, no gradient."""
    with torch.no_grad():
        return task.features(task.to_domain(x)).double()


def reward_scale(settings: CampaignSettings, y: np.ndarray) -> float:
    """What the acquisition is divided by before the sampler sees it: 1, or the observed values' std."""
    if settings.alpha_units != "std" or y.shape[0] < 2:
        return 1.0
    spread = float(np.std(y))
    return spread if np.isfinite(spread) and spread > 0 else 1.0


def batch_spread(particles: Tensor) -> float:
    """Mean pairwise Euclidean distance of a batch ``[B, *sample_shape]`` (0 for fewer than two)."""
    if particles.shape[0] < 2:
        return 0.0
    return float(torch.pdist(particles.reshape(particles.shape[0], -1).double().cpu()).mean())


def cpu_generator(generator: torch.Generator) -> torch.Generator:
    """A CPU generator seeded from ``generator``, for the CPU-side surrogate."""
    if generator.device.type == "cpu":
        return generator
    seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device).item())
    return torch.Generator().manual_seed(seed)


def _on_device_of_input(acquisition: Acquisition, scale: float = 1.0) -> Callable[[Tensor], Tensor]:
    """The surrogate lives on the CPU; particles may live on a GPU. Move across, keeping the gradient."""

    def reward(x: Tensor) -> Tensor:
        if x.device.type == "cpu":
            return acquisition(x) / scale
        return (acquisition(x.cpu()) / scale).to(x.device)

    return reward


__all__ = ["FittedSurrogate", "History", "ManifoldFilter", "Proposal", "Tilt",
           "batch_spread", "build_acquisition", "check_manifold", "check_space_left", "condition_on_pending",
           "describe", "exclude_known_sequences", "features_of", "fit_surrogate", "known_candidates",
           "only_new_sequences", "prior_fill_provenances", "propose", "propose_from_prior", "reward_scale", "sample",
           "sample_from_prior", "select", "selection_context", "sequence_rewards", "tilt", "warm_start",
           "warm_start_timestep"]
