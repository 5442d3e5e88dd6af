"""Diffusers models and schedulers as a :class:`DiffusionPrior`.

The scheduler supplies ``alphas_cumprod``, the timestep grid (its own ``set_timesteps``, so "leading",
"trailing" and "linspace" spacings all work), the prediction type and the final ``abar``. The model is any module
called as ``model(x_t, t)`` or ``model(x_t, t, encoder_hidden_states=...)`` whose output is a tensor, a tuple, or has
``.sample`` (``UNet2DModel``, ``UNet2DConditionModel``). It may run in fp16/bf16: inputs are cast to its dtype and its
output back to float32. Classifier-free guidance combines conditional and unconditional predictions in float32.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import Tensor

from oboptim.priors.diffusion_prior import PREDICTION_TYPES, DiffusionPrior


def _model_dtype(model: torch.nn.Module) -> torch.dtype:
    dtype = getattr(model, "dtype", None)
    if isinstance(dtype, torch.dtype):
        return dtype
    param = next(model.parameters(), None)
    return torch.float32 if param is None else param.dtype


def _unwrap(output) -> Tensor:
    if isinstance(output, Tensor):
        return output
    if hasattr(output, "sample"):
        return output.sample
    if isinstance(output, (tuple, list)):
        return output[0]
    raise TypeError(f"the model returned {type(output).__name__}; expected a tensor or an object with .sample")


def scheduler_timestep_grid(scheduler) -> Callable[[int], Tensor]:
    """``num_steps -> [K]`` decreasing timesteps, from a private copy of the scheduler (its state is the grid)."""
    private = copy.deepcopy(scheduler)

    def grid(num_steps: int) -> Tensor:
        private.set_timesteps(num_steps)
        return private.timesteps.detach().to(torch.long).cpu()

    return grid


def final_alpha_cumprod(scheduler) -> float:
    """The ``abar`` the last step lands on: DDIM's ``final_alpha_cumprod``, else 1 (DDPM's ``one``)."""
    value = getattr(scheduler, "final_alpha_cumprod", None)
    return 1.0 if value is None else float(value)


def diffusers_eps_fn(
    model: torch.nn.Module,
    *,
    guidance_scale: float = 1.0,
    negative_conditioning: Tensor | None = None,
) -> Callable[..., Tensor]:
    """``eps_fn(x_t, t[, cond])`` for a diffusers model, with optional classifier-free guidance.

    With ``guidance_scale != 1`` and ``negative_conditioning`` ``[1, ...]`` (the empty-prompt embedding), the model
    runs on the conditional and unconditional inputs in one batch and returns
    ``eps_u + guidance_scale · (eps_c - eps_u)``.
    """
    dtype = _model_dtype(model)

    def eps_fn(x_t: Tensor, t: Tensor, cond: Tensor | None = None) -> Tensor:
        x_in = x_t.to(dtype)
        if cond is None:
            return _unwrap(model(x_in, t)).float()
        cond = cond.to(device=x_t.device, dtype=dtype)
        if guidance_scale == 1.0 or negative_conditioning is None:
            return _unwrap(model(x_in, t, encoder_hidden_states=cond)).float()
        uncond = negative_conditioning.to(device=x_t.device, dtype=dtype).expand_as(cond)
        both = _unwrap(model(torch.cat([x_in, x_in]), torch.cat([t, t]), encoder_hidden_states=torch.cat([uncond, cond])))
        eps_u, eps_c = both.float().chunk(2)
        return eps_u + guidance_scale * (eps_c - eps_u)

    return eps_fn


def prior_from_diffusers(
    model: torch.nn.Module,
    scheduler,
    *,
    sample_shape: tuple[int, ...] | None = None,
    conditioning: Tensor | None = None,
    negative_conditioning: Tensor | None = None,
    guidance_scale: float = 1.0,
    decoder: Callable[[Tensor], Tensor] | None = None,
) -> DiffusionPrior:
    """A :class:`DiffusionPrior` from a diffusers model and scheduler.

    Args:
        model: ``UNet2DModel``, ``UNet2DConditionModel`` or any module returning ``.sample``.
        scheduler: a diffusers scheduler with ``alphas_cumprod`` and ``set_timesteps`` (DDPM, DDIM, ...).
        sample_shape: one particle's shape; defaults to ``(in_channels, sample_size, sample_size)`` from the
            model's config.
        conditioning: ``[G, seq, dim]`` (or ``[1, seq, dim]``) encoder hidden states, one row per group.
        negative_conditioning: ``[1, seq, dim]`` unconditional embedding for classifier-free guidance.
        guidance_scale: classifier-free guidance scale (1 = off).
        decoder: e.g. ``lambda z: vae.decode(z / vae.config.scaling_factor).sample``.
    """
    prediction_type = getattr(scheduler.config, "prediction_type", "epsilon")
    if prediction_type not in PREDICTION_TYPES:
        raise ValueError(f"scheduler prediction_type {prediction_type!r} is not supported; use one of {PREDICTION_TYPES}")
    if sample_shape is None:
        config = getattr(model, "config", None)
        if config is None or not hasattr(config, "sample_size"):
            raise ValueError("sample_shape is required for a model without config.sample_size")
        size = config.sample_size
        size = (size, size) if isinstance(size, int) else tuple(size)
        sample_shape = (config.in_channels, *size)
    return DiffusionPrior(
        diffusers_eps_fn(model, guidance_scale=guidance_scale, negative_conditioning=negative_conditioning),
        scheduler.alphas_cumprod,
        sample_shape,
        prediction_type=prediction_type,
        decoder=decoder,
        conditioning=conditioning,
        final_alpha_cumprod=final_alpha_cumprod(scheduler),
        timestep_grid=scheduler_timestep_grid(scheduler),
    )
