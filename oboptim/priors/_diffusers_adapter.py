"""The pieces that turn diffusers models and schedulers into a :class:`~oboptim.priors.DiffusionPrior`.

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
        both = _unwrap(model(torch.cat([x_in, x_in]), torch.cat([t, t]),
                             encoder_hidden_states=torch.cat([uncond, cond])))
        eps_u, eps_c = both.float().chunk(2)
        return eps_u + guidance_scale * (eps_c - eps_u)

    return eps_fn


def default_sample_shape(model: torch.nn.Module) -> tuple[int, ...]:
    """``(in_channels, sample_size, sample_size)`` from a diffusers model's config."""
    config = getattr(model, "config", None)
    if config is None or not hasattr(config, "sample_size"):
        raise ValueError("sample_shape is required for a model without config.sample_size")
    size = config.sample_size
    size = (size, size) if isinstance(size, int) else tuple(size)
    return (config.in_channels, *size)


__all__ = ["default_sample_shape", "diffusers_eps_fn", "final_alpha_cumprod", "scheduler_timestep_grid"]
