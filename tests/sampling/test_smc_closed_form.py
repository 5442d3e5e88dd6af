"""The SMC sampler against closed forms (docs/algorithm.md, "Closed forms").

Tolerances are Monte Carlo error (4 standard errors across independent groups) plus an allowance for the bias of a
100-of-1000-step DDIM kernel, which ignores the uncertainty of x0 given x_t (measured: a few hundredths per
coordinate; 0.01·d in log Z).
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from oboptim.sampling import RESAMPLERS, TEMPERING_SCHEDULES, DiffusionPrior, SMCSampler
from oboptim.sampling import _smc as smc_module
from oboptim.testing import ABAR, gaussian_eps_fn, gaussian_target, pooled_moments

KERNEL_BIAS = 0.05
GROUPS, PARTICLES, STEPS = 24, 64, 100


def gaussian_errors(result, m, s, c):
    """Errors of the SMC estimates and the tolerances they must meet."""
    mean, var, log_z = gaussian_target(m, s, c)
    est_mean, est_var = pooled_moments(result)
    group_means = result.weighted_mean().double()  # [G, d]
    groups = group_means.shape[0]
    se_mean = group_means.std(0) / math.sqrt(groups)
    se_log_z = float(result.log_z.double().std()) / math.sqrt(groups)
    d = m.numel()
    return {
        "mean": (float((est_mean - mean).abs().max()), KERNEL_BIAS + 4 * float(se_mean.max())),
        "var": (float((est_var - var).abs().mean()), KERNEL_BIAS + 4 * float(se_mean.max()) + 0.02),
        "log_z": (abs(float(result.log_z.double().mean()) - log_z), 0.01 * d + 0.02 + 4 * se_log_z),
    }


def run_gaussian(d, resampling="ssp", tempering="exp", guidance=True, seed=0):
    m = torch.linspace(-0.5, 0.5, d)
    c = torch.linspace(1.0, -1.0, d)
    s = 0.8
    prior = DiffusionPrior(gaussian_eps_fn(m, s), ABAR, (d,))
    sampler = SMCSampler(
        prior, lambda x: -((x - c) ** 2).sum(-1) / 2, num_particles=PARTICLES, num_steps=STEPS, alpha=1.0,
        resampling=resampling, tempering=tempering, gamma=0.008 if tempering != "poly" else 0.015,
        guidance=guidance,
    )
    result = sampler.sample(GROUPS, torch.Generator().manual_seed(seed))
    return gaussian_errors(result, m, s, c)


BASE = {"d": 2, "resampling": "ssp", "tempering": "exp", "guidance": True}
# Where resampling works hardest: derivative-free (the weights alone steer), high-dimensional, untempered. A wrong
# resampler shows here and nowhere in the guided cases (measured: with the weights ignored by one scheme, only the
# derivative-free cases of the full 80-case grid fail).
RESAMPLING_STRESS = {"d": 16, "tempering": "none", "guidance": False}


def one_factor_at_a_time() -> list[dict]:
    """The base case; each tempering schedule; each resampler under resampling stress; derivative-free; d = 16.

    The factors act on different parts of a step, so each is varied where a defect in it shows. Mutation runs
    (a scheme that ignores the weights, residual resampling that dumps its remainder on one particle, SSP without its
    randomised rounding, dropped weights, a wrong twist, a sign error in the proposal correction, a wrong log Z) are
    caught by these 12 cases wherever the full 80-case grid catches them.
    """
    cases = [BASE]
    cases += [{**BASE, "tempering": name} for name in TEMPERING_SCHEDULES if name != BASE["tempering"]]
    cases += [{**RESAMPLING_STRESS, "resampling": name} for name in RESAMPLERS]
    cases += [{**BASE, "guidance": False}, {**BASE, "d": 16}, {**BASE, "d": 16, "guidance": False,
                                                                "tempering": "adaptive"}]
    return cases


@pytest.mark.parametrize("case", one_factor_at_a_time(),
                         ids=lambda c: "-".join(f"{v}" if k != "guidance" else ("guided" if v else "free")
                                                for k, v in c.items()))
def test_gaussian_posterior_and_log_z(case):
    errors = run_gaussian(**case)
    for name, (error, tolerance) in errors.items():
        assert error < tolerance, f"{name}: error {error:.4f} >= tolerance {tolerance:.4f}"


def test_checks_fail_when_weights_are_dropped(monkeypatch):
    """Without the weights, a derivative-free run samples the prior: the closed-form check must catch it."""
    monkeypatch.setattr(smc_module, "normalize_log_weights", lambda lw: torch.full_like(lw, -math.log(lw.shape[-1])))
    errors = run_gaussian(2, guidance=False)
    assert errors["mean"][0] > errors["mean"][1]


def test_checks_fail_when_the_twist_is_wrong(monkeypatch):
    """A twist that forgets lambda_t of the current level double-counts the reward: the check must catch it."""
    real_step = smc_module.smc_step

    def broken_step(state, *args, **kwargs):
        return real_step(dataclasses.replace(state, lam=torch.zeros_like(state.lam)), *args, **kwargs)

    monkeypatch.setattr(smc_module, "smc_step", broken_step)
    errors = run_gaussian(2, guidance=False)
    assert any(error > tolerance for error, tolerance in errors.values())


def nine_mode_prior():
    """docs/algorithm.md, "Toy problems": 9 Gaussians on {-4, 0, 4}^2, covariance 0.3 I, the exact mixture eps."""
    grid = torch.tensor([-4.0, 0.0, 4.0])
    means = torch.cartesian_prod(grid, grid)  # [9, 2]
    var = 0.3
    abar = ABAR.float()

    def eps_fn(x, t):
        a = abar[t].view(-1, 1, 1)
        v = a * var + 1 - a
        diff = x.unsqueeze(1) - a.sqrt() * means  # [B, 9, 2]
        resp = torch.softmax(-(diff**2).sum(-1, keepdim=True) / (2 * v), dim=1)
        return (1 - a.squeeze(1)).sqrt() * (resp * diff / v).sum(1)

    return DiffusionPrior(eps_fn, ABAR, (2,)), means


@pytest.mark.parametrize("guidance", [True, False], ids=["guided", "derivative-free"])
@pytest.mark.parametrize("resampling", ["ssp", "systematic", "multinomial"])
def test_multimodal_mixture_weights_and_reward(resampling, guidance):
    prior, means = nine_mode_prior()
    reward = lambda x: -x[:, 0] ** 2 / 100 - x[:, 1] ** 2  # noqa: E731
    sampler = SMCSampler(prior, reward, num_particles=100, num_steps=100, resampling=resampling, guidance=guidance)
    result = sampler.sample(64, torch.Generator().manual_seed(3))
    groups = result.weights.shape[0]
    w = result.weights.double()
    group_reward = (w * result.rewards.double()).sum(-1)  # [G]
    se_reward = float(group_reward.std()) / groups**0.5
    assert abs(float(group_reward.mean()) - (-0.290)) < 0.04 + 4 * se_reward
    x_axis = result.particles[..., 1].abs() < 2
    mode = torch.bucketize(result.particles[..., 0].contiguous(), torch.tensor([-2.0, 2.0]))
    group_mass = torch.stack([(w * (x_axis & (mode == k))).sum(-1) for k in range(3)], -1)  # [G, 3]
    mass = group_mass.mean(0)
    se_mass = group_mass.std(0) / groups**0.5
    assert float(mass.sum()) > 0.99
    error = (mass - torch.tensor([0.315, 0.370, 0.315], dtype=mass.dtype)).abs()
    assert bool((error < 0.02 + 4 * se_mass).all()), f"mode weights {mass.tolist()} (SE {se_mass.tolist()})"
