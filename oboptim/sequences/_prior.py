"""A :class:`DiffusionPrior` over relaxed sequences from a sequence denoiser (e.g. :class:`MarkovChainDenoiser`).

The denoiser's x0 estimate goes to the sampler as an x0-prediction (``prediction_type="sample"``); the prior's
decoder is the relaxation's soft decode, so a reward sees per-position probabilities ``[B, L, V]`` (differentiable)
while campaign candidates come from the hard decode of the final particles.
"""

from __future__ import annotations

import torch
from diffusers import DDPMScheduler

from oboptim.priors._diffusion_prior import DiffusionPrior
from oboptim.sequences._relaxation import OneHotRelaxation


def sequence_schedule(beta_schedule: str = "squaredcos_cap_v2", num_train_timesteps: int = 1000) -> DDPMScheduler:
    """The diffusers DDPM schedule of the sequence priors (cosine by default, x0-prediction, no clipping); its
    ``alphas_cumprod`` ``[num_train_timesteps]`` is what a denoiser is built with."""
    return DDPMScheduler(num_train_timesteps=num_train_timesteps, beta_schedule=beta_schedule, clip_sample=False,
                         prediction_type="sample")


def sequence_prior(denoiser, relaxation: OneHotRelaxation, *, temperature: float | None = None) -> DiffusionPrior:
    """The prior over relaxed particles ``[L, V]`` whose decoder is the soft decode (probabilities ``[B, L, V]``).

    Args:
        denoiser: anything with ``predict_x0(x_t [B, L, V], t [B]) -> [B, L, V]`` and ``alphas_cumprod [T]``, e.g.
            :class:`oboptim.sequences.MarkovChainDenoiser`; its ``num_states`` (and ``length``, if it has one)
            must match the relaxation's.
        relaxation: the one-hot relaxation the denoiser was built for.
        temperature: the soft decode's temperature (default: the relaxation's).
    """
    expected = {"num_states": relaxation.num_states, "length": relaxation.length}
    for name, value in expected.items():
        have = getattr(denoiser, name, None)
        if have is not None and int(have) != value:
            raise ValueError(f"the denoiser has {name}={int(have)} but the relaxation has {name}={value}")

    def eps_fn(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return denoiser.predict_x0(x_t, t)

    def decoder(x: torch.Tensor) -> torch.Tensor:
        return relaxation.soft_decode(x, temperature)

    # The encoder maps stored sequences [B, L] to clean particles: what a warm start begins from.
    return DiffusionPrior(eps_fn, denoiser.alphas_cumprod, relaxation.sample_shape, prediction_type="sample",
                          decoder=decoder, encoder=relaxation.encode)


__all__ = ["sequence_prior", "sequence_schedule"]
