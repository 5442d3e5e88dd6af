import math

import pytest
import torch

from oboptim.sampling import RESAMPLERS, counts_to_indices
from oboptim.sampling._resampling import residual
from oboptim.testing import ResamplerConformance, offspring_counts

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _suite(name, bounded, device):
    return type(
        f"Test_{name}_{device}",
        (ResamplerConformance,),
        {"resampler": staticmethod(RESAMPLERS.get(name)), "bounded_counts": bounded, "device": device},
    )


for _device in DEVICES:
    for _name in RESAMPLERS:
        globals()[f"Test_{_name}_{_device}"] = _suite(_name, _name in ("systematic", "ssp"), _device)


def test_residual_keeps_at_least_the_integer_part():
    lw = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05], [0.26, 0.26, 0.24, 0.24]]))
    floor = (4 * lw.exp()).floor()
    for seed in range(200):
        counts = offspring_counts(residual(lw, 4, torch.Generator().manual_seed(seed)), 4)
        assert bool((counts >= floor).all())


def test_counts_to_indices():
    counts = torch.tensor([[2, 0, 1], [0, 3, 0]])
    assert counts_to_indices(counts, 3).tolist() == [[0, 0, 2], [1, 1, 1]]


def test_unknown_scheme_names_the_choices():
    with pytest.raises(ValueError, match="resampling must be one of"):
        RESAMPLERS.get("bogus")


@pytest.mark.parametrize("name", sorted(RESAMPLERS))
def test_ssp_like_variance_ordering(name):
    """Sanity: every scheme's offspring variance is at most multinomial's (the noisiest)."""
    lw = torch.log(torch.tensor([[0.37, 0.21, 0.17, 0.13, 0.12]]))
    repeats = 3000
    g = torch.Generator().manual_seed(0)
    counts = torch.stack([offspring_counts(RESAMPLERS.get(name)(lw, 5, g), 5)[0] for _ in range(repeats)]).double()
    w = lw.exp()[0].double()
    multinomial_var = 5 * w * (1 - w)
    assert bool((counts.var(0) <= multinomial_var * 1.15 + 0.01).all())
    assert math.isclose(float(counts.sum(1).float().mean()), 5.0)
