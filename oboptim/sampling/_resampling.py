"""Resampling schemes: pure functions with one signature, batched over groups on the weights' device.

    scheme(log_weights [G, N], num_samples M, generator) -> ancestor indices, LongTensor [G, M]

Every scheme is unbiased: the expected number of offspring of particle i is ``M · w_i`` (``w`` the normalised
weights). They differ in variance:

- ``multinomial``: M independent draws; the noisiest.
- ``stratified``: one uniform in each of the M strata ``[k/M, (k+1)/M)``.
- ``systematic``: one uniform shared by all strata; offspring counts lie in ``{floor(M w), ceil(M w)}``.
- ``residual``: ``floor(M w)`` copies deterministically, the rest multinomially from the residual weights.
- ``ssp``: the Srinivasan sampling process (Gerber, Chopin & Whiteley 2019, "Negative association, ordering and
  convergence of resampling methods"): counts in ``{floor(M w), ceil(M w)}``, built by pairwise randomised
  rounding of the fractional parts. We pair fractional parts along a binary tree, so the ``log2 N`` rounds are
  vectorised over particles and groups.

A new scheme is one function, bound with ``@RESAMPLERS.implements(name)`` and declared on one line of the light
name table in ``oboptim/_registry.py`` (or registered at run time with ``RESAMPLERS.register``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from oboptim._registry import RESAMPLERS
from oboptim.sampling._weights import normalize_log_weights

Resampler = Callable[[Tensor, int, torch.Generator], Tensor]


def _uniform(shape: tuple[int, ...], like: Tensor, generator: torch.Generator) -> Tensor:
    return torch.rand(shape, generator=generator, device=like.device, dtype=torch.float64)


def _cumulative_weights(log_weights: Tensor) -> Tensor:
    """``[G, N]`` cumulative normalised weights in float64, the last entry exactly 1."""
    cdf = normalize_log_weights(log_weights.double()).exp().cumsum(-1)
    return cdf / cdf[..., -1:]


def _inverse_cdf(cdf: Tensor, points: Tensor) -> Tensor:
    """Indices ``[G, M]`` of the particles whose CDF interval ``[cdf_{i-1}, cdf_i)`` holds each point in [0, 1)."""
    index = torch.searchsorted(cdf, points.contiguous(), right=True)
    return index.clamp_(max=cdf.shape[-1] - 1)


def counts_to_indices(counts: Tensor, num_samples: int) -> Tensor:
    """Offspring counts ``[G, N]`` (each row summing to M) to sorted ancestor indices ``[G, M]``."""
    ends = counts.cumsum(-1)
    slots = torch.arange(num_samples, device=counts.device).expand(counts.shape[0], num_samples)
    return torch.searchsorted(ends, slots.contiguous(), right=True)


@RESAMPLERS.implements("multinomial")
def multinomial(log_weights: Tensor, num_samples: int, generator: torch.Generator) -> Tensor:
    """M independent categorical draws per group: ``[G, N] -> [G, M]``."""
    cdf = _cumulative_weights(log_weights)
    points = _uniform((cdf.shape[0], num_samples), cdf, generator)
    return _inverse_cdf(cdf, points)


@RESAMPLERS.implements("stratified")
def stratified(log_weights: Tensor, num_samples: int, generator: torch.Generator) -> Tensor:
    """One uniform per stratum ``[k/M, (k+1)/M)``: ``[G, N] -> [G, M]``."""
    cdf = _cumulative_weights(log_weights)
    offsets = torch.arange(num_samples, device=cdf.device, dtype=cdf.dtype)
    points = (offsets + _uniform((cdf.shape[0], num_samples), cdf, generator)) / num_samples
    return _inverse_cdf(cdf, points)


@RESAMPLERS.implements("systematic")
def systematic(log_weights: Tensor, num_samples: int, generator: torch.Generator) -> Tensor:
    """One uniform shared by all strata: ``[G, N] -> [G, M]``."""
    cdf = _cumulative_weights(log_weights)
    offsets = torch.arange(num_samples, device=cdf.device, dtype=cdf.dtype)
    points = (offsets + _uniform((cdf.shape[0], 1), cdf, generator)) / num_samples
    return _inverse_cdf(cdf, points)


def _expected_counts(log_weights: Tensor, num_samples: int) -> tuple[Tensor, Tensor]:
    """Integer parts ``[G, N]`` (long) and fractional parts ``[G, N]`` (float64) of ``M · w``."""
    expected = normalize_log_weights(log_weights.double()).exp() * num_samples
    whole = expected.floor()
    return whole.long(), expected - whole


@RESAMPLERS.implements("residual")
def residual(log_weights: Tensor, num_samples: int, generator: torch.Generator) -> Tensor:
    """``floor(M w)`` copies, then multinomial draws on the residual weights: ``[G, N] -> [G, M]``."""
    whole, fraction = _expected_counts(log_weights, num_samples)
    remaining = num_samples - whole.sum(-1, keepdim=True)  # [G, 1], in [0, N)
    # Draw M residual samples per group (a fixed shape keeps it batched) and keep the first `remaining` of each.
    safe = torch.where(fraction.sum(-1, keepdim=True) > 0, fraction, torch.ones_like(fraction))
    cdf = safe.cumsum(-1)
    cdf = cdf / cdf[..., -1:]
    draws = _inverse_cdf(cdf, _uniform((cdf.shape[0], num_samples), cdf, generator))
    keep = torch.arange(num_samples, device=draws.device) < remaining
    counts = whole.scatter_add(-1, draws, keep.long())
    return counts_to_indices(counts, num_samples)


def _ssp_round(fraction: Tensor, carrier: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Pair carriers (2k, 2k+1), randomly round one of each pair to 0 or 1, keep the other as the new carrier."""
    groups, width = carrier.shape
    left, right = carrier[:, 0::2], carrier[:, 1::2]
    a, b = fraction.gather(-1, left), fraction.gather(-1, right)
    up = torch.minimum(1 - a, b)  # move mass from b to a
    down = torch.minimum(a, 1 - b)  # move mass from a to b
    total = up + down
    p_up = torch.where(total > 0, down / total.clamp_min(1e-300), torch.ones_like(total))
    go_up = _uniform((groups, width // 2), fraction, generator) < p_up
    a_new = torch.where(go_up, a + up, a - down)
    b_new = torch.where(go_up, b - up, b + down)
    fraction = fraction.scatter(-1, left, a_new).scatter(-1, right, b_new)
    a_open = (a_new > 1e-9) & (a_new < 1 - 1e-9)
    return fraction, torch.where(a_open, left, right)


@RESAMPLERS.implements("ssp")
def ssp(log_weights: Tensor, num_samples: int, generator: torch.Generator) -> Tensor:
    """Srinivasan sampling process: ``[G, N] -> [G, M]``, counts in ``{floor(M w), ceil(M w)}``."""
    whole, fraction = _expected_counts(log_weights, num_samples)
    groups, n = fraction.shape
    width = 1 << max(n - 1, 0).bit_length()  # pad to a power of two with zero (already integral) fractions
    fraction = torch.nn.functional.pad(fraction, (0, width - n))
    carrier = torch.arange(width, device=fraction.device).expand(groups, width)
    while carrier.shape[1] > 1:
        fraction, carrier = _ssp_round(fraction, carrier, generator)
    counts = whole + fraction[:, :n].round().long()
    # Floating-point drift can leave the total one off; settle it on the heaviest particle.
    deficit = num_samples - counts.sum(-1, keepdim=True)
    counts = counts.scatter_add(-1, whole.argmax(-1, keepdim=True), deficit)
    return counts_to_indices(counts, num_samples)
