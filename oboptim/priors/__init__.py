"""Diffusion priors: the wrapper the sampler uses, and adapters that build it."""

from oboptim.priors.diffusers_adapter import diffusers_eps_fn, prior_from_diffusers
from oboptim.priors.diffusion_prior import DiffusionPrior, TimeGrid

__all__ = ["DiffusionPrior", "TimeGrid", "prior_from_diffusers", "diffusers_eps_fn"]
