"""Closed-form Gaussian targets (docs/algorithm.md, "Closed forms"), for the sampler's tests and any new sampler's."""

from __future__ import annotations

import math

import torch

ABAR = torch.cumprod(1 - torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64), 0)


def gaussian_eps_fn(m: torch.Tensor, s: float):
    """Exact noise prediction of the prior N(m, s^2 I) under the schedule ABAR."""
    abar = ABAR.float()

    def eps_fn(x, t):
        a = abar.to(x.device)[t].view(-1, *([1] * (x.ndim - 1)))
        return (1 - a).sqrt() * (x - a.sqrt() * m.to(x.device)) / (a * s**2 + 1 - a)

    return eps_fn


def gaussian_target(m: torch.Tensor, s: float, c: torch.Tensor):
    """Mean, per-coordinate variance and log Z of N(m, s^2 I) · exp(-|x - c|^2 / 2)."""
    d = m.numel()
    precision = 1 / s**2 + 1
    mean = (m / s**2 + c) / precision
    log_z = -d / 2 * math.log(1 + s**2) - float(((m - c) ** 2).sum()) / (2 * (1 + s**2))
    return mean, 1 / precision, log_z


def pooled_moments(result):
    """Weighted mean [d] and per-coordinate variance [d], pooled over groups (each group weighs the same)."""
    groups = result.log_weights.shape[0]
    w = (result.weights / groups).unsqueeze(-1)
    x = result.particles.double()
    mean = (w * x).sum((0, 1))
    second = (w * x**2).sum((0, 1))
    return mean, second - mean**2
