"""The tasks built on standard test functions: exact priors, and optima certified on the support."""

import math

import numpy as np
import pytest
import torch

from oboptim import TASKS, Task, load_task
from oboptim.priors import noised_mixture_log_density
from oboptim.tasks import hartmann6d, levy12d, necklace10d, swissroll3d

MODULES = {"hartmann6d": hartmann6d, "levy12d": levy12d, "necklace10d": necklace10d}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_loads_by_name_without_sampler_defaults(name):
    task = load_task(name)
    assert isinstance(task, Task) and task.name == name and task.description == TASKS.help(name)
    assert not {"alpha", "alpha_units", "particles", "steps", "acquisition"} & set(task.defaults)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_prior_eps_is_the_exact_mixture_score(name):
    module = MODULES[name]
    prior = module.MIXTURE.load_prior("cpu")
    dim = module.DIM
    for t in (5, 400, 900):
        abar = float(prior.alphas_cumprod[t])
        x = (module.MIXTURE.means[torch.arange(16) % len(module.MIXTURE.means)]
             + torch.randn(16, dim, generator=torch.Generator().manual_seed(t)).numpy())
        x = torch.as_tensor(x * math.sqrt(abar)).requires_grad_(True)
        log_p = noised_mixture_log_density(x, abar, torch.from_numpy(module.MIXTURE.means),
                                           torch.from_numpy(module.MIXTURE.weights), module.MIXTURE.std)
        (grad,) = torch.autograd.grad(log_p.sum(), x)
        eps = prior.predict_eps(x.detach().float(), torch.full((16,), t), prior.alphas_cumprod[t].expand(16))
        torch.testing.assert_close(eps.double(), -math.sqrt(1 - abar) * grad, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_optimum_is_deep_inside_the_support(name):
    module = MODULES[name]
    samples = module.MIXTURE.sample(20000, np.random.default_rng(0))
    threshold = np.percentile(module.log_density(samples), 1)
    at_optimum = module.log_density(module.OPTIMUM[None])[0]
    assert at_optimum > threshold + 5  # nats above the regime-B failure threshold
    assert float(module.reward(torch.from_numpy(module.OPTIMUM[None]))[0]) == pytest.approx(
        module.OPTIMUM_VALUE, abs=1e-9)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_point_anywhere_beats_the_certified_optimum(name):
    """Multi-start L-BFGS over a box far larger than the support, from prior samples and uniform points."""
    module = MODULES[name]
    rng = np.random.default_rng(1)
    starts = np.concatenate([module.MIXTURE.sample(256, rng),
                             rng.uniform(-6, 6, size=(256, module.DIM)),
                             module.OPTIMUM + 0.05 * rng.standard_normal((64, module.DIM))])
    x = torch.as_tensor(starts).requires_grad_(True)
    optimiser = torch.optim.LBFGS([x], max_iter=300, line_search_fn="strong_wolfe")

    def closure():
        optimiser.zero_grad()
        loss = -module.reward(x).sum()
        loss.backward()
        return loss

    for _ in range(3):
        optimiser.step(closure)
    with torch.no_grad():
        best = float(module.reward(x).max())
    assert best <= module.OPTIMUM_VALUE + 1e-9
    assert best >= module.OPTIMUM_VALUE - 1e-6  # the search does find it


def test_hartmann_outside_the_unit_box_never_beats_its_projection():
    rng = np.random.default_rng(2)
    u = torch.as_tensor(rng.uniform(-1, 2, size=(5000, 6)))
    x = 4 * (u - 0.5)
    projected = 4 * (u.clamp(0, 1) - 0.5)
    assert bool((hartmann6d.reward(x) <= hartmann6d.reward(projected) + 1e-12).all())


@pytest.mark.slow
def test_swissroll_centred_oracle_peaks_on_the_roll():
    centre = torch.as_tensor(swissroll3d.CENTRE[None])
    assert float(swissroll3d.centred_reward(centre)[0]) == 0.0
    samples = swissroll3d.sample_data(20000, np.random.default_rng(0))
    log_density = swissroll3d.log_density(samples)
    at_centre = swissroll3d.log_density(swissroll3d.CENTRE[None])[0]
    assert at_centre > np.percentile(log_density, 75)  # the centre line of the sheet: among the densest points
    assert at_centre > np.percentile(log_density, 1) + 3
    rng = np.random.default_rng(3)
    anywhere = torch.as_tensor(rng.uniform(-8, 8, size=(10000, 3)))
    assert bool((swissroll3d.centred_reward(anywhere) <= 0).all())


def test_necklace_is_a_thin_closed_curve():
    means = necklace10d.MIXTURE.means
    gaps = np.linalg.norm(np.diff(np.vstack([means, means[:1]]), axis=0), axis=1)
    assert gaps.max() < 2 * necklace10d.BEAD_STD  # beads overlap: a continuous band
    index = np.arange(len(means))
    ring = np.minimum(abs(index[:, None] - index[None]), len(means) - abs(index[:, None] - index[None]))
    distances = np.linalg.norm(means[:, None] - means[None], axis=-1)
    assert distances[ring >= 4].min() > 6 * necklace10d.BEAD_STD  # it does not touch itself
