import math
import warnings

import pytest
import torch

from oboptim.sampling import DiffusionPrior, SMCSampler, ddim_sample, guided_ddim_sample
from oboptim.testing import ABAR, gaussian_eps_fn

D = 3


def make_prior(**kwargs):
    return DiffusionPrior(gaussian_eps_fn(torch.zeros(D), 1.0), ABAR, (D,), **kwargs)


def reward(x):
    return -((x - 1.0) ** 2).sum(-1) / 2


def sample(prior=None, reward_fn=reward, groups=3, seed=0, **kwargs):
    kwargs.setdefault("num_particles", 16)
    kwargs.setdefault("num_steps", 20)
    sampler = SMCSampler(prior or make_prior(), reward_fn, **kwargs)
    return sampler.sample(groups, torch.Generator().manual_seed(seed))


def test_result_shapes_and_traces():
    res = sample(num_steps=20)
    assert res.particles.shape == (3, 16, D)
    assert res.log_weights.shape == (3, 16) and res.log_z.shape == (3,)
    torch.testing.assert_close(res.weights.sum(-1), torch.ones(3))
    assert res.ess.shape == (20, 3) and res.lambdas.shape == (21, 3)
    assert res.log_z_trace.shape == (20, 3) and res.reward_trace.shape == (20, 3)
    assert res.resampled.shape == (20, 3) and res.resampled.dtype == torch.bool
    assert bool((res.lambdas[-1] == 1).all()) and bool((res.lambdas[0] == 0).all())
    assert bool((res.ess <= 16 + 1e-4).all()) and bool((res.ess >= 1 - 1e-4).all())
    torch.testing.assert_close(res.log_z_trace[-1], res.log_z)
    torch.testing.assert_close(res.rewards, reward(res.particles.reshape(-1, D)).view(3, 16))


def test_per_group_draws_and_argmax():
    res = sample()
    g = torch.Generator().manual_seed(1)
    assert res.resample(5, generator=g).shape == (3, 5, D)
    best = res.argmax()
    assert best.shape == (3, D)
    torch.testing.assert_close(best[0], res.particles[0, res.log_weights[0].argmax()])
    with pytest.raises(ValueError, match="resampling must be one of"):
        res.resample(5, generator=g, scheme="best")


def test_same_generator_same_result_and_batch_size_changes_nothing():
    a = sample(seed=5)
    b = sample(seed=5, particle_batch_size=7)
    torch.testing.assert_close(a.particles, b.particles)
    torch.testing.assert_close(a.log_weights, b.log_weights)
    c = sample(seed=6)
    assert not torch.equal(a.particles, c.particles)


def test_int_seed_is_accepted():
    res = SMCSampler(make_prior(), reward, num_particles=4, num_steps=5).sample(2, 0)
    assert res.particles.shape == (2, 4, D)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"alpha": 0.0}, "alpha"),
        ({"alpha": -1.0}, "alpha"),
        ({"eta": 0.0}, "eta"),
        ({"ess_threshold": 1.5}, "ess_threshold"),
        ({"ess_threshold": -0.1}, "ess_threshold"),
        ({"resampling": "bogus"}, "resampling"),
        ({"tempering": "bogus"}, "tempering"),
        ({"num_particles": 0}, "num_particles"),
        ({"num_steps": 0}, "num_steps"),
        ({"tempering_start": 1.0}, "tempering_start"),
        ({"particle_batch_size": 0}, "particle_batch_size"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SMCSampler(make_prior(), reward, **kwargs)


def test_reward_of_wrong_shape():
    with pytest.raises(ValueError, match=r"reward_fn returned \(.*\); expected a tensor of shape"):
        sample(reward_fn=lambda x: -(x**2))


def test_eps_of_wrong_shape():
    prior = DiffusionPrior(lambda x, t: x[:, :1], ABAR, (D,))
    with pytest.raises(ValueError, match="eps_fn returned shape"):
        sample(prior=prior)


def test_all_nan_reward_is_an_error():
    with pytest.raises(ValueError, match="every particle of group"):
        sample(reward_fn=lambda x: torch.full(x.shape[:1], math.nan) + 0 * x.sum(-1))


def test_nan_for_some_particles_gets_zero_weight_and_warns_once():
    def flaky(x):
        r = reward(x)
        return torch.where(x[:, 0] > 1.5, torch.full_like(r, math.nan), r)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = sample(reward_fn=flaky, groups=4, num_particles=64)
    relevant = [w for w in caught if "weight 0" in str(w.message)]
    assert len(relevant) == 1
    assert bool(torch.isfinite(res.log_z).all())
    dead = res.particles[..., 0] > 1.5
    assert bool((res.weights[dead] == 0).all())
    assert bool(torch.isfinite(res.particles).all())


def test_non_differentiable_reward_needs_guidance_off():
    with pytest.raises(ValueError, match="guidance=False"):
        sample(reward_fn=lambda x: reward(x).detach())
    res = sample(reward_fn=lambda x: reward(x).detach(), guidance=False)
    assert res.particles.shape == (3, 16, D)


def test_generator_device_decides_where_particles_live():
    res = sample()
    assert res.particles.device.type == "cpu"


def test_prediction_types_are_converted():
    eps_fn = gaussian_eps_fn(torch.zeros(D), 1.0)
    abar = ABAR.float()

    def v_fn(x, t):
        a = abar[t].view(-1, 1)
        eps = eps_fn(x, t)
        x0 = (x - (1 - a).sqrt() * eps) / a.sqrt()
        return a.sqrt() * eps - (1 - a).sqrt() * x0

    def x0_fn(x, t):
        a = abar[t].view(-1, 1)
        return (x - (1 - a).sqrt() * eps_fn(x, t)) / a.sqrt()

    x = torch.randn(5, D)
    t = torch.tensor([10, 200, 500, 800, 990])
    a = ABAR.float()[t]
    expected = eps_fn(x, t)
    for fn, kind in ((v_fn, "v_prediction"), (x0_fn, "sample")):
        prior = DiffusionPrior(fn, ABAR, (D,), prediction_type=kind)
        torch.testing.assert_close(prior.predict_eps(x, t, a), expected, atol=1e-4, rtol=1e-4)


def test_prior_rejects_bad_schedules_and_types():
    with pytest.raises(ValueError, match="prediction_type"):
        DiffusionPrior(lambda x, t: x, ABAR, (D,), prediction_type="flow")
    with pytest.raises(ValueError, match="alphas_cumprod"):
        DiffusionPrior(lambda x, t: x, torch.tensor([0.5, 0.9]), (D,))
    with pytest.raises(ValueError, match="num_steps"):
        make_prior().time_grid(2000)


def test_conditioning_rows_reach_eps_fn_per_group():
    seen = []

    def eps_fn(x, t, cond):
        seen.append(cond[:, 0].clone())
        return gaussian_eps_fn(torch.zeros(D), 1.0)(x, t)

    prior = DiffusionPrior(eps_fn, ABAR, (D,), conditioning=torch.tensor([[0.0], [1.0], [2.0]]))
    sample(prior=prior, groups=3, num_particles=4, num_steps=3, particle_batch_size=5)
    first = torch.cat(seen[:3])  # the first level, in chunks of 5 over 12 particles
    assert first.tolist() == [0.0] * 4 + [1.0] * 4 + [2.0] * 4
    with pytest.raises(ValueError, match="conditioning has 2 rows"):
        SMCSampler(prior, reward, num_particles=4, num_steps=3).sample(
            3, torch.Generator().manual_seed(0), conditioning=torch.zeros(2, 1)
        )


def test_decoder_is_applied_before_the_reward():
    prior = make_prior(decoder=lambda z: 2 * z)
    res = sample(prior=prior, reward_fn=lambda x: -((x - 2.0) ** 2).sum(-1) / 2)
    torch.testing.assert_close(res.decoded(), 2 * res.particles)
    torch.testing.assert_close(res.rewards, -((2 * res.particles - 2.0) ** 2).sum(-1) / 2)


def test_smc_improves_reward_over_prior_and_guided_baseline_runs():
    g = torch.Generator().manual_seed(0)
    prior_samples = ddim_sample(make_prior(), 2000, 50, g)
    guided = guided_ddim_sample(make_prior(), reward, 2000, 50, g)
    smc = sample(groups=20, num_particles=100, num_steps=50)
    prior_reward = float(reward(prior_samples).mean())
    smc_reward = float((smc.weights * smc.rewards).sum(-1).mean())
    assert float(reward(guided).mean()) > prior_reward + 1.0
    assert smc_reward > prior_reward + 1.0


@pytest.mark.parametrize("reward_fn", [None, reward])
def test_baseline_batch_size_chunks_calls_without_changing_samples(reward_fn):
    calls = []
    eps_fn = gaussian_eps_fn(torch.zeros(D), 1.0)

    def counting_eps(x, t):
        calls.append(x.shape[0])
        return eps_fn(x, t)

    prior = DiffusionPrior(counting_eps, ABAR, (D,))
    whole = guided_ddim_sample(prior, reward_fn, 10, 5, torch.Generator().manual_seed(3))
    assert set(calls) == {10}
    calls.clear()
    chunked = guided_ddim_sample(prior, reward_fn, 10, 5, torch.Generator().manual_seed(3), batch_size=4)
    assert set(calls) == {4, 2}
    torch.testing.assert_close(chunked, whole)
