"""Proposals: the pipeline's steps alone, how the batch is taken from the sampler's particles, and the units of
alpha."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from oboptim import CampaignSettings, load_task
from oboptim._proposal import (
    History,
    build_acquisition,
    condition_on_pending,
    fit_surrogate,
    propose,
    tilt,
)
from oboptim.sampling import select_particles

MIXTURE_TASK = str(Path(__file__).parent / "campaign" / "mixture_task.py") + ":TASK"


def fake_result(rewards):
    """Particles [G, N, 1] equal to their reward, so copies share both."""
    rewards = torch.as_tensor(rewards, dtype=torch.float32)
    return SimpleNamespace(particles=rewards.unsqueeze(-1), rewards=rewards,
                           log_weights=torch.log_softmax(torch.zeros_like(rewards), -1))


def test_top_takes_the_best_distinct_particles_of_all_groups():
    result = fake_result([[5.0, 5.0, 1.0], [4.0, 2.0, 3.0]])  # group 0 holds a copy of its best particle
    groups, picks = select_particles(result, "top", torch.Generator().manual_seed(0))
    assert result.rewards[groups, picks].tolist() == [5.0, 4.0]
    assert groups.tolist() == [0, 1] and picks.tolist() == [0, 0]


def test_top_falls_back_to_copies_only_when_too_few_are_distinct():
    result = fake_result([[7.0, 7.0], [7.0, 7.0]])
    groups, picks = select_particles(result, "top", torch.Generator().manual_seed(0))
    assert len(groups) == 2 and result.rewards[groups, picks].tolist() == [7.0, 7.0]


def test_argmax_and_resample_take_one_particle_per_group():
    result = fake_result([[1.0, 9.0], [8.0, 2.0]])
    result.log_weights = torch.log(torch.tensor([[0.1, 0.9], [0.8, 0.2]]))
    groups, picks = select_particles(result, "argmax", torch.Generator().manual_seed(0))
    assert groups.tolist() == [0, 1] and picks.tolist() == [1, 0]
    result.resample_indices = lambda k, generator: torch.tensor([[1], [0]])
    groups, picks = select_particles(result, "resample", torch.Generator().manual_seed(0))
    assert groups.tolist() == [0, 1] and picks.tolist() == [1, 0]


@pytest.mark.parametrize("units", ["oracle", "std"])
def test_alpha_units_scale_what_the_sampler_sees_but_not_the_stored_acquisition(units):
    task = load_task(MIXTURE_TASK)
    prior = task.load_prior("cpu")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 2)).astype(np.float32) * 3
    y = np.array(task.oracle(X)) * 10.0  # a spread far from 1
    settings = CampaignSettings.resolve(task.defaults, {"alpha_units": units, "particles": 8, "steps": 10,
                                                         "selection": "top"})
    history = History(X, y, np.zeros((0, 2), np.float32))
    proposal = propose(task, prior, settings, history, 4, torch.Generator().manual_seed(1), round_index=1)
    expected_scale = float(np.std(y)) if units == "std" else 1.0
    assert proposal.diagnostics.alpha_scale == pytest.approx(expected_scale)
    assert len({tuple(x) for x in proposal.xs.tolist()}) == 4  # top: distinct candidates
    for provenance in proposal.provenances:
        assert provenance.settings["alpha_units"] == units
        # acquisition is stored in oracle units: UCB = mean + beta * std of the posterior, near the predicted mean
        assert abs(provenance.acquisition - provenance.predicted_mean) <= 2.0 * provenance.predicted_std + 1e-6


def test_each_step_runs_alone_and_pending_points_shrink_the_spread_there():
    task = load_task(MIXTURE_TASK)
    rng = np.random.default_rng(3)
    X = rng.normal(size=(10, 2)).astype(np.float32) * 3
    y = np.array(task.oracle(X))
    pending = np.array([[6.0, -6.0]], np.float32)  # far from every observation: large spread before conditioning
    settings = CampaignSettings(acquisition="ucb", beta=2.0)
    history = History(X, y, pending)
    generator = torch.Generator().manual_seed(0)
    fitted = fit_surrogate(task, settings, history, generator)
    assert fitted.surrogate.num_train == 10 and fitted.seconds >= 0
    model = condition_on_pending(fitted.surrogate, task, history)
    at_pending = torch.as_tensor(pending, dtype=torch.float64)
    assert float(model.posterior(at_pending)[1][0]) < 0.5 * float(fitted.surrogate.posterior(at_pending)[1][0])
    acquisition = build_acquisition(settings, model, task, history, generator)
    assert acquisition.name == "ucb"
    tilted = tilt(acquisition, settings.replace(alpha_units="std"), history)
    x = torch.tensor(X[:3])
    torch.testing.assert_close(tilted.reward(x) * tilted.scale, acquisition(x))
    assert tilted.scale == pytest.approx(float(np.std(y)), rel=1e-6)


def tiny_sequence_task(length: int = 3):
    """3 states over ``length`` positions, a Markov chain prior that rules out 0 -> 1 and 2 -> 2."""
    from oboptim import Task
    from oboptim.sequences import (
        MarkovChainDenoiser,
        OneHotRelaxation,
        SequenceSpace,
        sequence_prior,
        sequence_schedule,
    )

    initial, transition = torch.tensor([0.2, 0.4, 0.4]), torch.tensor([[0.7, 0.0, 0.3], [0.2, 0.2, 0.6],
                                                                      [0.5, 0.5, 0.0]])

    def load_prior(device):
        denoiser = MarkovChainDenoiser(initial, transition, sequence_schedule().alphas_cumprod).to(device)
        return sequence_prior(denoiser, OneHotRelaxation(3, length))

    return Task(name="tiny", description="", load_prior=load_prior, oracle=lambda x: [float(r.sum()) for r in x],
                sequence=SequenceSpace("ABC", length))


def test_a_sequence_round_short_of_new_sequences_fills_then_proposes_fewer_then_stops():
    from oboptim.errors import SpaceExhausted
    from oboptim.sequences._novelty import allowed_by_prior, enumerate_sequences, sequence_keys

    task = tiny_sequence_task()
    prior = task.load_prior("cpu")
    every = enumerate_sequences(3, 3)
    support = every[allowed_by_prior(prior, task.sequence.relaxation, every)]
    assert 0 < len(support) < 27
    settings = CampaignSettings.resolve(task.defaults_for(), {"particles": 4, "steps": 5})
    X, pending = support[:-7], support[-7:-5]  # 5 allowed sequences neither scored nor pending
    history = History(X, np.array(task.oracle(X), dtype=np.float64), pending)
    first = propose(task, prior, settings, history, 8, torch.Generator().manual_seed(0), round_index=3)
    again = propose(task, prior, settings, history, 8, torch.Generator().manual_seed(0), round_index=3)
    np.testing.assert_array_equal(first.xs, again.xs)  # all randomness from the round's generator
    keys = sequence_keys(first.xs)
    assert len(first.xs) == 5 and len(keys) == 5 and not keys & sequence_keys(np.concatenate([X, pending]))
    assert keys == sequence_keys(support[-5:])  # every one left, none the prior rules out
    assert first.diagnostics.note.startswith("proposed 5 of 8: no other sequence the prior allows is new")
    assert len(first.provenances) == 5 and all(np.isfinite(p.predicted_mean) for p in first.provenances)

    # a failed sequence (say, infeasible) counts as scored
    with_failures = History(X, history.y, pending, failed=support[-2:])
    fewer = propose(task, prior, settings, with_failures, 8, torch.Generator().manual_seed(0), round_index=3)
    assert sequence_keys(fewer.xs) == sequence_keys(support[-5:-2])

    # round 0 (nothing scored yet) samples the prior, and skips what is pending too
    cold = History(X[:0], np.zeros(0), support[:-2])
    prior_round = propose(task, prior, settings, cold, 8, torch.Generator().manual_seed(0), round_index=0)
    assert sequence_keys(prior_round.xs) == sequence_keys(support[-2:]) and len(prior_round.xs) == 2

    done = History(support, np.array(task.oracle(support), dtype=np.float64), np.zeros((0, 3), np.int64))
    with pytest.raises(SpaceExhausted, match=rf"every sequence the prior allows \({len(support)} of the 27 "):
        propose(task, prior, settings, done, 4, torch.Generator().manual_seed(0), round_index=4)
    everything = History(every[:20], np.zeros(20), every[20:])
    with pytest.raises(SpaceExhausted, match="all 27 sequences of length 3 over 'ABC' were scored or are pending"):
        propose(task, prior, settings, everything, 4, torch.Generator().manual_seed(0), round_index=4)


def test_a_full_batch_of_new_sequences_is_left_as_the_sampler_gave_it():
    from oboptim._proposal import only_new_sequences, propose_from_prior

    task = tiny_sequence_task(length=8)
    prior = task.load_prior("cpu")
    settings = CampaignSettings.resolve(task.defaults_for(), {"steps": 5})
    generator = torch.Generator().manual_seed(2)
    proposal = propose_from_prior(prior, settings, 3, generator, 0, task=task)
    state = generator.get_state()
    empty = History(np.zeros((0, 8), np.int64), np.zeros(0), np.zeros((0, 8), np.int64))
    assert len({row.tobytes() for row in proposal.xs}) == 3
    assert only_new_sequences(task, prior, settings, empty, proposal, 3, generator, round_index=0) is proposal
    assert torch.equal(generator.get_state(), state)  # no draw when nothing is missing
