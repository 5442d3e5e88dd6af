import math

import numpy as np
import pytest
import torch

from oboptim.priors import (
    gaussian_eps,
    gaussian_mixture_eps,
    gaussian_quadratic_posterior,
    mixture_quadratic_posterior,
    noised_mixture_log_density,
    sample_gaussian_mixture,
    toy_noise_schedule,
)

ABAR = toy_noise_schedule().alphas_cumprod
GRID_MEANS = torch.tensor([[a, b] for a in (-4.0, 0.0, 4.0) for b in (-4.0, 0.0, 4.0)], dtype=torch.float64)
GRID_WEIGHTS = torch.full((9,), 1 / 9, dtype=torch.float64)


def _score_eps(x, t, means, weights, s):
    """eps = -sqrt(1 - abar) * grad log p_t, by autograd of the exact noised log-density."""
    abar = float(ABAR[t])
    x = x.double().requires_grad_(True)
    (grad,) = torch.autograd.grad(noised_mixture_log_density(x, abar, means, weights, s).sum(), x)
    return -math.sqrt(1 - abar) * grad


@pytest.mark.parametrize("t", [0, 10, 250, 600, 999])
def test_mixture_eps_matches_autograd_score(t):
    gen = torch.Generator().manual_seed(t)
    x = 5 * torch.randn(64, 2, generator=gen)
    weights = torch.rand(9, generator=gen, dtype=torch.float64) + 0.1
    eps = gaussian_mixture_eps(GRID_MEANS, weights, 0.5, ABAR)(x.float(), torch.full((64,), t))
    expected = _score_eps(x, t, GRID_MEANS, weights / weights.sum(), 0.5)
    assert eps.dtype == torch.float32
    torch.testing.assert_close(eps.double(), expected, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("t", [0, 300, 999])
def test_gaussian_eps_matches_formula_and_score(t):
    m, s = torch.tensor([1.0, -2.0, 0.5]), 0.7
    x = torch.randn(16, 3, generator=torch.Generator().manual_seed(1))
    eps = gaussian_eps(m, s, ABAR)(x, torch.full((16,), t))
    abar = ABAR[t].double()
    formula = (1 - abar).sqrt() * (x.double() - abar.sqrt() * m.double()) / (abar * s**2 + 1 - abar)
    torch.testing.assert_close(eps.double(), formula, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(eps.double(), _score_eps(x, t, m[None].double(), torch.ones(1), s), atol=1e-5, rtol=1e-4)


def test_mixture_eps_is_the_posterior_mean_of_the_noise():
    # Monte Carlo: E[eps | x_t in a small ball] ~ eps_fn(x_t); here via the regression identity
    # E[(eps - eps_fn(x_t))^2] is minimal: the exact eps beats a perturbed one on fresh (x0, eps) pairs.
    rng = np.random.default_rng(0)
    t = 400
    abar = ABAR[t].double()
    x0 = torch.from_numpy(sample_gaussian_mixture(GRID_MEANS.numpy(), GRID_WEIGHTS.numpy(), 0.3 * np.eye(2), 200_000,
                                                  rng))
    noise = torch.from_numpy(rng.standard_normal(x0.shape))
    x_t = abar.sqrt() * x0 + (1 - abar).sqrt() * noise
    eps_fn = gaussian_mixture_eps(GRID_MEANS, GRID_WEIGHTS, math.sqrt(0.3), ABAR)
    pred = eps_fn(x_t, torch.full((len(x_t),), t)).double()
    # residual is orthogonal to any function of x_t (here x_t itself): E[(eps - pred) x_t] = 0
    cross = ((noise - pred) * x_t).mean(0)
    assert cross.abs().max() < 4 * ((noise - pred) * x_t).std(0).max() / math.sqrt(len(x_t))
    assert ((noise - pred) ** 2).mean() < ((noise - 0.95 * pred) ** 2).mean()


def test_mixture_eps_is_differentiable_in_x():
    x = torch.randn(8, 2, requires_grad=True)
    gaussian_mixture_eps(GRID_MEANS, GRID_WEIGHTS, 0.5, ABAR)(x, torch.full((8,), 50)).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_mixture_eps_is_stable_far_from_all_modes():
    x = torch.tensor([[1e3, -1e3]])
    eps = gaussian_mixture_eps(GRID_MEANS, GRID_WEIGHTS, 0.5, ABAR)(x, torch.tensor([0]))
    assert torch.isfinite(eps).all()


def test_gaussian_quadratic_posterior_against_quadrature():
    m, s, c = torch.tensor([0.5]), 0.8, torch.tensor([2.0])
    post = gaussian_quadratic_posterior(m, s, c)
    grid = torch.linspace(-10, 10, 200_001, dtype=torch.float64)
    dx = float(grid[1] - grid[0])
    prior = torch.exp(-((grid - 0.5) ** 2) / (2 * s**2)) / math.sqrt(2 * math.pi * s**2)
    tilted = prior * torch.exp(-((grid - 2.0) ** 2) / 2)
    z = float(tilted.sum() * dx)
    mean = float((grid * tilted).sum() * dx / z)
    var = float(((grid - mean) ** 2 * tilted).sum() * dx / z)
    assert post.log_z == pytest.approx(math.log(z), abs=1e-6)
    assert float(post.mean[0]) == pytest.approx(mean, abs=1e-6)
    assert post.var == pytest.approx(var, abs=1e-6)


def test_nine_mode_toy_posterior_matches_reference():
    post = mixture_quadratic_posterior(GRID_MEANS, GRID_WEIGHTS, math.sqrt(0.3), torch.diag(torch.tensor([0.02, 2.0])))
    # the closed form is -0.29072 (-0.290 truncated)
    assert post.mean_reward == pytest.approx(-0.2907, abs=1e-4)
    x_axis = post.weights[GRID_MEANS[:, 1] == 0]
    assert x_axis.tolist() == pytest.approx([0.315, 0.370, 0.315], abs=5e-4)
    assert float(post.weights.sum()) == pytest.approx(1.0)


def test_mixture_posterior_mean_reward_by_monte_carlo():
    A = torch.tensor([[1.0, 0.3], [0.3, 0.5]], dtype=torch.float64)
    means = torch.tensor([[-1.0, 2.0], [1.5, 0.0]], dtype=torch.float64)
    weights = torch.tensor([0.3, 0.7], dtype=torch.float64)
    post = mixture_quadratic_posterior(means, weights, 0.8, A)
    # importance sampling from the prior, self-normalised by exp(r)
    rng = np.random.default_rng(0)
    x = torch.from_numpy(sample_gaussian_mixture(means.numpy(), weights.numpy(), 0.64 * np.eye(2), 400_000, rng))
    r = -0.5 * torch.einsum("ni,ij,nj->n", x, A, x)
    w = torch.softmax(r, 0)
    assert float((w * r).sum()) == pytest.approx(post.mean_reward, abs=0.01)
    target_mean = (post.weights[:, None] * post.means).sum(0)
    torch.testing.assert_close((w[:, None] * x).sum(0), target_mean, atol=0.01, rtol=0)
