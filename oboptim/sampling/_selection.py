"""Batch selection: which of the sampler's ``G x N`` final particles become a round's ``B`` candidates.

A campaign runs one sampler group per candidate (``G = B``). A selection is a function with one signature,

    selection(result, generator, context) -> (groups [B] long, picks [B] long)

where ``result`` holds ``particles [G, N, *shape]``, normalised ``log_weights [G, N]`` and the final ``rewards [G, N]``
(the acquisition values the sampler already computed; ``-inf`` marks a particle that must not be taken),
``context`` is a :class:`SelectionContext` (what a selection may know besides the particles: the campaign's
re-scoring of particles on a surrogate told of earlier picks), and ``(groups[i], picks[i])`` indexes the ``i``-th
candidate.

- ``resample``: one particle per group drawn by weight, a draw from the tilted target ``p(x) exp(a(x) / alpha)``;
- ``argmax``: each group's heaviest particle (a group left with no particle to take borrows the best spare one);
- ``top``: the ``B`` distinct particles of all groups with the highest acquisition, whatever their group (exploits
  hardest; distinct, because resampling leaves bit-identical copies);
- ``sequential``: the first ``round(B * top_fraction)`` distinct particles by the sampler's acquisition, then one at
  a time the best by ``context.rescore``: the selection's acquisition (e.g. UCB) on the surrogate conditioned on the
  picks so far as pending points (kriging believer: their neighbourhood loses its uncertainty bonus), so the batch
  spreads out where UCB alone would stack it. Without ``rescore`` (an acquisition pending points do not change, such
  as the posterior mean) it is ``top``.

A new selection is one function bound with ``@SELECTIONS.implements(name)`` (declared in ``oboptim/_registry.py``), or
registered at run time with ``SELECTIONS.register(name, fn, help=...)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from oboptim._registry import SELECTIONS

Rescore = Callable[[Tensor, Tensor], Tensor]


@dataclass(frozen=True)
class SelectionContext:
    """What a selection may know besides the particles.

    Attributes:
        rescore: ``(candidates [K], chosen [C]) -> [K]``: the selection's acquisition of the candidate particles
            (flat indices into ``G * N``), on the surrogate conditioned on the chosen ones as pending points; None
            where there is none (a direct user of the sampler, or an acquisition pending points do not change).
        top_fraction: the share of the batch ``sequential`` takes best-first by the sampler's reward, in [0, 1].
        max_candidates: ``sequential`` ranks at most this many distinct particles (the best by reward).
    """

    rescore: Rescore | None = None
    top_fraction: float = 0.5
    max_candidates: int = 512


def select_particles(result: Any, selection: str, generator: torch.Generator,
                     context: SelectionContext | None = None) -> tuple[Tensor, Tensor]:
    """The batch's ``(group, particle)`` indices, ``[G]`` each, chosen by the selection kind ``selection``."""
    return SELECTIONS.get(selection)(result, generator, context or SelectionContext())


def distinct_order(particles: Tensor, scores: Tensor) -> Tensor:
    """Flat indices of the distinct rows of ``particles [G, N, ...]`` sorted by ``scores [G, N]``, best first (each
    row's best-ranked copy; resampling leaves bit-identical copies)."""
    num_groups, num_particles = scores.shape
    flat = particles.reshape(num_groups * num_particles, -1)
    order = torch.argsort(scores.reshape(-1), descending=True, stable=True)
    _, inverse = torch.unique(flat, dim=0, return_inverse=True)
    rank = torch.empty_like(order)
    rank[order] = torch.arange(order.numel(), device=order.device)
    best_rank = torch.full_like(rank, order.numel()).scatter_reduce(0, inverse, rank, reduce="amin")
    first_seen = rank == best_rank[inverse]
    return order[first_seen[order]]


@SELECTIONS.implements("resample")
def resample_per_group(result: Any, generator: torch.Generator,
                       context: SelectionContext | None = None) -> tuple[Tensor, Tensor]:
    """One particle per group, drawn by weight (systematic resampling of one)."""
    groups = torch.arange(result.particles.shape[0], device=result.particles.device)
    return groups, result.resample_indices(1, generator)[:, 0]


@SELECTIONS.implements("argmax")
def heaviest_per_group(result: Any, generator: torch.Generator,
                       context: SelectionContext | None = None) -> tuple[Tensor, Tensor]:
    """Each group's particle of largest weight. A group none of whose particles may be taken (every reward ``-inf``:
    a filter before the selection removed them all, say because each is a sequence already scored) takes instead the
    best spare particle by reward: one of another group, which no group takes and which differs from every particle
    taken. Only when no spare is left does such a group fall back on its heaviest particle."""
    num_groups, num_particles = result.log_weights.shape
    groups = torch.arange(num_groups, device=result.particles.device)
    picks = result.log_weights.argmax(-1)
    usable = torch.isfinite(result.rewards).reshape(-1)
    empty = ~usable.view(num_groups, num_particles).any(-1)
    if not bool(empty.any()):
        return groups, picks
    flat = result.particles.reshape(num_groups * num_particles, -1)
    _, identity = torch.unique(flat, dim=0, return_inverse=True)  # copies share an identity
    taken = identity[(groups * num_particles + picks)[~empty]]
    spares = distinct_order(result.particles, result.rewards)
    spares = spares[usable[spares] & ~torch.isin(identity[spares], taken)]
    needy = empty.nonzero().squeeze(-1)[: spares.numel()]
    donors = spares[: needy.numel()]
    groups = groups.index_put((needy,), donors // num_particles)
    picks = picks.index_put((needy,), donors % num_particles)
    return groups, picks


@SELECTIONS.implements("top")
def best_distinct(result: Any, generator: torch.Generator,
                  context: SelectionContext | None = None) -> tuple[Tensor, Tensor]:
    """The ``G`` distinct particles of all groups with the highest final reward (copies only if too few differ)."""
    num_groups, num_particles = result.particles.shape[:2]
    distinct = distinct_order(result.particles, result.rewards)
    order = torch.argsort(result.rewards.reshape(-1), descending=True, stable=True)
    copies = order[~torch.isin(order, distinct)]
    chosen = torch.cat([distinct, copies])[:num_groups]
    return chosen // num_particles, chosen % num_particles


@SELECTIONS.implements("sequential")
def sequential(result: Any, generator: torch.Generator,
               context: SelectionContext | None = None) -> tuple[Tensor, Tensor]:
    """The best ``round(G * top_fraction)`` distinct particles by reward, then one at a time the best by
    ``context.rescore`` given the picks so far; ``top`` without a ``rescore``. Particles of reward ``-inf`` are
    never taken unless fewer than ``G`` others are left (then the best is repeated)."""
    context = context or SelectionContext()
    if context.rescore is None:
        return best_distinct(result, generator, context)
    num_groups, num_particles = result.particles.shape[:2]
    candidates = distinct_order(result.particles, result.rewards)[:context.max_candidates]
    rewards = result.rewards.reshape(-1)[candidates].double().cpu()
    available = torch.isfinite(rewards)
    num_top = min(round(num_groups * context.top_fraction), int(available.sum()))
    chosen = list(range(num_top))  # candidates are sorted by reward
    available[:num_top] = False
    while len(chosen) < num_groups and bool(available.any()):
        taken = candidates[torch.as_tensor(chosen, dtype=torch.long, device=candidates.device)]
        scores = context.rescore(candidates, taken).double().cpu()
        pick = int(torch.where(available, scores, -math.inf).argmax())
        available[pick] = False
        chosen.append(pick)
    flat = candidates[torch.as_tensor(chosen, dtype=torch.long, device=candidates.device)]
    if flat.numel() < num_groups:  # fewer usable distinct particles than the batch: repeat the best
        flat = torch.cat([flat, candidates[:1].expand(num_groups - flat.numel())])
    return flat // num_particles, flat % num_particles


__all__ = ["SelectionContext", "distinct_order", "select_particles"]
