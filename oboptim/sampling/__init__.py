"""The DAS sampler: tempered, twisted SMC over diffusion priors, and its building blocks."""

from oboptim.priors.diffusion_prior import DiffusionPrior, TimeGrid
from oboptim.sampling.baselines import ddim_sample, guided_ddim_sample
from oboptim.sampling.resampling import RESAMPLERS, get_resampler
from oboptim.sampling.result import SMCResult
from oboptim.sampling.smc import SMCSampler, SMCState, StepInfo, smc_init, smc_step
from oboptim.sampling.tempering import TEMPERING_SCHEDULES, adaptive_lambda, tempering_schedule
from oboptim.sampling.weights import effective_sample_size, log_mean_exp, normalize_log_weights

__all__ = [
    "DiffusionPrior",
    "TimeGrid",
    "SMCSampler",
    "SMCResult",
    "SMCState",
    "StepInfo",
    "smc_init",
    "smc_step",
    "ddim_sample",
    "guided_ddim_sample",
    "RESAMPLERS",
    "get_resampler",
    "TEMPERING_SCHEDULES",
    "tempering_schedule",
    "adaptive_lambda",
    "effective_sample_size",
    "log_mean_exp",
    "normalize_log_weights",
]
