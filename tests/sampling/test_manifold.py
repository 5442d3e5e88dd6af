"""The denoising-error manifold check agrees with the exact density of an exact-eps mixture prior, and excluding the
particles that fail it leaves them unselectable."""

import dataclasses
import math

import numpy as np
import torch

from oboptim.sampling import ManifoldCheck, restrict_to_manifold, select_particles
from oboptim.tasks import mixture8d


@dataclasses.dataclass(frozen=True)
class Result:
    """The fields of an SMCResult that the check and the selections read."""

    particles: torch.Tensor
    rewards: torch.Tensor
    log_weights: torch.Tensor


def test_check_passes_prior_samples_and_rejects_points_between_modes():
    prior = mixture8d.load_prior("cpu")
    check = ManifoldCheck(prior, num_samples=512, steps=50, percentile=2.0)
    rng = np.random.default_rng(0)
    on = torch.as_tensor(mixture8d.sample_data(400, rng), dtype=torch.float32)
    between = torch.as_tensor((mixture8d.MODE_MEANS[rng.integers(0, 8, 400)]
                               + mixture8d.MODE_MEANS[rng.integers(0, 8, 400)]) / 2, dtype=torch.float32)
    far = on + 2.0 * torch.randn(on.shape, generator=torch.Generator().manual_seed(1))
    assert check.passes(on).float().mean() > 0.9
    assert check.passes(far).float().mean() < 0.1
    off = mixture8d.log_density(between.numpy()) < np.percentile(mixture8d.log_density(on.numpy()), 1)
    assert off.sum() > 10 and check.passes(between[torch.as_tensor(off)]).float().mean() < 0.1
    again = ManifoldCheck(prior, num_samples=512, steps=50, percentile=2.0)
    assert again.threshold == check.threshold  # cached, deterministic
    assert ManifoldCheck(prior, num_samples=512, steps=50, percentile=20.0).threshold < check.threshold


def test_failing_particles_lose_their_reward_and_a_whole_failing_group_keeps_only_its_weights():
    prior = mixture8d.load_prior("cpu")
    check = ManifoldCheck(prior, num_samples=512, steps=50, percentile=2.0)
    mode = torch.as_tensor(mixture8d.MODE_MEANS[0], dtype=torch.float32)
    far = mode + 3.0
    particles = torch.stack([torch.stack([mode, far, mode + 0.1]), torch.stack([far, far + 1.0, far - 1.0])])
    result = Result(particles, rewards=torch.tensor([[0.0, 9.0, 1.0], [5.0, 6.0, 7.0]]),
                    log_weights=torch.log(torch.full((2, 3), 1 / 3)))
    restricted, passing = restrict_to_manifold(result, check)
    assert passing.tolist() == [[True, False, True], [False, False, False]]
    assert restricted.rewards[0, 1] == -math.inf and restricted.log_weights[0].exp()[1] == 0
    assert torch.allclose(restricted.log_weights[0].exp().sum(), torch.tensor(1.0))
    # a group where nothing passes: no reward (no selection across groups takes it), weights kept (resample can)
    assert restricted.rewards[1].tolist() == [-math.inf] * 3
    assert torch.allclose(restricted.log_weights[1], result.log_weights[1])
    groups, picks = select_particles(restricted, "top", torch.Generator())
    # the two passing particles, best first; 9.0 and the whole failing group (5, 6, 7) rank higher but fail
    assert list(zip(groups.tolist(), picks.tolist())) == [(0, 2), (0, 0)]
    groups, picks = select_particles(restricted, "argmax", torch.Generator())
    # the failing group takes group 0's spare passing particle: argmax never takes one that failed while one is left
    assert list(zip(groups.tolist(), picks.tolist())) == [(0, 0), (0, 2)]
