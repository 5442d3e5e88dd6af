"""The sampler's settings as one frozen, validated record (no torch here: campaign settings derive it cheaply)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from oboptim._registry import RESAMPLERS, TEMPERING_SCHEDULES


@dataclass(frozen=True)
class SMCConfig:
    """Validated settings of :class:`~oboptim.sampling.SMCSampler` (see it for their meaning).

    Raises ValueError on construction for a value out of range, naming it.
    """

    num_particles: int = 100
    num_steps: int = 100
    alpha: float = 1.0
    eta: float = 1.0
    resampling: str = "ssp"
    ess_threshold: float = 0.5
    tempering: str = "exp"
    gamma: float = 0.008
    tempering_power: float = 1.0
    tempering_start: float = 0.0
    guidance: bool = True
    particle_batch_size: int | None = None

    def __post_init__(self) -> None:
        checks = [
            (self.num_particles >= 1, f"num_particles must be >= 1, got {self.num_particles}"),
            (self.num_steps >= 1, f"num_steps must be >= 1, got {self.num_steps}"),
            (self.alpha > 0 and math.isfinite(self.alpha), f"alpha must be a positive number, got {self.alpha}"),
            (0 < self.eta <= 1, f"eta must lie in (0, 1] (SMC needs a stochastic kernel), got {self.eta}"),
            (0 <= self.ess_threshold <= 1, f"ess_threshold must lie in [0, 1], got {self.ess_threshold}"),
            (self.gamma > 0, f"gamma must be > 0, got {self.gamma}"),
            (self.tempering_power > 0, f"tempering_power must be > 0, got {self.tempering_power}"),
            (0 <= self.tempering_start < 1, f"tempering_start must lie in [0, 1), got {self.tempering_start}"),
            (self.particle_batch_size is None or self.particle_batch_size >= 1,
             f"particle_batch_size must be >= 1 or None, got {self.particle_batch_size}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        RESAMPLERS.check(self.resampling)
        TEMPERING_SCHEDULES.check(self.tempering)


__all__ = ["SMCConfig"]
