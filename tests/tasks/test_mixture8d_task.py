import math

import numpy as np
import pytest
import torch

from oboptim import Task, load_task
from oboptim.priors import DiffusionPrior, noised_mixture_log_density
from oboptim.sampling import ddim_sample
from oboptim.tasks import mixture8d


@pytest.fixture(scope="module")
def task() -> Task:
    return load_task("mixture8d")


def test_task_loads_by_name_with_campaign_defaults(task):
    assert isinstance(task, Task) and task.name == "mixture8d"
    assert task.defaults["batch_size"] == 16
    # the library default needs no per-task sampler setting (bench/defaults_research.md)
    assert set(task.defaults) == {"batch_size", "budget"}


def test_modes_are_hadamard_rows_six_apart():
    means = mixture8d.MODE_MEANS
    assert means.shape == (8, 8) and np.all(np.abs(means) == 1.5)
    distances = np.linalg.norm(means[:, None] - means[None], axis=-1)
    np.testing.assert_allclose(distances[~np.eye(8, dtype=bool)], 6.0)


@pytest.mark.parametrize("t", [5, 300, 900])
def test_prior_eps_is_the_exact_mixture_score(task, t):
    prior = task.load_prior("cpu")
    assert isinstance(prior, DiffusionPrior) and prior.sample_shape == (8,)
    abar = float(prior.alphas_cumprod[t])
    x = (3 * torch.randn(32, 8, generator=torch.Generator().manual_seed(t))).double().requires_grad_(True)
    log_p = noised_mixture_log_density(x, abar, torch.from_numpy(mixture8d.MODE_MEANS),
                                       torch.from_numpy(mixture8d.MODE_WEIGHTS), mixture8d.MODE_STD)
    (grad,) = torch.autograd.grad(log_p.sum(), x)
    eps = prior.predict_eps(x.detach().float(), torch.full((32,), t), prior.alphas_cumprod[t].expand(32))
    torch.testing.assert_close(eps.double(), -math.sqrt(1 - abar) * grad, atol=1e-4, rtol=1e-4)


def test_prior_samples_land_on_the_modes_with_the_right_spread(task):
    prior = task.load_prior("cpu")
    x = ddim_sample(prior, 2000, 100, torch.Generator().manual_seed(0)).double().numpy()
    modes = np.argmin(((x[:, None] - mixture8d.MODE_MEANS[None]) ** 2).sum(-1), axis=1)
    np.testing.assert_allclose(np.bincount(modes, minlength=8) / len(x), 1 / 8, atol=0.03)
    spread = (x - mixture8d.MODE_MEANS[modes]).std()
    # the coarse 100-step grid shrinks the spread slightly (docs/algorithm.md); an untrained eps would not be close
    assert spread == pytest.approx(mixture8d.MODE_STD, abs=0.05)


def test_oracle_optimum_is_zero_at_x_star_and_on_the_support(task):
    assert task.oracle(mixture8d.OPTIMUM[None]) == [pytest.approx(0.0, abs=1e-9)]
    rng = np.random.default_rng(0)
    around = mixture8d.OPTIMUM + 0.3 * rng.standard_normal((500, 8))
    assert max(task.oracle(around)) < 0
    data = task.sample_data(20_000, rng)
    values = np.array(task.oracle(data))
    assert values.max() < 0 and values.min() > -8
    # the optimum is a high-density point: far above the 1st percentile of the prior's own log-density
    assert mixture8d.log_density(mixture8d.OPTIMUM[None])[0] > np.percentile(mixture8d.log_density(data), 1) + 5
    # the optimum's mode scores best by a wide margin
    modes = np.argmin(((data[:, None] - mixture8d.MODE_MEANS[None]) ** 2).sum(-1), axis=1)
    medians = [np.median(values[modes == k]) for k in range(8)]
    assert int(np.argmax(medians)) == mixture8d.OPTIMUM_MODE
    assert medians[mixture8d.OPTIMUM_MODE] > max(np.delete(medians, mixture8d.OPTIMUM_MODE)) + 2


def test_oracle_is_deterministic_and_matches_the_reward(task):
    x = np.random.default_rng(1).normal(size=(6, 8))
    first = task.oracle(x)
    assert isinstance(first, list) and len(first) == 6 and all(isinstance(v, float) for v in first)
    assert task.oracle(x) == first and task.oracle(x[::-1].copy()) == first[::-1]
    np.testing.assert_allclose(first, task.reward(torch.from_numpy(x)).numpy())


def test_sample_data_is_seeded_and_log_density_normalised():
    a = mixture8d.sample_data(100, np.random.default_rng(3))
    np.testing.assert_array_equal(a, mixture8d.sample_data(100, np.random.default_rng(3)))
    # at a mode centre only that mode contributes: log(1/8) + log N(0; 0, 0.25 I_8)
    expected = math.log(1 / 8) - 4 * math.log(2 * math.pi * 0.25)
    assert mixture8d.log_density(mixture8d.MODE_MEANS[:1])[0] == pytest.approx(expected, abs=1e-9)
