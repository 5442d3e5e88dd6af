"""The DDIM reverse kernel with ``eta`` (``eta = 1`` is ancestral DDPM), as pure functions.

With ``abar`` the cumulative alphas and an epsilon prediction ``eps`` (docs/algorithm.md, "Reverse kernel")::

    x0_hat  = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t)
    sigma^2 = eta^2 (1 - abar_prev) / (1 - abar_t) (1 - abar_t / abar_prev)
    mu      = sqrt(abar_prev) x0_hat + sqrt(1 - abar_prev - sigma^2) eps
    p(x_prev | x_t) = N(mu, sigma^2 I)

The guided proposal shifts the mean, ``q = N(mu + shift, sigma^2 I)`` with ``shift = lambda sigma^2 g``. Drawing
``x_prev = mu + shift + sigma z`` gives the exact log ratio without dividing by ``sigma``::

    log p(x_prev) - log q(x_prev) = -|shift|^2 / (2 sigma^2) - <shift, z> / sigma
                                  = -lambda^2 sigma^2 |g|^2 / 2 - lambda sigma <g, z>

which is 0 where ``sigma = 0`` (a deterministic final step), as it must be.
"""

from __future__ import annotations

import torch
from torch import Tensor


def predict_x0(x_t: Tensor, eps: Tensor, abar_t: Tensor | float) -> Tensor:
    """Tweedie's estimate of the clean sample, same shape as ``x_t``."""
    abar_t = torch.as_tensor(abar_t, dtype=x_t.dtype, device=x_t.device)
    return (x_t - (1 - abar_t).sqrt() * eps) / abar_t.sqrt()


def ddim_sigma(abar_t: Tensor, abar_prev: Tensor, eta: float) -> Tensor:
    """Standard deviation of the reverse step (0-d tensor); 0 when ``abar_prev = 1``."""
    variance = (1 - abar_prev) / (1 - abar_t) * (1 - abar_t / abar_prev)
    return eta * variance.clamp_min(0).sqrt()


def ddim_mean(x0_hat: Tensor, eps: Tensor, abar_prev: Tensor, sigma: Tensor) -> Tensor:
    """Mean of ``p(x_prev | x_t)``, same shape as ``x0_hat``."""
    direction = (1 - abar_prev - sigma**2).clamp_min(0).sqrt()
    return abar_prev.sqrt() * x0_hat + direction * eps


def sum_over_sample_dims(values: Tensor, batch_dims: int) -> Tensor:
    """Sum every dimension after the first ``batch_dims``: ``[*batch, *shape] -> [*batch]``."""
    return values.flatten(batch_dims).sum(-1)


def proposal_log_ratio(guidance: Tensor, noise: Tensor, lam: Tensor, sigma: Tensor, batch_dims: int) -> Tensor:
    """``log p(x_prev) - log q(x_prev)`` for ``x_prev = mu + lam · sigma^2 · guidance + sigma · noise``.

    Args:
        guidance: ``[*batch, *shape]`` the gradient ``g`` (already divided by alpha).
        noise: ``[*batch, *shape]`` the standard normal draw ``z``.
        lam: tempering weight of the step, broadcastable to ``[*batch]``.
        sigma: 0-d, the step's standard deviation.
        batch_dims: how many leading dimensions index particles.
    Returns:
        ``[*batch]``.
    """
    squared_norm = sum_over_sample_dims(guidance.square(), batch_dims)
    inner = sum_over_sample_dims(guidance * noise, batch_dims)
    return -(lam.square() * sigma.square() * squared_norm) / 2 - lam * sigma * inner
