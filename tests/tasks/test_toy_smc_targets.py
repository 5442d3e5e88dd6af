"""DAS on the shipped toy priors reaches the exact alpha = 1 targets (docs/algorithm.md, "Toy problems").

A reduced version of the benchmark's paper-sized table (scripts/bench_sampler.py: 1,000 groups x 100 particles):
here 96 groups x 100 particles x 100 steps. The mean reward is the SMC estimate (weighted particles, averaged over
groups); W2 uses 6 draws per group by weight, on 500-point subsets. Measured on seeds 0-3 (96 groups): reward error
0.039-0.047 on gmm2d (the trained prior's own bias; 200 groups gave the same) and at most 0.023 on swissroll3d,
against the bound 0.06; W2 at most 1.19 times the noise floor, against 1.5.
"""

import numpy as np
import pytest
import torch

from oboptim import load_task
from oboptim.benchmark import noise_floor, subset_wasserstein
from oboptim.sampling import SMCSampler

GROUPS, DRAWS = 96, 6


@pytest.mark.slow
@pytest.mark.parametrize("name", ["gmm2d", "swissroll3d"])
def test_smc_matches_the_exact_target(name):
    task = load_task(name)
    sampler = SMCSampler(task.load_prior("cpu"), task.reward, num_particles=100, num_steps=100, alpha=1.0,
                         resampling="ssp", tempering="exp", gamma=0.008, ess_threshold=0.5)
    generator = torch.Generator().manual_seed(0)
    result = sampler.sample(GROUPS, generator)
    reward = float((result.weights * result.rewards).sum(-1).mean())
    samples = result.resample(DRAWS, generator).reshape(-1, samples_dim(name))
    assert abs(reward - task.exact_target_mean_reward) < 0.06

    exact = task.exact_target(50_000, np.random.default_rng(1))
    floor = noise_floor(task.exact_target, subset=500, repeats=10, rng=np.random.default_rng(0))
    w2 = subset_wasserstein(samples.numpy(), exact, subset=500, repeats=10, rng=np.random.default_rng(2))
    assert w2.mean <= 1.5 * floor.mean, (w2.mean, floor.mean)


def samples_dim(name):
    return {"gmm2d": 2, "swissroll3d": 3}[name]
