"""EnsembleSurrogate: the shared conformance suite plus ensemble-specific behaviour (heads, penalty, paths)."""

import pytest
import torch

from oboptim.surrogates import EnsembleSurrogate
from oboptim.testing import SurrogateConformance, seeded, sin_data


def make_ensemble(**kwargs):
    settings = {"steps": 150, "hidden": 32}
    settings.update(kwargs)
    return EnsembleSurrogate(**settings)


class TestEnsembleConformance(SurrogateConformance):
    def make_surrogate(self):
        return make_ensemble()


@pytest.fixture(scope="module")
def fitted():
    X, y = sin_data(20)
    ensemble = make_ensemble(num_heads=6)
    ensemble.fit(X, y, generator=seeded(0))
    return ensemble


def test_heads_have_a_leading_head_dimension(fitted):
    X = torch.rand(3, 4, 1, generator=seeded(1)) * 6
    heads = fitted.heads(X)
    assert heads.shape == (6, 3, 4) and heads.dtype == torch.float32
    mean, variance = fitted.posterior(X)
    assert torch.allclose(mean, heads.mean(0)) and torch.allclose(variance, heads.var(0))


def test_bootstrap_makes_heads_disagree(fitted):
    heads = fitted.heads(torch.linspace(-3, 10, 27).unsqueeze(-1))
    assert (heads.std(0) > 0).all()


def test_pending_penalty_keeps_the_mean_and_zeroes_the_spread_at_the_point(fitted):
    pending = torch.tensor([[3.1]])
    conditioned = fitted.condition_on_pending(pending)
    X = torch.linspace(-1, 7, 33).unsqueeze(-1)
    assert torch.allclose(conditioned.posterior(X)[0], fitted.posterior(X)[0], atol=1e-6)
    assert float(conditioned.posterior(pending)[1]) < 1e-6 * float(fitted.posterior(pending)[1]) + 1e-12
    assert torch.allclose(conditioned.heads(pending), conditioned.posterior(pending)[0].expand(6, 1), atol=1e-5)
    assert conditioned.num_pending == 1 and fitted.num_pending == 0


def test_sample_path_is_a_combination_of_heads(fitted):
    X = torch.linspace(0, 6, 13).unsqueeze(-1)
    path = fitted.sample_path(seeded(5))(X)
    heads = fitted.heads(X)
    weights = torch.randn(6, generator=seeded(5)) / 5 ** 0.5
    expected = heads.mean(0) + ((heads - heads.mean(0)).T @ weights)
    assert torch.allclose(path, expected, atol=1e-5)


def test_refitting_does_not_change_a_conditioned_copy():
    X, y = sin_data(10)
    ensemble = make_ensemble(num_heads=3, steps=30)
    ensemble.fit(X, y, generator=seeded(0))
    conditioned = ensemble.condition_on_pending(torch.tensor([[3.0]]))
    before = conditioned.posterior(X)[0]
    ensemble.fit(X, -y, generator=seeded(1))
    assert torch.equal(conditioned.posterior(X)[0], before)


def test_minibatches_are_used_beyond_batch_size():
    X = torch.rand(300, 2, generator=seeded(2))
    y = X.sum(-1)
    ensemble = make_ensemble(batch_size=64, steps=200)
    report = ensemble.fit(X, y, generator=seeded(0))
    assert report.diagnostics["final_loss"] < 0.05
    assert (ensemble.posterior(X)[0] - y).abs().mean() < 0.1


def test_needs_two_heads():
    with pytest.raises(ValueError, match="num_heads"):
        EnsembleSurrogate(num_heads=1)
