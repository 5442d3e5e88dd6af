"""New sequences only: what a sequence campaign already knows, and where more new sequences come from when a round's
sampler finds too few.

A discrete space repeats itself: on a small one (few states, short sequences) the sampler's final particles soon hold
only sequences already scored or pending, and a repeated query teaches nothing. A round that is short of new
sequences widens its search in two steps, each taking only sequences distinct from every known and already-chosen
one:

1. **more prior draws**: ancestral samples of the prior, taken in the order given by ``rank`` (the heaviest first
   under the round's tilted target ``p(x) exp(r(x) / alpha)``: for a prior draw the importance weight is
   ``exp(r(x) / alpha)``, so the highest reward first), or in draw order without one (round 0: sampling the prior
   without replacement);
2. **enumeration**, when the space has at most :data:`MAX_ENUMERATED` sequences: every sequence not known yet that
   the prior allows (:func:`allowed_by_prior`: its denoiser at the lowest noise level keeps the sequence, which rules
   out, say, a Markov chain's impossible transitions), by ``rank``, or in an order drawn from the round's
   generator.

Whatever is still missing is missing: the round proposes fewer; with none at all the space is exhausted. All
randomness comes from the round's generator, and none is drawn unless a round is short.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import torch

# Spaces of at most this many sequences are enumerated when prior draws find too few new ones.
MAX_ENUMERATED = 2**14
# A short round first draws max(MIN_PRIOR_DRAWS, PRIOR_DRAWS_PER_MISSING * missing) prior samples, at most
# MAX_PRIOR_DRAWS; a space too large to enumerate tries up to PRIOR_DRAW_TRIES times, each try drawing
# PRIOR_DRAW_GROWTH times more than the last (within the same cap).
PRIOR_DRAWS_PER_MISSING = 32
MIN_PRIOR_DRAWS = 256
MAX_PRIOR_DRAWS = 4096
PRIOR_DRAW_TRIES = 3
PRIOR_DRAW_GROWTH = 8

Draw = Callable[[int], np.ndarray]
Rank = Callable[[np.ndarray], np.ndarray]


def sequence_key(row: np.ndarray) -> bytes:
    """One sequence ``[L]`` (integers, or whole floats as stored) as a hashable key."""
    return np.ascontiguousarray(np.asarray(row).astype(np.int64)).tobytes()


def sequence_keys(rows: Iterable[np.ndarray]) -> set[bytes]:
    """The keys of sequences ``[n, L]``."""
    return {sequence_key(row) for row in rows}


def space_size(num_states: int, length: int) -> int:
    """``V ** L``, the number of sequences of the space."""
    return num_states**length


def enumerate_sequences(num_states: int, length: int) -> np.ndarray:
    """Every sequence of the space, ``[V ** L, L]`` int64 in lexicographic order."""
    return np.array(list(itertools.product(range(num_states), repeat=length)), dtype=np.int64).reshape(-1, length)


def allowed_by_prior(prior, relaxation, tokens: np.ndarray, device: torch.device | str = "cpu",
                     batch_size: int = 4096) -> np.ndarray:
    """``[n]`` bool: whether the prior allows each sequence of ``tokens [n, L]``.

    The sequence's clean particle, scaled to the prior's lowest noise level (timestep 0) without noise, is denoised;
    with the one-hot relaxation the estimate ``scale · (2 p - 1)`` gives ``p_l``, the denoiser's probability of the
    sequence's own state at each position, and ``sum_l (1 - p_l)`` is the expected number of positions where the
    denoised sequence differs. A sequence is allowed when that is below one half. For a Markov chain prior this is
    exact: a possible sequence keeps all the posterior's mass at that noise level (distance 0), while every sequence
    the posterior can reach from an impossible one differs from it somewhere (distance at least 1). For a learned
    denoiser it says the sequence lies on the prior's manifold.

    Args:
        prior: a :class:`oboptim.priors.DiffusionPrior` over relaxed sequences (its encoder is ``relaxation``'s).
        relaxation: the :class:`oboptim.sequences.OneHotRelaxation` of the sequences.
        tokens: ``[n, L]`` integer sequences.
        device: where the prior's denoiser runs.
        batch_size: sequences per denoiser call.
    """
    abar = prior.alphas_cumprod[0].float().to(device)
    kept = []
    with torch.no_grad():
        for start in range(0, tokens.shape[0], batch_size):
            rows = torch.as_tensor(tokens[start:start + batch_size]).to(device)
            x_t = abar.sqrt() * prior.encode(rows).to(device)
            t = torch.zeros(rows.shape[0], dtype=torch.long, device=device)
            eps = prior.predict_eps(x_t, t, abar.expand(rows.shape[0]))
            x0 = (x_t - (1 - abar).sqrt() * eps) / abar.sqrt()
            own = (x0.gather(-1, rows.long().unsqueeze(-1)).squeeze(-1) / relaxation.scale + 1) / 2
            kept.append(((1 - own.clamp(0, 1)).sum(-1) < 0.5).cpu().numpy())
    return np.concatenate(kept) if kept else np.zeros(0, dtype=bool)


@dataclass(frozen=True)
class NewSequences:
    """What a short round's widened search found.

    Attributes:
        tokens: ``[k, L]`` int64 new sequences, distinct from each other and from every known one, best first.
        draws: prior samples drawn.
        enumerated: the sequences of the space the prior allows, when it was enumerated (None: it was not).
    """

    tokens: np.ndarray
    draws: int
    enumerated: int | None


def find_new_sequences(count: int, known: set[bytes], *, num_states: int, length: int, draw: Draw,
                       allowed: Callable[[np.ndarray], np.ndarray], generator: torch.Generator,
                       rank: Rank | None = None) -> NewSequences:
    """Up to ``count`` new sequences (not in ``known``, which is left as it was): from prior draws (``draw(n) ->
    [n, L]``), then, for a space of at most :data:`MAX_ENUMERATED` sequences, from those ``allowed`` by the prior.
    ``rank(tokens [n, L]) -> [n]`` orders candidates, highest first (None: draw order, and a random order drawn
    from ``generator`` for enumerated ones)."""
    seen = set(known)
    found: list[np.ndarray] = []
    draws = 0
    enumerable = space_size(num_states, length) <= MAX_ENUMERATED
    size = max(MIN_PRIOR_DRAWS, PRIOR_DRAWS_PER_MISSING * count)
    for _ in range(1 if enumerable else PRIOR_DRAW_TRIES):
        if len(found) == count:
            break
        drawn = np.asarray(draw(min(size, MAX_PRIOR_DRAWS)), dtype=np.int64)
        draws += drawn.shape[0]
        found += _take_new(drawn, count - len(found), seen, rank, order=None)
        size *= PRIOR_DRAW_GROWTH
    enumerated = None
    if len(found) < count and enumerable:
        every = enumerate_sequences(num_states, length)
        possible = allowed(every)
        enumerated = int(possible.sum())
        candidates = every[possible]
        order = None if rank is not None else torch.randperm(candidates.shape[0], generator=generator,
                                                             device=generator.device).cpu().numpy()
        found += _take_new(candidates, count - len(found), seen, rank, order=order)
    tokens = np.stack(found) if found else np.zeros((0, length), dtype=np.int64)
    return NewSequences(tokens, draws, enumerated)


def _take_new(candidates: np.ndarray, count: int, seen: set[bytes], rank: Rank | None,
              order: np.ndarray | None) -> list[np.ndarray]:
    """Up to ``count`` distinct rows of ``candidates`` not in ``seen`` (their keys are added to it): the best by
    ``rank``, else the first in ``order`` (else as given)."""
    if count <= 0 or candidates.shape[0] == 0:
        return []
    order = np.arange(candidates.shape[0]) if order is None else order
    fresh: dict[bytes, int] = {}
    for index in order.tolist():
        key = sequence_key(candidates[index])
        if key not in seen and key not in fresh:
            fresh[key] = index
    indices = np.array(list(fresh.values()), dtype=np.int64)
    if rank is not None and indices.size:
        indices = indices[np.argsort(-np.asarray(rank(candidates[indices]), dtype=np.float64), kind="stable")]
    taken = [candidates[index] for index in indices[:count]]
    seen.update(sequence_key(row) for row in taken)
    return taken


__all__ = ["MAX_ENUMERATED", "NewSequences", "allowed_by_prior", "enumerate_sequences", "find_new_sequences",
           "sequence_key", "sequence_keys", "space_size"]
