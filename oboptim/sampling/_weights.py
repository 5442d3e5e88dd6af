"""Importance-weight utilities in log space, batched over groups.

All functions take log weights of shape ``[G, N]`` (G independent groups of N particles) and reduce over the last
dimension. Particles with weight zero carry ``-inf``; a group must keep at least one finite weight.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def normalize_log_weights(log_weights: Tensor) -> Tensor:
    """Log weights ``[G, N]`` shifted so that each group's weights sum to one."""
    return log_weights - torch.logsumexp(log_weights, dim=-1, keepdim=True)


def log_mean_exp(values: Tensor, dim: int = -1) -> Tensor:
    """``log(mean(exp(values)))`` along ``dim``, stable for large magnitudes."""
    return torch.logsumexp(values, dim=dim) - math.log(values.shape[dim])


def effective_sample_size(log_weights: Tensor) -> Tensor:
    """Kish's ESS ``(Σw)² / Σw²`` per group: ``[G, N] -> [G]``; invariant to the weights' normalisation."""
    return torch.exp(2 * torch.logsumexp(log_weights, dim=-1) - torch.logsumexp(2 * log_weights, dim=-1))
