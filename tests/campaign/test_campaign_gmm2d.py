"""End to end on the shipped gmm2d prior: a Python oracle rewarding one corner mode."""

import numpy as np
import pytest
import torch

from oboptim import Campaign, load_task
from oboptim.sampling import ddim_sample

CORNER = np.array([4.0, 4.0])


def corner_oracle(x):
    return list(-np.sum((np.asarray(x) - CORNER) ** 2, axis=-1))


SEEDS = 6
BUDGET = 48  # round 0 of 16 prior samples, then 2 rounds of 16


@pytest.mark.slow
def test_campaign_beats_prior_sampling_by_a_wide_margin_over_seeds(tmp_path):
    """Regret = squared distance of the best query to the corner. About 5 of 48 prior samples land in the corner mode
    (variance 0.3 per axis), so the prior's best is already fair; the campaign must get several times closer.

    The statistic is the mean over seeds of log(campaign regret / prior regret), not one median: measured on 16
    seeds it is -2.37 with a standard deviation of 1.31 per seed, so over 6 seeds its standard error is 0.54 and the
    bound -0.5 sits 3.5 standard errors away. A different BLAS moves single runs, not that margin.
    """
    task = load_task("gmm2d")
    prior = task.load_prior("cpu")
    log_ratios = []
    for seed in range(SEEDS):
        c = Campaign.open(f"corner-{seed}", storage=f"sqlite:///{tmp_path / 'e2e.db'}", task="gmm2d", seed=seed,
                          batch_size=16, steps=50)
        c.run(budget=BUDGET, oracle=corner_oracle)
        assert c.finished_count() == BUDGET
        samples = ddim_sample(prior, BUDGET, 100, torch.Generator().manual_seed(100 + seed)).numpy()
        campaign_regret, prior_regret = -c.best().value, -max(corner_oracle(samples))
        log_ratios.append(float(np.log(campaign_regret / prior_regret)))
    assert np.mean(log_ratios) < -0.5, log_ratios
