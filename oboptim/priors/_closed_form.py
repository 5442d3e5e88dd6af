"""Exact noise predictions and exact reward-tilted posteriors for Gaussian and Gaussian-mixture priors.

These are the closed forms of docs/algorithm.md ("Closed forms"), used to test samplers without any training error.

Noise prediction. If ``x0 ~ Σ_k π_k N(mu_k, s^2 I)`` and ``x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps``, then
``x_t ~ Σ_k π_k N(sqrt(abar_t) mu_k, v_t I)`` with ``v_t = abar_t s^2 + 1 - abar_t``, and Tweedie's formula gives

    eps(x_t, t) = E[eps | x_t] = -sqrt(1 - abar_t) ∇ log p_t(x_t)
                = sqrt(1 - abar_t) Σ_k γ_k(x_t) (x_t - sqrt(abar_t) mu_k) / v_t,

with responsibilities ``γ_k ∝ π_k exp(-|x_t - sqrt(abar_t) mu_k|^2 / (2 v_t))`` (computed with logsumexp).

Tilted posterior. Under a reward ``r(x) = -x^T A x / 2`` and ``alpha = 1`` each component becomes ``N(m_k', S')``
with ``S' = (I/s^2 + A)^-1`` and ``m_k' = S' mu_k / s^2``, and its weight becomes ``∝ π_k N(mu_k; 0, s^2 I + A^-1)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

EpsFn = Callable[[Tensor, Tensor], Tensor]


class GaussianPosterior(NamedTuple):
    """``N(mean, var I)`` and the log normalising constant ``log ∫ p(x) exp(r(x)) dx``."""

    mean: Tensor  # [d]
    var: float
    log_z: float


class MixturePosterior(NamedTuple):
    """``Σ_k weights_k N(means_k, cov)`` and its exact mean reward."""

    means: Tensor  # [K, d]
    cov: Tensor  # [d, d]
    weights: Tensor  # [K]
    mean_reward: float


def gaussian_eps(m: Tensor | float, s: float, alphas_cumprod: Tensor) -> EpsFn:
    """Exact ``eps(x_t, t)`` for the prior ``N(m, s^2 I)``.

    Args:
        m: ``[d]`` mean (or a scalar, broadcast).
        s: prior standard deviation.
        alphas_cumprod: ``[T]`` schedule ``abar``.
    Returns:
        ``eps_fn(x_t [B, d], t long [B]) -> [B, d]``, in the dtype of ``x_t`` and differentiable in ``x_t``.
    """
    means = torch.as_tensor(m, dtype=torch.float64).reshape(1, -1)
    return gaussian_mixture_eps(means, torch.ones(1, dtype=torch.float64), s, alphas_cumprod)


def gaussian_mixture_eps(means: Tensor, weights: Tensor, s: float, alphas_cumprod: Tensor) -> EpsFn:
    """Exact ``eps(x_t, t)`` for the prior ``Σ_k weights_k N(means_k, s^2 I)``.

    Args:
        means: ``[K, d]`` component means (``[K, 1]`` broadcasts over any ``d``).
        weights: ``[K]`` mixture weights (normalised here).
        s: common component standard deviation.
        alphas_cumprod: ``[T]`` schedule ``abar``.
    Returns:
        ``eps_fn(x_t [B, d], t long [B]) -> [B, d]``, computed in float64, returned in the dtype of ``x_t`` and
        differentiable in ``x_t``.
    """
    means64 = torch.as_tensor(means, dtype=torch.float64)
    log_weights = torch.log(torch.as_tensor(weights, dtype=torch.float64))
    log_weights = log_weights - torch.logsumexp(log_weights, 0)
    abar_all = torch.as_tensor(alphas_cumprod, dtype=torch.float64)
    variance = float(s) ** 2

    def eps_fn(x_t: Tensor, t: Tensor) -> Tensor:
        x = x_t.double()
        abar = abar_all.to(x.device)[torch.as_tensor(t, device=x.device).long().expand(x.shape[0])][:, None, None]
        v_t = abar * variance + 1 - abar
        diff = x[:, None, :] - abar.sqrt() * means64.to(x.device)[None]  # [B, K, d]
        logits = log_weights.to(x.device)[None] - (diff**2).sum(-1) / (2 * v_t[:, :, 0])
        resp = torch.softmax(logits, dim=1)  # [B, K]
        eps = (1 - abar[:, 0]).sqrt() * (resp[:, :, None] * diff).sum(1) / v_t[:, 0]
        return eps.to(x_t.dtype)

    return eps_fn


def noised_mixture_log_density(x_t: Tensor, abar_t: float, means: Tensor, weights: Tensor, s: float) -> Tensor:
    """``log p_t(x_t)`` of the noised mixture (float64), for checks: ``x_t [B, d] -> [B]``."""
    x = x_t.double()
    means64 = torch.as_tensor(means, dtype=torch.float64)
    log_w = torch.log(torch.as_tensor(weights, dtype=torch.float64))
    log_w = log_w - torch.logsumexp(log_w, 0)
    v_t = abar_t * s**2 + 1 - abar_t
    d = x.shape[-1]
    sq = ((x[:, None, :] - math.sqrt(abar_t) * means64[None]) ** 2).sum(-1)
    return torch.logsumexp(log_w[None] - sq / (2 * v_t), dim=1) - 0.5 * d * math.log(2 * math.pi * v_t)


def gaussian_quadratic_posterior(m: Tensor, s: float, c: Tensor) -> GaussianPosterior:
    """Target ``N(m, s^2 I) · exp(-|x - c|^2 / 2)`` (alpha = 1), normalised.

    Args:
        m: ``[d]`` prior mean.
        s: prior standard deviation.
        c: ``[d]`` reward centre.
    Returns:
        mean ``[d]``, variance (scalar, per coordinate), and ``log Z`` with
        ``Z = (1 + s^2)^(-d/2) exp(-|m - c|^2 / (2 (1 + s^2)))``.
    """
    m64 = torch.as_tensor(m, dtype=torch.float64).reshape(-1)
    c64 = torch.as_tensor(c, dtype=torch.float64).reshape(-1)
    precision = 1 / s**2 + 1
    mean = (m64 / s**2 + c64) / precision
    d = m64.numel()
    log_z = -0.5 * d * math.log(1 + s**2) - float(((m64 - c64) ** 2).sum()) / (2 * (1 + s**2))
    return GaussianPosterior(mean, 1 / precision, log_z)


def mixture_quadratic_posterior(means: Tensor, weights: Tensor, s: float, A: Tensor) -> MixturePosterior:
    """Target ``Σ_k weights_k N(means_k, s^2 I) · exp(-x^T A x / 2)`` (alpha = 1), as a mixture.

    Args:
        means: ``[K, d]`` component means.
        weights: ``[K]`` mixture weights.
        s: component standard deviation.
        A: ``[d, d]`` symmetric positive definite.
    Returns:
        new means ``[K, d]``, common covariance ``[d, d]``, new weights ``[K]`` and the exact mean reward
        ``-(1/2) Σ_k w_k (m_k'^T A m_k' + tr(A S'))``, all float64.
    """
    mu = torch.as_tensor(means, dtype=torch.float64)
    pi = torch.as_tensor(weights, dtype=torch.float64)
    A64 = torch.as_tensor(A, dtype=torch.float64)
    eye = torch.eye(mu.shape[1], dtype=torch.float64)
    cov = torch.linalg.inv(eye / s**2 + A64)
    new_means = mu @ cov.T / s**2
    marginal = torch.distributions.MultivariateNormal(torch.zeros_like(mu[0]), s**2 * eye + torch.linalg.inv(A64))
    log_w = torch.log(pi / pi.sum()) + marginal.log_prob(mu)
    new_weights = torch.softmax(log_w, 0)
    quad = torch.einsum("ki,ij,kj->k", new_means, A64, new_means) + torch.trace(A64 @ cov)
    mean_reward = float(-0.5 * (new_weights * quad).sum())
    return MixturePosterior(new_means, cov, new_weights, mean_reward)


def sample_gaussian_mixture(
    means: np.ndarray, weights: np.ndarray, cov: np.ndarray, n: int, rng: np.random.Generator
) -> np.ndarray:
    """``n`` draws from ``Σ_k weights_k N(means_k, cov)``: ``means [K, d]``, ``weights [K]``, ``cov [d, d]`` ->
    ``[n, d]`` float64."""
    means = np.asarray(means, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    components = rng.choice(len(weights), size=n, p=weights / weights.sum())
    chol = np.linalg.cholesky(np.asarray(cov, dtype=np.float64))
    return means[components] + rng.standard_normal((n, means.shape[1])) @ chol.T
