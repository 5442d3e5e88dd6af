"""The ``sequential`` batch selection: the best share by the sampler's reward, then one at a time by an acquisition
on the surrogate told of the earlier picks; and the selection inside a proposal."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from oboptim import CampaignSettings, load_task
from oboptim._proposal import History, propose
from oboptim.sampling import SelectionContext, distinct_order, select_particles
from oboptim.surrogates import SURROGATES

MIXTURE_TASK = str(Path(__file__).parent / "campaign" / "mixture_task.py") + ":TASK"


def fake_result(rewards, positions=None):
    rewards = torch.as_tensor(rewards, dtype=torch.float32)
    particles = (rewards if positions is None else torch.as_tensor(positions, dtype=torch.float32)).unsqueeze(-1)
    return SimpleNamespace(particles=particles, rewards=rewards,
                           log_weights=torch.log_softmax(torch.zeros_like(rewards), -1))


def test_distinct_order_ranks_each_row_once():
    result = fake_result([[5.0, 5.0, 1.0], [4.0, 2.0, 5.0]])
    order = distinct_order(result.particles, result.rewards)
    assert result.rewards.reshape(-1)[order].tolist() == [5.0, 4.0, 2.0, 1.0]


def test_argmax_gives_a_group_with_nothing_to_take_the_best_spare_particle():
    """Group 1's particles are all excluded (reward -inf). Groups 0 and 2 take their heaviest (at 1.0 and 2.0). The
    best spare by reward, group 2's particle at 1.0 (reward 7), is a copy of a taken one, so group 1 borrows the
    next, group 0's particle at 4.0 (reward 5)."""
    inf = float("-inf")
    result = fake_result([[1.0, 4.0, 5.0], [inf, inf, inf], [7.0, 9.0, inf]],
                         positions=[[0.0, 1.0, 4.0], [5.0, 6.0, 7.0], [1.0, 2.0, 3.0]])
    result.log_weights = torch.log_softmax(torch.tensor([[0.0, 3.0, 1.0], [9.0, 0.0, 0.0], [0.0, 2.0, 0.0]]), -1)
    groups, picks = select_particles(result, "argmax", torch.Generator())
    assert result.particles[groups, picks, 0].tolist() == [1.0, 4.0, 2.0]
    assert groups.tolist() == [0, 0, 2]
    # with no spare left, the group falls back on its own heaviest particle
    result = fake_result([[1.0], [inf]], positions=[[0.0], [5.0]])
    groups, picks = select_particles(result, "argmax", torch.Generator())
    assert (groups.tolist(), picks.tolist()) == ([0, 1], [0, 0])


def fitted_gp():
    gp = SURROGATES.get("gp")()
    X = torch.tensor([[-3.0], [-2.0], [2.0], [3.0]], dtype=torch.float64)
    gp.fit(X, torch.tensor([0.0, 0.1, 0.1, 0.0], dtype=torch.float64), generator=torch.Generator().manual_seed(0))
    return gp


def ucb_rescore(gp, features):
    def rescore(candidates, chosen):
        model = gp if chosen.numel() == 0 else gp.condition_on_pending(features[chosen])
        mean, variance = model.posterior(features[candidates])
        return mean + 2.0 * variance.sqrt()

    return rescore


def test_sequential_spreads_the_batch_where_ucb_would_stack_it():
    """Ten particles near 0 score slightly higher than one far away; after one pick near 0, the others there lose
    their uncertainty bonus and the far one is taken."""
    gp = fitted_gp()
    positions = torch.tensor([[0.0, 0.001, 0.002, 0.003, 0.004, 0.005, 0.006, 0.007, 0.008, 0.009, 6.0]] * 2)
    features = positions.reshape(-1, 1).double()
    rewards = ucb_rescore(gp, features)(torch.arange(22), torch.zeros(0, dtype=torch.long)).float().reshape(2, -1)
    result = fake_result(rewards, positions)
    context = SelectionContext(rescore=ucb_rescore(gp, features), top_fraction=0.0)
    groups, picks = select_particles(result, "sequential", torch.Generator(), context)
    chosen = positions[groups, picks].tolist()
    assert min(chosen) < 0.01 and max(chosen) == 6.0
    groups, picks = select_particles(result, "top", torch.Generator())
    assert max(positions[groups, picks].tolist()) < 0.01  # top stacks both near 0


def test_the_top_fraction_is_taken_by_the_sampler_reward_first():
    """With top_fraction 0.5 of 2, the first pick is the best by reward even where the re-scoring disagrees."""
    result = fake_result([[1.0, 3.0], [2.0, 0.5]])
    prefer_low = lambda candidates, chosen: -result.rewards.reshape(-1)[candidates]  # noqa: E731
    groups, picks = select_particles(result, "sequential", torch.Generator(),
                                     SelectionContext(rescore=prefer_low, top_fraction=0.5))
    assert result.rewards[groups, picks].tolist() == [3.0, 0.5]
    groups, picks = select_particles(result, "sequential", torch.Generator(),
                                     SelectionContext(rescore=prefer_low, top_fraction=0.0))
    assert result.rewards[groups, picks].tolist() == [0.5, 1.0]


def test_sequential_without_a_rescoring_is_top_and_never_takes_minus_infinity():
    result = fake_result([[5.0, float("-inf"), 1.0], [4.0, 2.0, 3.0]])
    assert (select_particles(result, "sequential", torch.Generator())[1].tolist()
            == select_particles(result, "top", torch.Generator())[1].tolist())
    everything = lambda candidates, chosen: torch.zeros(len(candidates))  # noqa: E731
    groups, picks = select_particles(result, "sequential", torch.Generator(),
                                     SelectionContext(rescore=everything, top_fraction=0.0))
    assert torch.isfinite(result.rewards[groups, picks]).all()


@pytest.mark.parametrize(("select_acquisition", "manifold_check"), [("ucb", 2.0), ("", 0.0)])
def test_a_proposal_with_the_default_selection_records_what_it_did(select_acquisition, manifold_check):
    task = load_task(MIXTURE_TASK)
    prior = task.load_prior("cpu")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 2)).astype(np.float32) * 3
    y = np.array(task.oracle(X)) * 1000.0 + 5.0  # an oracle in arbitrary units
    settings = CampaignSettings.resolve(task.defaults, {"particles": 8, "steps": 10, "acquisition": "ucb",
                                                         "select_acquisition": select_acquisition,
                                                         "manifold_check": manifold_check})
    history = History(X, y, np.zeros((0, 2), np.float32))
    proposal = propose(task, prior, settings, history, 4, torch.Generator().manual_seed(1), round_index=1)
    diagnostics = proposal.diagnostics
    assert len({tuple(x) for x in proposal.xs.tolist()}) == 4
    assert diagnostics.selection == "sequential" and diagnostics.acquisition == "ucb"
    assert diagnostics.oracle_alpha == pytest.approx(settings.alpha * float(np.std(y)))
    assert diagnostics.batch_spread > 0
    assert diagnostics.manifold_dropped >= 0 and (manifold_check > 0 or diagnostics.manifold_dropped == 0)
    again = propose(task, prior, settings, history, 4, torch.Generator().manual_seed(1), round_index=1)
    np.testing.assert_array_equal(proposal.xs, again.xs)
