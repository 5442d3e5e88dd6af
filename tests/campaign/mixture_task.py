"""A fast test task: an exact 9-mode Gaussian mixture prior (no training) with the gmm2d reward."""

import numpy as np
import torch

from oboptim import Task
from oboptim.priors import DiffusionPrior

ABAR = torch.cumprod(1 - torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64), 0)
MEANS = torch.cartesian_prod(torch.tensor([-4.0, 0.0, 4.0]), torch.tensor([-4.0, 0.0, 4.0]))


def mixture_eps(x, t):
    a = ABAR.float().to(x.device)[t].view(-1, 1, 1)
    v = a * 0.3 + 1 - a
    diff = x.unsqueeze(1) - a.sqrt() * MEANS.to(x.device)
    resp = torch.softmax(-(diff**2).sum(-1, keepdim=True) / (2 * v), dim=1)
    return (1 - a.squeeze(1)).sqrt() * (resp * diff / v).sum(1)


def corner_oracle(x):
    """Rewards the corner mode (4, 4)."""
    return list(-np.sum((np.asarray(x) - 4.0) ** 2, axis=-1))


TASK = Task(
    name="mixture-test",
    description="exact 9-mode mixture, corner reward",
    load_prior=lambda device: DiffusionPrior(mixture_eps, ABAR, (2,)),
    oracle=corner_oracle,
    defaults={"batch_size": 4, "budget": 12, "particles": 16, "steps": 20},
)


def make_task(corner: float = 4.0, noise: float = 0.0) -> Task:
    """The same task with options: reward the mode at ``(corner, corner)``; ``noise`` is accepted to test options."""
    if abs(corner) > 8:
        raise ValueError(f"corner must lie within the prior's support, |corner| <= 8; got {corner}")

    def oracle(x):
        return list(-np.sum((np.asarray(x) - corner) ** 2, axis=-1))

    return Task(name="mixture-test", description=f"exact 9-mode mixture, reward at ({corner}, {corner})",
                load_prior=TASK.load_prior, oracle=oracle, defaults=TASK.defaults)


def needs_corner(corner: float) -> Task:
    """A task factory with a required option."""
    return make_task(corner)
