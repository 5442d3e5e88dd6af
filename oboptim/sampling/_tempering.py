"""Tempering: how fast the twist ``lambda`` rises from 0 (pure prior) to 1 (full reward).

Levels ``j = 0 .. K`` count the moves made; level 0 is the initial noise and level K the clean sample, where
``lambda_K = 1`` always (the final twist is the exact reward). With ``j0 = round(start · K)`` (the tempering start
fraction), ``lambda_j = 0`` for ``j < j0`` and otherwise, with ``i = j - j0``:

- ``exp``:  ``min((1 + gamma)^i - 1, 1)`` (DAS default gamma = 0.008 over 100 steps)
- ``poly``: ``min((gamma · i)^power, 1)``
- ``none``: 1
- ``adaptive``: the ``exp`` values are a floor; each step takes the largest ``lambda`` at or above it (and at or
  above the current one) whose reweighting keeps the ESS at or above ``ess_threshold · N``
  (:func:`adaptive_lambda`, an exact bisection batched over groups).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from oboptim._registry import TEMPERING_SCHEDULES
from oboptim.sampling._weights import effective_sample_size

_BISECTION_STEPS = 40  # 2^-40: far below any difference lambda can make


@dataclass(frozen=True)
class TemperingSchedule:
    """One kind of tempering.

    Attributes:
        levels: ``(i, gamma, power) -> lambda`` for ``i`` ``[K + 1]`` float64 steps since the start (before capping
            at 1).
        adaptive: the levels are a floor; each step searches above them (:func:`adaptive_lambda`).
    """

    levels: Callable[[Tensor, float, float], Tensor]
    adaptive: bool = False


def _exponential(i: Tensor, gamma: float, power: float) -> Tensor:
    return (1 + gamma) ** i - 1


TEMPERING_SCHEDULES.implements("exp")(TemperingSchedule(_exponential))
TEMPERING_SCHEDULES.implements("poly")(TemperingSchedule(lambda i, gamma, power: (gamma * i) ** power))
TEMPERING_SCHEDULES.implements("adaptive")(TemperingSchedule(_exponential, adaptive=True))
TEMPERING_SCHEDULES.implements("none")(TemperingSchedule(lambda i, gamma, power: torch.ones_like(i)))


def tempering_schedule(kind: str, num_steps: int, *, gamma: float, power: float = 1.0, start: float = 0.0) -> Tensor:
    """``lambda`` at every level: ``[num_steps + 1]`` float32, non-decreasing, the last entry 1.

    For an adaptive kind this is the floor the search starts from.
    """
    schedule: TemperingSchedule = TEMPERING_SCHEDULES.get(kind)
    first = round(start * num_steps)
    i = (torch.arange(num_steps + 1, dtype=torch.float64) - first).clamp_min(0)
    lam = schedule.levels(i, gamma, power)
    lam = torch.where(torch.arange(num_steps + 1) < first, torch.zeros_like(lam), lam.clamp(max=1.0))
    lam[-1] = 1.0
    return lam.float()


def adaptive_lambda(
    log_weights: Tensor, scaled_rewards: Tensor, current: Tensor, floor: Tensor, ess_threshold: float
) -> Tensor:
    """Largest ``lambda`` in ``[max(floor, current), 1]`` keeping the ESS of the tempered weights high enough.

    The weights after raising ``lambda`` from ``current`` are ``log_weights + (lambda - current) · scaled_rewards``;
    the search keeps their ESS at or above ``ess_threshold · N``. Where even the lower end falls short, the lower end
    is returned (the schedule must move on); where 1 passes, 1 is returned.

    Args:
        log_weights: ``[G, N]`` current log weights (``-inf`` for dead particles).
        scaled_rewards: ``[G, N]`` ``r(x0_hat) / alpha`` at the current particles (finite).
        current: ``[G]`` the current lambda.
        floor: ``[G]`` or scalar, the schedule's value for the next level.
        ess_threshold: fraction of N.
    Returns:
        ``[G]`` the next lambda, in the dtype of ``current``.
    """
    log_weights, scaled_rewards = log_weights.double(), scaled_rewards.double()
    target = ess_threshold * log_weights.shape[-1]
    lo = torch.maximum(torch.as_tensor(floor, dtype=torch.float64, device=current.device).expand_as(current),
                       current.double())
    hi = torch.ones_like(lo)

    def ess_at(lam: Tensor) -> Tensor:
        return effective_sample_size(log_weights + (lam - current.double()).unsqueeze(-1) * scaled_rewards)

    top_ok = ess_at(hi) >= target
    for _ in range(_BISECTION_STEPS):
        mid = (lo + hi) / 2
        ok = ess_at(mid) >= target
        lo, hi = torch.where(ok, mid, lo), torch.where(ok, hi, mid)
    return torch.where(top_ok, hi, lo).to(current.dtype)
