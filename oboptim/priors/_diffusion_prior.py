"""A pretrained diffusion model seen as a prior ``p(x0)``.

:class:`DiffusionPrior` bundles what the sampler needs and nothing else:

- a noise-prediction callable ``eps_fn(x_t, t) -> eps`` (v- and x0-prediction models are converted to ``eps``),
- the discrete schedule ``alphas_cumprod`` (``abar_t``), as diffusers schedulers expose it,
- the timestep grid for a given number of sampling steps,
- the ``sample_shape`` of one particle,
- optionally a differentiable ``decoder`` from the sampled space (a latent) to the task's domain, and per-group
  ``conditioning`` handed to ``eps_fn`` as a third argument.

The model may run in bf16 or fp16; everything the sampler does with its output happens in float32.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from oboptim.priors._diffusers_adapter import (
    default_sample_shape,
    diffusers_eps_fn,
    final_alpha_cumprod,
    scheduler_timestep_grid,
)

PREDICTION_TYPES = ("epsilon", "v_prediction", "sample")


@dataclass(frozen=True)
class TimeGrid:
    """The reverse-time grid of one sampling run.

    Attributes:
        timesteps: ``[K]`` long, decreasing model timesteps ``t_K > ... > t_1``.
        abar: ``[K]`` float32, ``abar`` at each timestep.
        abar_prev: ``[K]`` float32, ``abar`` of the step each move lands on; the last entry is the schedule's final
            value (1.0 unless the scheduler says otherwise).
    """

    timesteps: Tensor
    abar: Tensor
    abar_prev: Tensor

    def __len__(self) -> int:
        return int(self.timesteps.shape[0])


class DiffusionPrior:
    """A diffusion model as a prior over ``sample_shape``-shaped particles.

    Args:
        eps_fn: ``eps_fn(x_t [B, *sample_shape], t LongTensor [B]) -> [B, *sample_shape]``; with ``conditioning``
            set it is called as ``eps_fn(x_t, t, cond [B, ...])``. Returns whatever ``prediction_type`` says.
        alphas_cumprod: ``[T]`` cumulative products of the alphas (``scheduler.alphas_cumprod``).
        sample_shape: shape of one particle, e.g. ``(2,)`` or ``(4, 64, 64)``.
        prediction_type: ``"epsilon"``, ``"v_prediction"`` or ``"sample"`` (x0-prediction).
        decoder: optional differentiable map ``[B, *sample_shape] -> [B, *domain_shape]`` (e.g. a VAE decode).
        encoder: optional map from a task's stored candidates to clean particles ``[B, *sample_shape]`` (the
            relaxation of a sequence), what a warm start begins from; without a decoder, candidates are particles.
        conditioning: optional ``[G, ...]`` tensor (or ``[1, ...]``, broadcast), one row per group.
        final_alpha_cumprod: ``abar`` the last move lands on (1.0 means a clean sample).
        timestep_grid: optional ``num_steps -> LongTensor [K]`` giving the decreasing timesteps to use, e.g. a
            diffusers scheduler's ``set_timesteps``. Defaults to the evenly spaced ("leading") DDIM grid.

    Example:
        >>> abar = torch.cumprod(1 - torch.linspace(1e-4, 0.02, 1000), 0)
        >>> prior = DiffusionPrior(lambda x, t: torch.zeros_like(x), abar, (2,))
        >>> prior.time_grid(10).timesteps[:3]
        tensor([900, 800, 700])
    """

    def __init__(
        self,
        eps_fn: Callable[..., Tensor],
        alphas_cumprod: Tensor | Sequence[float],
        sample_shape: Sequence[int],
        *,
        prediction_type: str = "epsilon",
        decoder: Callable[[Tensor], Tensor] | None = None,
        conditioning: Tensor | None = None,
        final_alpha_cumprod: float = 1.0,
        timestep_grid: Callable[[int], Tensor] | None = None,
        encoder: Callable[[Tensor], Tensor] | None = None,
    ) -> None:
        if prediction_type not in PREDICTION_TYPES:
            raise ValueError(f"prediction_type must be one of {PREDICTION_TYPES}, got {prediction_type!r}")
        abar = torch.as_tensor(alphas_cumprod, dtype=torch.float64).detach().cpu()
        if abar.ndim != 1 or abar.numel() < 2:
            raise ValueError("alphas_cumprod must be a 1-D schedule with at least 2 entries")
        if not bool(((abar > 0) & (abar <= 1)).all()) or not bool((abar[1:] <= abar[:-1]).all()):
            raise ValueError("alphas_cumprod must lie in (0, 1] and be non-increasing")
        if not 0 < final_alpha_cumprod <= 1:
            raise ValueError(f"final_alpha_cumprod must lie in (0, 1], got {final_alpha_cumprod}")
        self.eps_fn = eps_fn
        self.alphas_cumprod = abar.float()
        self.sample_shape = tuple(int(s) for s in sample_shape)
        self.prediction_type = prediction_type
        self.decoder = decoder
        self.encoder = encoder
        self.conditioning = conditioning
        self.final_alpha_cumprod = float(final_alpha_cumprod)
        self._timestep_grid = timestep_grid

    @property
    def num_train_timesteps(self) -> int:
        return int(self.alphas_cumprod.shape[0])

    def time_grid(self, num_steps: int, device: torch.device | str = "cpu", *, start: int | None = None) -> TimeGrid:
        """The ``num_steps``-step reverse grid, with ``abar`` at each step and at the step it lands on.

        With ``start``, the grid runs evenly spaced from model timestep ``start`` down to 0 (a warm start's grid).
        """
        if not 1 <= num_steps <= self.num_train_timesteps:
            raise ValueError(f"num_steps must lie in [1, {self.num_train_timesteps}], got {num_steps}")
        if start is not None:
            if not num_steps - 1 <= start < self.num_train_timesteps:
                raise ValueError(f"a grid of {num_steps} steps must start at a timestep in [{num_steps - 1}, "
                                 f"{self.num_train_timesteps - 1}], got {start}")
            timesteps = torch.linspace(start, 0, num_steps, dtype=torch.float64).round().long()
        elif self._timestep_grid is not None:
            timesteps = torch.as_tensor(self._timestep_grid(num_steps), dtype=torch.long).cpu()
        else:
            stride = self.num_train_timesteps // num_steps
            timesteps = torch.arange(num_steps - 1, -1, -1, dtype=torch.long) * stride
        if timesteps.ndim != 1 or not bool((timesteps[1:] < timesteps[:-1]).all()):
            raise ValueError("the timestep grid must be strictly decreasing")
        abar = self.alphas_cumprod[timesteps]
        abar_prev = torch.cat([abar[1:], torch.tensor([self.final_alpha_cumprod])])
        return TimeGrid(timesteps.to(device), abar.to(device), abar_prev.to(device))

    def predict_eps(self, x_t: Tensor, t: Tensor, abar_t: Tensor, cond: Tensor | None = None) -> Tensor:
        """Noise prediction in float32, converting v- or x0-predictions.

        Args:
            x_t: ``[B, *sample_shape]`` float32.
            t: ``[B]`` long timesteps.
            abar_t: ``[B]`` float32, ``abar`` at ``t``.
            cond: ``[B, ...]`` per-particle conditioning rows, or None.
        Returns:
            ``[B, *sample_shape]`` float32.
        """
        out = self.eps_fn(x_t, t) if cond is None else self.eps_fn(x_t, t, cond)
        if out.shape != x_t.shape:
            raise ValueError(f"eps_fn returned shape {tuple(out.shape)}; expected {tuple(x_t.shape)}")
        out = out.float()
        if self.prediction_type == "epsilon":
            return out
        a = abar_t.float().view(-1, *([1] * (x_t.ndim - 1)))
        if self.prediction_type == "v_prediction":
            return a.sqrt() * out + (1 - a).sqrt() * x_t
        return (x_t - a.sqrt() * out) / (1 - a).sqrt()

    def decode(self, x0: Tensor) -> Tensor:
        """Map samples ``[B, *sample_shape]`` into the task's domain (identity without a decoder)."""
        return x0 if self.decoder is None else self.decoder(x0)

    def encode(self, candidates: Tensor) -> Tensor:
        """Stored candidates -> clean particles ``[B, *sample_shape]`` float32 (a warm start's seeds).

        Raises ValueError for a prior with a decoder but no encoder (e.g. a latent model: no inverse is known)."""
        if self.encoder is not None:
            return self.encoder(candidates).float()
        if self.decoder is not None:
            raise ValueError("a warm start needs the prior's encoder: this prior decodes its particles and has none")
        return torch.as_tensor(candidates, dtype=torch.float32)

    @classmethod
    def from_diffusers(cls, model: torch.nn.Module, scheduler, **kwargs) -> DiffusionPrior:
        """Build a prior from a diffusers model (``UNet2DModel``, ``UNet2DConditionModel``, or any module whose
        output has ``.sample``) and a diffusers scheduler; see :func:`prior_from_diffusers`.
        """
        return prior_from_diffusers(model, scheduler, **kwargs)


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
        raise ValueError(f"scheduler prediction_type {prediction_type!r} is not supported; "
                         f"use one of {PREDICTION_TYPES}")
    if sample_shape is None:
        sample_shape = default_sample_shape(model)
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


__all__ = ["PREDICTION_TYPES", "DiffusionPrior", "TimeGrid", "prior_from_diffusers"]
