"""Batch selection: which of the sampler's ``G x N`` final particles become a round's ``B`` candidates.

A campaign runs one sampler group per candidate (``G = B``). A selection is a function with one signature,

    selection(result, generator) -> (groups [B] long, picks [B] long)

where ``result`` holds ``particles [G, N, *shape]``, normalised ``log_weights [G, N]`` and the final ``rewards [G, N]``
(the acquisition values the sampler already computed), and ``(groups[i], picks[i])`` indexes the ``i``-th candidate.

- ``resample``: one particle per group drawn by weight, a draw from the tilted target ``p(x) exp(a(x) / alpha)``;
- ``argmax``: each group's heaviest particle;
- ``top``: the ``B`` distinct particles of all groups with the highest acquisition, whatever their group (exploits
  hardest; distinct, because resampling leaves bit-identical copies).

A new selection is one function bound with ``@SELECTIONS.implements(name)`` (declared in ``oboptim/_registry.py``), or
registered at run time with ``SELECTIONS.register(name, fn, help=...)``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from oboptim._registry import SELECTIONS


def select_particles(result: Any, selection: str, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """The batch's ``(group, particle)`` indices, ``[G]`` each, chosen by the selection kind ``selection``."""
    return SELECTIONS.get(selection)(result, generator)


@SELECTIONS.implements("resample")
def resample_per_group(result: Any, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """One particle per group, drawn by weight (systematic resampling of one)."""
    groups = torch.arange(result.particles.shape[0], device=result.particles.device)
    return groups, result.resample_indices(1, generator)[:, 0]


@SELECTIONS.implements("argmax")
def heaviest_per_group(result: Any, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Each group's particle of largest weight."""
    groups = torch.arange(result.particles.shape[0], device=result.particles.device)
    return groups, result.log_weights.argmax(-1)


@SELECTIONS.implements("top")
def best_distinct(result: Any, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """The ``G`` distinct particles of all groups with the highest final reward (copies only if too few differ)."""
    num_groups, num_particles = result.particles.shape[:2]
    flat = result.particles.reshape(num_groups * num_particles, -1)
    order = torch.argsort(result.rewards.reshape(-1), descending=True, stable=True)
    # Copies left by resampling are bit-identical rows: keep each row's best-ranked copy.
    _, inverse = torch.unique(flat, dim=0, return_inverse=True)
    rank = torch.empty_like(order)
    rank[order] = torch.arange(order.numel(), device=order.device)
    best_rank = torch.full_like(rank, order.numel()).scatter_reduce(0, inverse, rank, reduce="amin")
    first_seen = rank == best_rank[inverse]
    distinct = order[first_seen[order]]
    chosen = torch.cat([distinct, order[~first_seen[order]]])[:num_groups]
    return chosen // num_particles, chosen % num_particles


__all__ = ["select_particles"]
