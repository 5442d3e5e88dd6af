"""New sequences only: the prior's support found by its denoiser, and the widened search of a short round."""

from __future__ import annotations

import numpy as np
import torch

from oboptim.sequences import MarkovChainDenoiser, OneHotRelaxation, sequence_prior, sequence_schedule
from oboptim.sequences._novelty import (
    allowed_by_prior,
    enumerate_sequences,
    find_new_sequences,
    sequence_key,
    sequence_keys,
)

# 3 states: state 0 never starts a sequence, 1 never follows 0 and 2 never follows itself.
INITIAL = torch.tensor([0.0, 0.5, 0.5])
TRANSITION = torch.tensor([[0.7, 0.0, 0.3], [0.2, 0.2, 0.6], [0.5, 0.5, 0.0]])


def chain_prior(length: int):
    relaxation = OneHotRelaxation(3, length)
    denoiser = MarkovChainDenoiser(INITIAL, TRANSITION, sequence_schedule().alphas_cumprod)
    return sequence_prior(denoiser, relaxation), relaxation


def possible(tokens: np.ndarray) -> np.ndarray:
    rows = torch.as_tensor(tokens)
    return ((INITIAL[rows[:, 0]] > 0) & (TRANSITION[rows[:, :-1], rows[:, 1:]] > 0).all(-1)).numpy()


def test_the_prior_allows_exactly_the_chains_possible_sequences():
    prior, relaxation = chain_prior(5)
    every = enumerate_sequences(3, 5)
    assert every.shape == (243, 5) and len(sequence_keys(every)) == 243
    allowed = allowed_by_prior(prior, relaxation, every, batch_size=100)
    # an impossible sequence one state away from two possible ones (its per-position argmax is itself) is refused
    assert possible(np.array([[1, 0, 0, 0, 2]]))[0] and not possible(np.array([[1, 0, 1, 0, 2]]))[0]
    np.testing.assert_array_equal(allowed, possible(every))
    assert 0 < allowed.sum() < 243


def draws_of(prior, length: int, generator: torch.Generator):
    from oboptim import Task
    from oboptim._proposal import sample_from_prior
    from oboptim.sequences import SequenceSpace

    task = Task(name="t", description="", load_prior=lambda device: prior, oracle=lambda x: [0.0] * len(x),
                sequence=SequenceSpace("ABC", length))
    return lambda n: sample_from_prior(prior, n, 10, generator, task=task)


def test_a_short_search_takes_new_distinct_sequences_by_rank_then_enumerates():
    prior, relaxation = chain_prior(4)
    generator = torch.Generator().manual_seed(0)
    every = enumerate_sequences(3, 4)
    support = every[possible(every)]
    known = sequence_keys(support[:5])
    found = find_new_sequences(
        100, known, num_states=3, length=4, draw=draws_of(prior, 4, generator),
        allowed=lambda tokens: allowed_by_prior(prior, relaxation, tokens), generator=generator,
        rank=lambda tokens: -tokens.sum(-1).astype(float))
    keys = [sequence_key(row) for row in found.tokens]
    assert len(set(keys)) == len(keys) and not set(keys) & known  # distinct, none known
    assert len(keys) == len(support) - 5  # every possible sequence not known, nothing the prior rules out
    assert possible(found.tokens).all()
    assert found.enumerated == len(support) and found.draws == 3_200
    assert len(known) == 5  # the caller's set is left as it was


def test_prior_draws_come_first_in_draw_order_without_a_rank():
    prior, relaxation = chain_prior(4)
    drawn = draws_of(prior, 4, torch.Generator().manual_seed(1))(256)
    found = find_new_sequences(
        3, set(), num_states=3, length=4, draw=draws_of(prior, 4, torch.Generator().manual_seed(1)),
        allowed=lambda tokens: allowed_by_prior(prior, relaxation, tokens), generator=torch.Generator())
    firsts = list(dict.fromkeys(sequence_key(row) for row in drawn))[:3]
    assert [sequence_key(row) for row in found.tokens] == firsts
    assert found.draws == 256 and found.enumerated is None


def test_the_rank_picks_the_best_new_draws_and_a_full_search_stops_short():
    drawn = np.array([[0, 0], [2, 2], [1, 1], [2, 2], [0, 1]])
    everything = lambda tokens: np.ones(len(tokens), dtype=bool)  # noqa: E731
    found = find_new_sequences(2, {sequence_key(np.array([1, 1]))}, num_states=3, length=2, draw=lambda n: drawn,
                               allowed=everything, generator=torch.Generator(), rank=lambda t: t.sum(-1))
    assert found.tokens.tolist() == [[2, 2], [0, 1]] and found.enumerated is None
    only_two = lambda tokens: (tokens[:, 0] == 0) & (tokens[:, 1] < 2)  # noqa: E731
    short = find_new_sequences(5, {sequence_key(np.array([0, 0]))}, num_states=3, length=2,
                               draw=lambda n: drawn[:1], allowed=only_two, generator=torch.Generator())
    assert short.tokens.tolist() == [[0, 1]] and short.enumerated == 2
