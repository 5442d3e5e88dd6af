"""OneHotRelaxation: tokens [B, L] <-> relaxed particles [B, L, V]."""

import pytest
import torch

from oboptim.sequences import OneHotRelaxation


@pytest.mark.parametrize("num_states,length", [(2, 1), (5, 7), (32, 64), (62, 3)])
@pytest.mark.parametrize("scale", [1.0, 0.3])
def test_encode_hard_decode_round_trip(num_states, length, scale):
    relaxation = OneHotRelaxation(num_states, length, scale=scale)
    tokens = torch.randint(0, num_states, (50, length), generator=torch.Generator().manual_seed(num_states + length))
    x = relaxation.encode(tokens)
    assert x.shape == (50, length, num_states) and x.dtype == torch.float32
    assert torch.allclose(x.abs(), torch.full_like(x, scale))
    assert torch.equal(relaxation.hard_decode(x), tokens)
    assert torch.equal(relaxation.one_hot(tokens).argmax(-1), tokens)
    assert relaxation.sample_shape == (length, num_states)


def test_hard_decode_takes_the_largest_entry_of_a_noisy_particle():
    relaxation = OneHotRelaxation(4, 3)
    x = torch.tensor([[[0.1, 0.5, -2.0, 0.4], [3.0, 2.9, 0.0, 0.0], [-1.0, -1.0, -0.5, -3.0]]])
    assert relaxation.hard_decode(x).tolist() == [[1, 0, 2]]


def test_soft_decode_tends_to_one_hot_as_temperature_falls():
    relaxation = OneHotRelaxation(6, 10, scale=0.5)
    generator = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, 6, (20, 10), generator=generator)
    x = relaxation.encode(tokens) + 0.3 * torch.randn(20, 10, 6, generator=generator)  # argmax unchanged
    target = relaxation.one_hot(torch.as_tensor(relaxation.hard_decode(x)))
    errors = [(relaxation.soft_decode(x, tau) - target).abs().max().item() for tau in (1.0, 0.1, 0.01, 0.001)]
    assert all(b < a for a, b in zip(errors, errors[1:])), errors
    assert errors[0] > 0.1 and errors[-1] < 1e-6
    probabilities = relaxation.soft_decode(x)
    assert torch.allclose(probabilities.sum(-1), torch.ones(20, 10))


def test_soft_decode_is_differentiable():
    relaxation = OneHotRelaxation(3, 2)
    x = torch.zeros(1, 2, 3, requires_grad=True)
    relaxation.soft_decode(x)[0, 0, 1].backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


@pytest.mark.parametrize("call", [
    lambda r: r.encode(torch.zeros(2, 4, dtype=torch.long)),            # wrong length
    lambda r: r.encode(torch.full((2, 5), 3)),                          # state out of range
    lambda r: r.encode(torch.full((2, 5), -1)),
    lambda r: r.encode(torch.zeros(2, 5)),                              # float tokens
    lambda r: r.hard_decode(torch.zeros(2, 5, 4)),                      # wrong V
    lambda r: r.hard_decode(torch.zeros(2, 4, 3)),                      # wrong L
    lambda r: r.soft_decode(torch.zeros(5, 3)[None, :, :2]),
    lambda r: r.soft_decode(torch.zeros(1, 5, 3), temperature=0.0),
])
def test_bad_shapes_and_values_are_one_line_value_errors(call):
    relaxation = OneHotRelaxation(3, 5)
    with pytest.raises(ValueError) as error:
        call(relaxation)
    assert "\n" not in str(error.value) and str(error.value)


@pytest.mark.parametrize("kwargs", [dict(num_states=1, length=3), dict(num_states=3, length=0),
                                    dict(num_states=3, length=3, scale=0.0),
                                    dict(num_states=3, length=3, temperature=-1.0)])
def test_bad_options_are_refused(kwargs):
    with pytest.raises(ValueError):
        OneHotRelaxation(**kwargs)
