"""MarkovChainDenoiser (exact forward-backward), fit_markov_chain and the file format."""

import itertools
import math

import pytest
import torch

from oboptim.sequences import (
    MarkovChainDenoiser,
    fit_markov_chain,
    load_markov_denoiser,
    save_markov_denoiser,
    sequence_schedule,
)

# A tiny chain with zero transitions (0 -> 2, 2 -> 2) and a zero initial probability (state 1).
INITIAL = torch.tensor([0.6, 0.0, 0.4])
TRANSITION = torch.tensor([[0.7, 0.3, 0.0],
                           [0.2, 0.3, 0.5],
                           [0.5, 0.5, 0.0]])
ABAR = sequence_schedule().alphas_cumprod.float()
SCALE = 0.8


def brute_force_marginals(x_t: torch.Tensor, t: int) -> torch.Tensor:
    """p(x0_l = k | x_t) [B, L, V] by enumerating all V^L sequences, in float64."""
    _, length, num_states = x_t.shape
    abar = ABAR[t].double()
    coefficient = 2 * SCALE * abar.sqrt() / (1 - abar)
    sequences = torch.tensor(list(itertools.product(range(num_states), repeat=length)))  # [V^L, L]
    log_prior = INITIAL.double().log()[sequences[:, 0]] + TRANSITION.double().log()[sequences[:, :-1],
                                                                                     sequences[:, 1:]].sum(-1)
    emission = coefficient * x_t.double()[:, torch.arange(length), sequences]  # [B, V^L, L]
    log_joint = log_prior + emission.sum(-1)  # [B, V^L]
    log_evidence = torch.logsumexp(log_joint, -1, keepdim=True)
    one_hot = torch.nn.functional.one_hot(sequences, num_states).double()  # [V^L, L, V]
    weights = (log_joint - log_evidence).exp()
    return torch.einsum("bs,slv->blv", weights, one_hot)


def noisy_particles(tokens: torch.Tensor, t: int, generator: torch.Generator) -> torch.Tensor:
    x0 = SCALE * (2 * torch.nn.functional.one_hot(tokens, 3).float() - 1)
    abar = ABAR[t]
    return abar.sqrt() * x0 + (1 - abar).sqrt() * torch.randn(x0.shape, generator=generator)


@pytest.mark.parametrize("t", [999, 700, 300, 100, 20, 0])
def test_marginals_equal_brute_force_enumeration(t):
    generator = torch.Generator().manual_seed(t)
    # Random tokens: most contain forbidden transitions, which the posterior must route around.
    tokens = torch.randint(0, 3, (16, 4), generator=generator)
    x_t = noisy_particles(tokens, t, generator)
    denoiser = MarkovChainDenoiser(INITIAL, TRANSITION, ABAR, scale=SCALE)
    log_marginals = denoiser(x_t, torch.full((16,), t))
    assert log_marginals.shape == (16, 4, 3) and log_marginals.dtype == torch.float32
    expected = brute_force_marginals(x_t, t)
    assert torch.allclose(log_marginals.exp().double(), expected, atol=1e-5)
    # state 1 can never come first
    assert bool(torch.isneginf(log_marginals[:, 0, 1]).all())


def test_low_noise_contradictions_are_resolved_exactly():
    """x_t at t = 0 spelling a forbidden transition: the emissions span ~1e5 nats, beyond exp's range, so the
    recursions fall back to log space; the marginals must still be the exact ones (not NaN, not a dropped path)."""
    tokens = torch.tensor([[0, 2, 2, 1], [1, 0, 2, 0], [2, 2, 2, 2]])
    x_t = SCALE * (2 * torch.nn.functional.one_hot(tokens, 3).float() - 1)
    x_t = x_t + torch.tensor([0.0, 0.01, -0.02]) * torch.arange(4).view(1, 4, 1)  # break ties
    denoiser = MarkovChainDenoiser(INITIAL, TRANSITION, ABAR, scale=SCALE)
    for t in (0, 5):
        got = denoiser(x_t, torch.full((3,), t)).exp().double()
        expected = brute_force_marginals(x_t, t)
        assert torch.isfinite(got).all()
        assert torch.allclose(got, expected, atol=1e-5), (t, got, expected)


@pytest.mark.parametrize("t", [900, 100, 0])
def test_gradients_are_finite_and_match_brute_force(t):
    generator = torch.Generator().manual_seed(1 + t)
    tokens = torch.randint(0, 3, (6, 4), generator=generator)
    x_t = noisy_particles(tokens, t, generator)
    weights = torch.randn(6, 4, 3, generator=generator)
    denoiser = MarkovChainDenoiser(INITIAL, TRANSITION, ABAR, scale=SCALE)
    x = x_t.clone().requires_grad_(True)
    (denoiser.predict_x0(x, torch.full((6,), t)) * weights).sum().backward()
    assert torch.isfinite(x.grad).all()
    reference = x_t.double().requires_grad_(True)
    (SCALE * (2 * brute_force_marginals(reference, t) - 1) * weights.double()).sum().backward()
    scale = reference.grad.abs().max().clamp_min(1e-12)
    assert torch.allclose(x.grad.double() / scale, reference.grad / scale, atol=1e-4)


def test_zero_transitions_stay_impossible():
    denoiser = MarkovChainDenoiser(INITIAL, TRANSITION, ABAR, scale=SCALE)
    assert bool(torch.isneginf(denoiser.log_transition[0, 2])) and bool(torch.isneginf(denoiser.log_transition[2, 2]))
    # x_t strongly says "2 then 2": the posterior puts no mass on 2 at both positions jointly, hence the marginals
    # of position 1 given position 0 = 2 for sure have no mass on 2.
    x_t = torch.tensor([[[-1.0, -1.0, 1.0], [-1.0, -1.0, 1.0]]]) * SCALE
    marginals = denoiser(x_t, torch.tensor([50])).exp()[0]
    assert marginals[:, 2].sum() <= 1.0 + 1e-6
    assert torch.isfinite(marginals).all()


def sample_chain(initial, transition, n, length, generator):
    states = [torch.multinomial(initial, n, replacement=True, generator=generator)]
    for _ in range(length - 1):
        states.append(torch.multinomial(transition[states[-1]], 1, generator=generator).squeeze(-1))
    return torch.stack(states, 1)


def test_fit_markov_chain_recovers_a_known_chain():
    generator = torch.Generator().manual_seed(0)
    tokens = sample_chain(INITIAL, TRANSITION, 4000, 12, generator)
    initial, transition = fit_markov_chain(tokens, 3)
    assert initial.shape == (3,) and transition.shape == (3, 3)
    assert torch.allclose(transition.sum(-1), torch.ones(3))
    # Each row is a multinomial proportion over its n_j observed predecessors: 5 standard errors.
    counts = torch.bincount(tokens[:, :-1].reshape(-1), minlength=3).float()
    tolerance = 5 * (TRANSITION * (1 - TRANSITION) / counts[:, None]).sqrt() + 1e-6
    assert bool(((transition - TRANSITION).abs() <= tolerance).all()), (transition, tolerance)
    assert bool((transition[TRANSITION == 0] == 0).all())  # unseen transitions stay impossible
    initial_tolerance = 5 * (INITIAL * (1 - INITIAL) / 4000).sqrt() + 1e-6
    assert bool(((initial - INITIAL).abs() <= initial_tolerance).all())
    # a wrong chain would not pass the same check
    assert not bool(((transition - TRANSITION.roll(1, 1)).abs() <= tolerance).all())


def test_fit_markov_chain_unseen_state_gets_a_uniform_row():
    initial, transition = fit_markov_chain(torch.tensor([[0, 1, 0, 1]]), 3)
    assert torch.allclose(transition[2], torch.full((3,), 1 / 3))
    assert transition[0].tolist() == [0.0, 1.0, 0.0] and initial.tolist() == [1.0, 0.0, 0.0]


@pytest.mark.parametrize("tokens,num_states", [(torch.tensor([[0, 3]]), 3), (torch.tensor([0, 1]), 3),
                                                (torch.zeros(2, 3), 3)])
def test_fit_markov_chain_refuses_bad_tokens(tokens, num_states):
    with pytest.raises(ValueError):
        fit_markov_chain(tokens, num_states)


def test_save_load_round_trip(tmp_path):
    denoiser = MarkovChainDenoiser(INITIAL, TRANSITION, ABAR, scale=SCALE)
    path = tmp_path / "chain.safetensors"
    metadata = {"spec": {"num_states": 3, "length": 4}, "training_samples": 12, "source": "test"}
    save_markov_denoiser(denoiser, path, metadata)
    loaded, read = load_markov_denoiser(path)
    assert read == metadata and loaded.scale == SCALE and not loaded.training
    for name in ("initial", "transition", "alphas_cumprod"):
        assert torch.equal(getattr(loaded, name), getattr(denoiser, name))
    x_t = torch.randn(5, 4, 3, generator=torch.Generator().manual_seed(3))
    t = torch.tensor([0, 10, 200, 600, 999])
    assert torch.equal(loaded(x_t, t), denoiser(x_t, t))
    assert not math.isnan(float(loaded.predict_x0(x_t, t).sum()))


def test_bad_chains_are_refused():
    with pytest.raises(ValueError):
        MarkovChainDenoiser(INITIAL, TRANSITION[:2], ABAR)
    with pytest.raises(ValueError):
        MarkovChainDenoiser(INITIAL, torch.tensor([[1.0, 0, 0], [0, 0, 0], [0, 0, 1.0]]), ABAR)
    denoiser = MarkovChainDenoiser(INITIAL, TRANSITION, ABAR)
    with pytest.raises(ValueError):
        denoiser(torch.zeros(2, 4, 5), torch.zeros(2, dtype=torch.long))
