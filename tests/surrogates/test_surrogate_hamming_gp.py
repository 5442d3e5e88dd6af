"""HammingGPSurrogate: the shared conformance suite, one lengthscale, and the exponentiated Hamming kernel on
one-hot sequences."""

import torch

from oboptim.surrogates import SURROGATES, HammingGPSurrogate
from oboptim.testing import SurrogateConformance, seeded


class TestHammingGPConformance(SurrogateConformance):
    def make_surrogate(self):
        return HammingGPSurrogate()


def one_hot_sequences(n, length=12, states=5, seed=0):
    tokens = torch.randint(0, states, (n, length), generator=seeded(seed))
    return tokens, torch.nn.functional.one_hot(tokens, states).flatten(1).double()


def test_one_lengthscale_and_the_kernel_is_exp_minus_hamming_over_l_squared():
    tokens, X = one_hot_sequences(40)
    y = (tokens == 2).double().sum(-1)  # counts of one state: smooth in Hamming distance
    gp = HammingGPSurrogate()
    gp.fit(X, y, generator=seeded(1))
    lengthscale = gp.model.covar_module.lengthscale
    assert lengthscale.numel() == 1
    with torch.no_grad():
        unit = gp._to_unit_cube(X[:6])
        kernel = gp.model.covar_module(unit).to_dense()
    hamming = (tokens[:6, None, :] != tokens[None, :6, :]).sum(-1).double()
    widths = gp.bounds[1] - gp.bounds[0]
    assert torch.allclose(widths, torch.ones_like(widths))  # every one-hot feature spans [0, 1]: the cube is the data
    expected = torch.exp(-hamming / lengthscale.reshape(()) ** 2)
    torch.testing.assert_close(kernel, expected, rtol=1e-6, atol=1e-8)


def test_registered_and_predicts_held_out_sequences():
    assert SURROGATES.get("hamming-gp") is HammingGPSurrogate
    tokens, X = one_hot_sequences(120, seed=3)
    y = (tokens == 2).double().sum(-1)
    gp = HammingGPSurrogate()
    gp.fit(X[:100], y[:100], generator=seeded(0))
    mean, _ = gp.posterior(X[100:])
    assert torch.corrcoef(torch.stack([mean.double(), y[100:]]))[0, 1] > 0.8
