"""Diffusion priors: the wrapper the sampler uses, adapters that build it from diffusers, the small MLP denoiser of the
toy tasks, and exact noise predictions for Gaussian and Gaussian-mixture priors.
"""

from typing import TYPE_CHECKING

from oboptim._lazy import attach, public_names

_EXPORTS = {
    "oboptim.priors._closed_form": [
        "GaussianPosterior", "MixturePosterior", "gaussian_eps", "gaussian_mixture_eps",
        "gaussian_quadratic_posterior", "mixture_quadratic_posterior", "noised_mixture_log_density",
        "sample_gaussian_mixture"
    ],
    "oboptim.priors._diffusers_adapter": ["diffusers_eps_fn"],
    "oboptim.priors._diffusion_prior": ["PREDICTION_TYPES", "DiffusionPrior", "TimeGrid", "prior_from_diffusers"],
    "oboptim.priors._mlp": ["DenoiserFileError", "MLPDenoiser", "toy_noise_schedule"],
    "oboptim.priors._training": ["ema_update", "warmup_cosine_lr"],
}

__all__ = public_names(_EXPORTS)
__getattr__, __dir__ = attach(__name__, _EXPORTS)

if TYPE_CHECKING:
    from oboptim.priors._closed_form import (
        GaussianPosterior,
        MixturePosterior,
        gaussian_eps,
        gaussian_mixture_eps,
        gaussian_quadratic_posterior,
        mixture_quadratic_posterior,
        noised_mixture_log_density,
        sample_gaussian_mixture,
    )
    from oboptim.priors._diffusers_adapter import diffusers_eps_fn
    from oboptim.priors._diffusion_prior import PREDICTION_TYPES, DiffusionPrior, TimeGrid, prior_from_diffusers
    from oboptim.priors._mlp import DenoiserFileError, MLPDenoiser, toy_noise_schedule
    from oboptim.priors._training import ema_update, warmup_cosine_lr
