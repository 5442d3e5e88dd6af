"""The exact 9-mode mixture test task, with a denoiser that sleeps ``$SLOW_DENOISER_S`` seconds per call (default 0),
so that proposing a round takes seconds while no CPU is burnt: the executor tests interrupt a driver that is busy
proposing."""

import os
import time

import numpy as np
import torch

from oboptim import Task
from oboptim.priors import DiffusionPrior

ABAR = torch.cumprod(1 - torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64), 0)
MEANS = torch.cartesian_prod(torch.tensor([-4.0, 0.0, 4.0]), torch.tensor([-4.0, 0.0, 4.0]))


def slow_mixture_eps(x, t):
    time.sleep(float(os.environ.get("SLOW_DENOISER_S", "0")))
    a = ABAR.float().to(x.device)[t].view(-1, 1, 1)
    v = a * 0.3 + 1 - a
    diff = x.unsqueeze(1) - a.sqrt() * MEANS.to(x.device)
    resp = torch.softmax(-(diff**2).sum(-1, keepdim=True) / (2 * v), dim=1)
    return (1 - a.squeeze(1)).sqrt() * (resp * diff / v).sum(1)


TASK = Task(
    name="slow-mixture-test",
    description="exact 9-mode mixture with a slow denoiser, corner reward",
    load_prior=lambda device: DiffusionPrior(slow_mixture_eps, ABAR, (2,)),
    oracle=lambda x: list(-np.sum((np.asarray(x) - 4.0) ** 2, axis=-1)),
    defaults={"batch_size": 2, "budget": 40, "particles": 8, "steps": 10, "manifold_check": 0},
)
