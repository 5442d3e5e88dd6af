import numpy as np
import pytest
import torch

from oboptim import OboptimError
from oboptim.benchmark import noise_floor, subset_wasserstein, wasserstein2


def test_w2_of_a_set_with_itself_is_zero():
    a = np.random.default_rng(0).normal(size=(50, 3))
    assert wasserstein2(a, a) == pytest.approx(0.0, abs=1e-12)
    assert wasserstein2(a, a[::-1]) == pytest.approx(0.0, abs=1e-12)


def test_w2_of_a_shifted_set_is_the_shift_norm():
    a = np.random.default_rng(1).normal(size=(80, 2))
    shift = np.array([3.0, -4.0])
    assert wasserstein2(a, a + shift) == pytest.approx(5.0, rel=1e-9)


def test_w2_one_dimensional_matches_sorted_coupling():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(60, 1)), rng.exponential(size=(60, 1))
    expected = np.sqrt(np.mean((np.sort(a[:, 0]) - np.sort(b[:, 0])) ** 2))
    assert wasserstein2(a, b) == pytest.approx(expected, rel=1e-9)


def test_w2_accepts_torch_and_is_symmetric():
    a, b = torch.randn(40, 2), torch.randn(40, 2) + 1
    assert wasserstein2(a, b) == pytest.approx(wasserstein2(b.numpy(), a.numpy()), rel=1e-6)


def test_w2_unequal_sizes_is_a_clear_error():
    with pytest.raises(OboptimError, match="equal-size"):
        wasserstein2(np.zeros((3, 2)), np.zeros((4, 2)))


def test_subset_wasserstein_separates_close_from_far():
    rng = np.random.default_rng(3)
    ref = rng.normal(size=(2000, 2))
    same = subset_wasserstein(rng.normal(size=(2000, 2)), ref, subset=200, repeats=4, rng=rng)
    far = subset_wasserstein(rng.normal(size=(2000, 2)) + 2.0, ref, subset=200, repeats=4, rng=rng)
    assert len(same.values) == 4 and same.std >= 0
    assert same.mean < 0.5 < 1.5 < far.mean


def test_subset_wasserstein_needs_enough_points():
    with pytest.raises(OboptimError, match="at least"):
        subset_wasserstein(np.zeros((10, 2)), np.zeros((1000, 2)), subset=500, rng=np.random.default_rng(0))


def test_noise_floor_matches_two_independent_draws():
    sampler = lambda n, rng: rng.normal(size=(n, 2))  # noqa: E731
    floor = noise_floor(sampler, subset=200, repeats=5, rng=np.random.default_rng(4))
    assert 0.05 < floor.mean < 0.5
    again = noise_floor(sampler, subset=200, repeats=5, rng=np.random.default_rng(4))
    np.testing.assert_array_equal(floor.values, again.values)
