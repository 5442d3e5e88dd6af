import math

import numpy as np
import pytest
import torch

from oboptim import Task, load_task
from oboptim.priors import DiffusionPrior
from oboptim.tasks import gmm2d, swissroll3d
from oboptim.tasks._toy import DATA_DIR, candidate_seed

TOYS = {"gmm2d": 2, "swissroll3d": 3}


@pytest.fixture(scope="module", params=sorted(TOYS))
def task(request) -> Task:
    return load_task(request.param)


def test_task_loads_by_name(task):
    assert isinstance(task, Task) and task.name in TOYS
    assert task.defaults["batch_size"] == 16
    # the library default needs no per-task sampler setting (bench/defaults_research.md)
    assert set(task.defaults) == {"batch_size", "budget"}


def test_shipped_weights_exist(task):
    assert (DATA_DIR / f"{task.name}_mlp.safetensors").is_file()


def test_prior_eps_shape_frozen_weights_and_input_gradients(task):
    dim = TOYS[task.name]
    prior = task.load_prior("cpu")
    assert isinstance(prior, DiffusionPrior) and prior.sample_shape == (dim,)
    assert prior.num_train_timesteps == 1000
    assert not any(p.requires_grad for p in prior.eps_fn.parameters())
    assert not prior.eps_fn.training
    x = torch.randn(5, dim, requires_grad=True)
    eps = prior.predict_eps(x, torch.full((5,), 500), prior.alphas_cumprod[500].expand(5))
    assert eps.shape == (5, dim) and torch.isfinite(eps).all()
    eps.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_sample_data_shape_and_seeding(task):
    dim = TOYS[task.name]
    a = task.sample_data(100, np.random.default_rng(3))
    assert a.shape == (100, dim)
    np.testing.assert_array_equal(a, task.sample_data(100, np.random.default_rng(3)))


def test_oracle_is_deterministic_per_candidate(task):
    dim = TOYS[task.name]
    x = np.random.default_rng(0).normal(size=(6, dim))
    first = task.oracle(x)
    assert isinstance(first, list) and len(first) == 6 and all(isinstance(v, float) for v in first)
    assert task.oracle(x) == first
    # a row's value does not depend on its batch neighbours or position
    assert task.oracle(x[::-1].copy()) == first[::-1]
    assert task.oracle(x[2:3]) == first[2:3]
    # float32 input of the same values gives the same answer as float64 of those values
    x32 = x.astype(np.float32)
    assert task.oracle(x32) == task.oracle(x32.astype(np.float64))


def test_oracle_noise_is_small_unbiased_and_varies_across_candidates(task):
    dim = TOYS[task.name]
    x = np.random.default_rng(1).normal(size=(2000, dim))
    noise = np.array(task.oracle(x)) - task.reward(torch.from_numpy(x)).numpy()
    assert abs(noise.mean()) < 4 * 0.1 / math.sqrt(len(x))
    assert noise.std() == pytest.approx(0.1, rel=0.1)


def test_candidate_seed_depends_on_bytes_and_salt():
    row = np.array([0.5, -1.0])
    assert candidate_seed(row, "a") == candidate_seed(row.copy(), "a")
    assert candidate_seed(row, "a") != candidate_seed(row, "b")
    assert candidate_seed(row, "a") != candidate_seed(np.nextafter(row, 1), "a")


def test_features_are_identity(task):
    x = torch.randn(4, TOYS[task.name])
    assert torch.equal(task.features(x), x)


def test_rewards_match_the_paper():
    x = torch.tensor([[10.0, 1.0], [0.0, 0.0]])
    torch.testing.assert_close(gmm2d.reward(x), torch.tensor([-2.0, 0.0]))
    y = torch.tensor([[10.0, -10.0, 2.0]])
    torch.testing.assert_close(swissroll3d.reward(y), torch.tensor([-6.0]))


def test_gmm_data_modes_and_variance():
    x = gmm2d.sample_data(90_000, np.random.default_rng(0))
    modes = gmm2d.nearest_mode(x)
    np.testing.assert_allclose(np.bincount(modes, minlength=9) / len(x), 1 / 9, atol=0.006)
    centred = x - gmm2d.MODE_MEANS[modes]
    np.testing.assert_allclose(np.cov(centred.T), 0.3 * np.eye(2), atol=0.01)


def test_swissroll_data_support():
    x = swissroll3d.sample_data(50_000, np.random.default_rng(0))
    radius = 2 * np.hypot(x[:, 0], x[:, 1])
    assert radius.min() > 1.5 * math.pi - 1.0 and radius.max() < 4.5 * math.pi + 1.0
    assert np.abs(x[:, 2]).max() < 3.0 + 0.6
    assert np.abs(x[:, 2]).mean() == pytest.approx(1.5, abs=0.03)


def test_gmm_exact_target_mean_reward_matches_closed_form():
    task = load_task("gmm2d")
    assert task.exact_target_mean_reward == pytest.approx(-0.2907, abs=1e-4)
    samples = torch.from_numpy(task.exact_target(200_000, np.random.default_rng(0)))
    rewards = task.reward(samples)
    sem = float(rewards.std()) / math.sqrt(len(rewards))
    assert float(rewards.mean()) == pytest.approx(task.exact_target_mean_reward, abs=4 * sem)
    fractions = np.bincount(gmm2d.nearest_mode(samples.numpy()), minlength=9) / len(samples)
    np.testing.assert_allclose(fractions[[1, 4, 7]], [0.315, 0.370, 0.315], atol=0.005)


def test_swissroll_exact_target_mean_reward_matches_shipped_constant():
    task = load_task("swissroll3d")
    samples = torch.from_numpy(task.exact_target(200_000, np.random.default_rng(1)))
    rewards = task.reward(samples)
    sem = float(rewards.std()) / math.sqrt(len(rewards))
    assert task.exact_target_mean_reward == pytest.approx(-0.72, abs=0.01)
    assert float(rewards.mean()) == pytest.approx(task.exact_target_mean_reward, abs=4 * sem)


def test_exact_mixture_prior_eps_agrees_with_shipped_prior_at_high_noise():
    exact, learned = gmm2d.exact_mixture_prior(), gmm2d.load_prior()
    torch.testing.assert_close(exact.alphas_cumprod, learned.alphas_cumprod)
    x = torch.randn(256, 2, generator=torch.Generator().manual_seed(0))
    t = torch.full((256,), 800)
    abar = exact.alphas_cumprod[t]
    err = (exact.predict_eps(x, t, abar) - learned.predict_eps(x, t, abar)).abs().mean()
    assert err < 0.05
