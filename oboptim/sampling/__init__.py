"""The DAS sampler: tempered, twisted SMC over diffusion priors, and its building blocks.

Extension points: :data:`RESAMPLERS`, :data:`TEMPERING_SCHEDULES` and :data:`SELECTIONS` (see
:class:`oboptim.Registry`). ``DiffusionPrior`` is re-exported from :mod:`oboptim.priors`, its home, for the sampler's
documented example ``from oboptim.sampling import DiffusionPrior, SMCSampler``.
"""

from typing import TYPE_CHECKING

from oboptim._lazy import attach, public_names

_EXPORTS = {
    "oboptim._registry": ["RESAMPLERS", "SELECTIONS", "TEMPERING_SCHEDULES"],
    "oboptim.priors._diffusion_prior": ["DiffusionPrior"],
    "oboptim.sampling._baselines": ["ddim_sample", "guided_ddim_sample"],
    "oboptim.sampling._config": ["SMCConfig"],
    "oboptim.sampling._manifold": ["DenoisingScore", "ManifoldCheck", "restrict_to_manifold"],
    "oboptim.sampling._resampling": ["Resampler", "counts_to_indices"],
    "oboptim.sampling._result": ["SMCResult"],
    "oboptim.sampling._selection": ["SelectionContext", "distinct_order", "select_particles"],
    "oboptim.sampling._smc": ["SMCSampler", "SMCState", "StepInfo", "smc_init", "smc_step"],
    "oboptim.sampling._tempering": ["TemperingSchedule", "adaptive_lambda", "tempering_schedule"],
    "oboptim.sampling._weights": ["effective_sample_size", "log_mean_exp", "normalize_log_weights"],
}

__all__ = public_names(_EXPORTS)
__getattr__, __dir__ = attach(__name__, _EXPORTS)

if TYPE_CHECKING:
    from oboptim._registry import RESAMPLERS, SELECTIONS, TEMPERING_SCHEDULES
    from oboptim.priors._diffusion_prior import DiffusionPrior
    from oboptim.sampling._baselines import ddim_sample, guided_ddim_sample
    from oboptim.sampling._config import SMCConfig
    from oboptim.sampling._manifold import DenoisingScore, ManifoldCheck, restrict_to_manifold
    from oboptim.sampling._resampling import Resampler, counts_to_indices
    from oboptim.sampling._result import SMCResult
    from oboptim.sampling._selection import SelectionContext, distinct_order, select_particles
    from oboptim.sampling._smc import SMCSampler, SMCState, StepInfo, smc_init, smc_step
    from oboptim.sampling._tempering import TemperingSchedule, adaptive_lambda, tempering_schedule
    from oboptim.sampling._weights import effective_sample_size, log_mean_exp, normalize_log_weights
