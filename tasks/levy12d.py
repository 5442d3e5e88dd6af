"""``levy12d``: BoTorch's 12-D Levy function on an exact 12-mode Gaussian mixture, a vanishing part of its box.

Black box: ``f(x) = -Levy12(1 + (x - x*))`` (BoTorch's ``Levy(dim=12)``, its formula evaluated everywhere), noise
free. Levy is ``>= 0`` on all of ``R^12`` with its only zero at ``(1, ..., 1)``, so ``f <= 0`` everywhere and
``f(x*) = 0``: the best value on the support is certified to be 0 (no query anywhere can beat it). Levy is
multimodal (``sin^2`` ripples of period 4 on a shallow bowl), so a surrogate must find the right mode and then the
right ripple.

Prior data: 12 equal-weight Gaussians ``N(mu_k, 0.5^2 I)``, centres fixed random points of ``[-2.5, 2.5]^12`` at
least 10 standard deviations apart; ``x*`` lies one standard deviation from the centre of mode 0 (0.5 nats below its
peak; the 1st percentile of prior samples lies ~13 nats below a peak). In 12-D the support fills a fraction of the
bounding box of its samples too small to measure by uniform sampling.
"""

from __future__ import annotations

import numpy as np
import torch
from botorch.test_functions.synthetic import Levy
from torch import Tensor

from oboptim import TASKS, Task
from oboptim.tasks._mixture import IsotropicMixture, separated_points, unit_vector

DIM = 12
MODE_STD = 0.5
NUM_MODES = 12
_LEVY = Levy(dim=DIM)
OPTIMUM_VALUE = 0.0


def _modes_and_optimum() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1212)
    means = separated_points(NUM_MODES, DIM, -2.5, 2.5, 10 * MODE_STD, rng)
    return means, means[0] + MODE_STD * unit_vector(DIM, rng)


_MEANS, OPTIMUM = _modes_and_optimum()  # OPTIMUM [12] lies on mode 0
MIXTURE = IsotropicMixture(_MEANS, MODE_STD, np.full(NUM_MODES, 1 / NUM_MODES))


def reward(x: Tensor) -> Tensor:
    """The black box ``-Levy12(1 + x - x*)``: ``[B, 12] -> [B]`` (maximum 0 at ``OPTIMUM``)."""
    shift = x.new_tensor(OPTIMUM)
    return -_LEVY.to(x)._evaluate_true(1.0 + (x - shift))


def oracle(x: np.ndarray) -> list[float]:
    """``x [B, 12]`` numpy -> ``B`` floats, deterministic (float64 inside)."""
    rows = torch.from_numpy(np.asarray(x, dtype=np.float64).reshape(-1, DIM))
    return [float(v) for v in reward(rows)]


TASK = Task(
    name="levy12d",
    description=TASKS.help("levy12d"),
    load_prior=MIXTURE.load_prior,
    oracle=oracle,
    features=lambda x: x.flatten(1),
    reward=reward,
    sample_data=MIXTURE.sample,
    defaults={"batch_size": 16, "budget": 128},
)
log_density = MIXTURE.log_density
