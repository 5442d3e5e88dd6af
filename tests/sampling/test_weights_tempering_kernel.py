import math

import pytest
import torch

from oboptim.sampling import (
    adaptive_lambda,
    effective_sample_size,
    log_mean_exp,
    normalize_log_weights,
    tempering_schedule,
)
from oboptim.sampling._kernel import ddim_mean, ddim_sigma, predict_x0, proposal_log_ratio


def test_normalize_and_ess():
    lw = torch.tensor([[0.0, 0.0, 0.0, 0.0], [0.0, -math.inf, -math.inf, -math.inf], [1.0, 2.0, 3.0, 4.0]])
    norm = normalize_log_weights(lw)
    torch.testing.assert_close(norm.exp().sum(-1), torch.ones(3))
    ess = effective_sample_size(lw)
    assert ess[0].item() == pytest.approx(4.0)
    assert ess[1].item() == pytest.approx(1.0)
    w = torch.softmax(lw[2], 0)
    assert ess[2].item() == pytest.approx(float(1 / (w**2).sum()), rel=1e-5)
    assert effective_sample_size(lw + 100.0)[2].item() == pytest.approx(ess[2].item(), rel=1e-5)


def test_log_mean_exp_is_stable():
    x = torch.tensor([1000.0, 1000.0])
    assert log_mean_exp(x).item() == pytest.approx(1000.0)


def test_schedules():
    exp = tempering_schedule("exp", 100, gamma=0.008)
    assert exp[0] == 0 and exp[-1] == 1 and exp[1] == pytest.approx(0.008)
    assert bool((exp[1:] >= exp[:-1]).all())
    poly = tempering_schedule("poly", 10, gamma=0.1, power=2.0)
    assert poly[5].item() == pytest.approx(0.25)
    delayed = tempering_schedule("exp", 10, gamma=0.5, start=0.5)
    assert bool((delayed[:5] == 0).all()) and delayed[6].item() == pytest.approx(0.5)
    assert bool((tempering_schedule("none", 5, gamma=1.0) == 1).all())
    with pytest.raises(ValueError, match="tempering must be one of"):
        tempering_schedule("linear", 5, gamma=1.0)


def test_adaptive_lambda_is_the_exact_ess_boundary():
    g = torch.Generator().manual_seed(0)
    lw = normalize_log_weights(torch.zeros(3, 200))
    rewards = torch.randn(3, 200, generator=g) * torch.tensor([[0.1], [3.0], [30.0]])
    lam = adaptive_lambda(lw, rewards, torch.zeros(3), torch.tensor(0.01), 0.5)
    assert lam[0].item() == 1.0  # a flat reward never lowers the ESS below half
    for k in (1, 2):
        ess = effective_sample_size(lw[k] + lam[k] * rewards[k])
        assert ess.item() == pytest.approx(100.0, rel=1e-3)
    # The floor wins when even it breaks the ESS target.
    floor = adaptive_lambda(lw, rewards * 1e3, torch.zeros(3), torch.tensor(0.5), 0.5)
    assert floor[2].item() == pytest.approx(0.5)


def test_proposal_log_ratio_matches_gaussian_densities():
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(4, 3, 5, generator=g)
    grad = torch.randn(4, 3, 5, generator=g)
    z = torch.randn(4, 3, 5, generator=g)
    sigma, lam = torch.tensor(0.7), torch.tensor(0.3)
    shift = lam * sigma**2 * grad
    x = mu + shift + sigma * z
    log_p = -((x - mu) ** 2).sum(-1) / (2 * sigma**2)
    log_q = -((x - mu - shift) ** 2).sum(-1) / (2 * sigma**2)
    torch.testing.assert_close(proposal_log_ratio(grad, z, lam, sigma, batch_dims=2), log_p - log_q)
    assert bool((proposal_log_ratio(grad, z, lam, torch.tensor(0.0), 2) == 0).all())


def test_ddim_kernel_final_step_is_deterministic():
    abar_t, abar_prev = torch.tensor(0.9999), torch.tensor(1.0)
    sigma = ddim_sigma(abar_t, abar_prev, 1.0)
    assert sigma.item() == 0.0
    x, eps = torch.randn(3, 2), torch.randn(3, 2)
    x0 = predict_x0(x, eps, abar_t)
    torch.testing.assert_close(ddim_mean(x0, eps, abar_prev, sigma), x0)


def test_ddim_sigma_eta_one_is_the_ddpm_posterior_variance():
    abar_t, abar_prev = torch.tensor(0.5), torch.tensor(0.6)
    beta = 1 - abar_t / abar_prev
    expected = (1 - abar_prev) / (1 - abar_t) * beta
    assert ddim_sigma(abar_t, abar_prev, 1.0).item() ** 2 == pytest.approx(expected.item())
