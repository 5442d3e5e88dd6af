"""sequence_prior over the shipped Ehrlich chains: samples are feasible under holo's Ehrlich function."""

import pytest
import torch

from oboptim.sampling import ddim_sample
from oboptim.sequences import MarkovChainDenoiser, OneHotRelaxation, load_markov_denoiser, sequence_prior


def _ehrlich():
    pytest.importorskip("holo", reason="the Ehrlich task needs pytorch-holo")
    from oboptim.tasks import ehrlich

    return ehrlich


# Instance b (L = 128) at 250 samples keeps the folder fast (1,000 take ~10 s on one thread); the shipped
# data/ehrlich_*_markov_eval.json files hold the 2,000-sample measurements of a, b and c.
@pytest.mark.parametrize("instance,num_samples", [("a", 1000), ("b", 250)])
def test_shipped_prior_samples_are_feasible(instance, num_samples):
    ehrlich = _ehrlich()
    spec = ehrlich.INSTANCES[instance]
    assert spec.prior_path.is_file(), f"{spec.prior_path.name} is not shipped: run scripts/train_ehrlich_prior.py"
    denoiser, metadata = load_markov_denoiser(spec.prior_path)
    assert metadata["spec"] == spec.to_dict()
    relaxation = OneHotRelaxation(spec.num_states, spec.length)
    prior = sequence_prior(denoiser, relaxation)
    with torch.no_grad():
        x = ddim_sample(prior, num_samples, 10, torch.Generator().manual_seed(0))
    assert x.shape == (num_samples, spec.length, spec.num_states)
    tokens = relaxation.hard_decode(x)
    function = ehrlich.make_function(spec)
    feasible = ehrlich.is_feasible(function, tokens)
    values = ehrlich.evaluate(function, tokens)
    assert feasible.mean() >= 0.99
    assert ((values > -float("inf")) == feasible).all()  # holo agrees: infeasible is exactly -inf
    assert len({tuple(row) for row in tokens.tolist()}) >= 0.99 * num_samples  # samples, not one mode
    # uniform random sequences are almost never feasible (the bar above is not trivially met)
    uniform = torch.randint(0, spec.num_states, (1000, spec.length), generator=torch.Generator().manual_seed(1))
    assert ehrlich.is_feasible(function, uniform).mean() < 0.5


def test_decoder_gives_per_position_probabilities():
    abar = torch.linspace(0.999, 0.01, 100)
    denoiser = MarkovChainDenoiser(torch.full((4,), 0.25), torch.full((4, 4), 0.25), abar)
    prior = sequence_prior(denoiser, OneHotRelaxation(4, 6), temperature=0.5)
    assert prior.sample_shape == (6, 4) and prior.prediction_type == "sample"
    x = torch.randn(3, 6, 4)
    probabilities = prior.decoder(x)
    assert probabilities.shape == (3, 6, 4)
    assert torch.allclose(probabilities, torch.softmax(x / 0.5, -1))
    t = torch.full((3,), 50)
    assert torch.allclose(prior.eps_fn(x, t), denoiser.predict_x0(x, t))


def test_sequence_prior_refuses_a_mismatched_relaxation():
    denoiser = MarkovChainDenoiser(torch.full((4,), 0.25), torch.full((4, 4), 0.25), torch.linspace(0.999, 0.01, 100))
    with pytest.raises(ValueError, match="num_states") as error:
        sequence_prior(denoiser, OneHotRelaxation(5, 6))
    assert "\n" not in str(error.value)

    class FixedLength:  # a denoiser that knows its length
        num_states, length, alphas_cumprod = 4, 8, torch.linspace(0.999, 0.01, 100)

        def predict_x0(self, x_t, t):
            return x_t

    with pytest.raises(ValueError, match="length"):
        sequence_prior(FixedLength(), OneHotRelaxation(4, 6))
    assert sequence_prior(FixedLength(), OneHotRelaxation(4, 8)).sample_shape == (8, 4)
