"""A small epsilon-prediction MLP for low-dimensional data, and the noise schedule it is trained with.

The toy tasks (``gmm2d``, ``swissroll3d``) ship one :class:`MLPDenoiser` each in ``data/``. The network maps a noisy
point ``x_t [B, d]`` and its integer timestep ``t [B]`` to the predicted noise ``eps [B, d]``:

    h = W_in x_t
    h = h + Block(h, emb(t))      (``depth`` residual blocks, pre-norm, SiLU)
    eps = W_out SiLU(LayerNorm(h))

with ``emb(t)`` the sinusoidal embedding of Vaswani et al. (2017) followed by a two-layer MLP. Weights are saved with
safetensors; the constructor arguments travel in the file's metadata as JSON, so ``MLPDenoiser.load(path)`` rebuilds
the same network without any side file.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
from diffusers import DDPMScheduler
from torch import Tensor, nn

from oboptim._weights_file import load_with_config, read_metadata, save_with_config
from oboptim.errors import OboptimError

BETA_SCHEDULES = ("linear", "squaredcos_cap_v2")
_CONFIG_KEY = "oboptim_mlp_denoiser_config"


class DenoiserFileError(OboptimError):
    """A weight file that is not a saved :class:`MLPDenoiser`."""


def toy_noise_schedule(beta_schedule: str = "linear", num_train_timesteps: int = 1000) -> DDPMScheduler:
    """The diffusers DDPM schedule of the toy priors: 1000 steps, betas 1e-4..0.02 (``"linear"``) or cosine.

    ``clip_sample`` is off because toy data are not confined to ``[-1, 1]``.
    """
    if beta_schedule not in BETA_SCHEDULES:
        raise OboptimError(f"beta_schedule must be one of {BETA_SCHEDULES}, got {beta_schedule!r}")
    return DDPMScheduler(
        num_train_timesteps=num_train_timesteps,
        beta_schedule=beta_schedule,
        beta_start=1e-4,
        beta_end=0.02,
        clip_sample=False,
        prediction_type="epsilon",
    )


def sinusoidal_embedding(t: Tensor, dim: int, max_period: float = 10_000.0) -> Tensor:
    """Sinusoidal features of timesteps: ``t [B]`` (any numeric dtype) -> ``[B, dim]`` float32."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    angles = t.float()[:, None] * freqs[None, :]
    emb = torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)
    return nn.functional.pad(emb, (0, dim - 2 * half))


class _ResidualBlock(nn.Module):
    """``h + Linear(SiLU(Linear(SiLU(LayerNorm(h))) + time_shift))``."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(hidden)
        self.fc1 = nn.Linear(hidden, hidden)
        self.time_proj = nn.Linear(hidden, hidden)
        self.fc2 = nn.Linear(hidden, hidden)

    def forward(self, h: Tensor, temb: Tensor, rows: Tensor) -> Tensor:
        """``h`` ``[B, hidden]``; ``temb`` ``[U, hidden]`` per distinct timestep; ``rows`` ``[B]`` picks each row's."""
        z = self.fc1(nn.functional.silu(self.norm(h))) + self.time_proj(temb)[rows]
        return h + self.fc2(nn.functional.silu(z))


class MLPDenoiser(nn.Module):
    """Epsilon prediction for points in ``R^dim``.

    Args:
        dim: data dimension ``d``.
        hidden: width of the residual stream.
        depth: number of residual blocks.
        embedding_dim: size of the sinusoidal time features.
        num_train_timesteps: length of the training schedule (timesteps lie in ``[0, num_train_timesteps)``).
        beta_schedule: the diffusers ``beta_schedule`` it was trained with; :meth:`noise_schedule` rebuilds it.

    Example:
        >>> model = MLPDenoiser(dim=2, hidden=32, depth=2)
        >>> model(torch.zeros(5, 2), torch.full((5,), 10)).shape
        torch.Size([5, 2])
    """

    def __init__(
        self,
        dim: int,
        hidden: int = 256,
        depth: int = 4,
        embedding_dim: int = 128,
        num_train_timesteps: int = 1000,
        beta_schedule: str = "linear",
    ) -> None:
        super().__init__()
        if beta_schedule not in BETA_SCHEDULES:
            raise OboptimError(f"beta_schedule must be one of {BETA_SCHEDULES}, got {beta_schedule!r}")
        self.config: dict[str, Any] = {
            "dim": int(dim),
            "hidden": int(hidden),
            "depth": int(depth),
            "embedding_dim": int(embedding_dim),
            "num_train_timesteps": int(num_train_timesteps),
            "beta_schedule": beta_schedule,
        }
        self.time_mlp = nn.Sequential(nn.Linear(embedding_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU())
        self.input_proj = nn.Linear(dim, hidden)
        self.blocks = nn.ModuleList(_ResidualBlock(hidden) for _ in range(depth))
        self.out_norm = nn.LayerNorm(hidden)
        self.output_proj = nn.Linear(hidden, dim)

    def forward(self, x_t: Tensor, t: Tensor) -> Tensor:
        """Predicted noise.

        Args:
            x_t: ``[B, dim]`` noisy points.
            t: ``[B]`` integer timesteps (a scalar is broadcast).
        Returns:
            ``[B, dim]`` in the dtype of the weights.
        """
        t = torch.as_tensor(t, device=x_t.device).expand(x_t.shape[0])
        # A sampler's batch shares one timestep: embed each distinct t once, not once per particle (~40% of the
        # FLOPs at hidden 256).
        distinct, rows = torch.unique(t, return_inverse=True)
        temb = self.time_mlp(sinusoidal_embedding(distinct, self.config["embedding_dim"]).to(x_t.dtype))
        h = self.input_proj(x_t)
        for block in self.blocks:
            h = block(h, temb, rows)
        return self.output_proj(nn.functional.silu(self.out_norm(h)))

    def noise_schedule(self) -> DDPMScheduler:
        """The diffusers scheduler this model was trained with."""
        return toy_noise_schedule(self.config["beta_schedule"], self.config["num_train_timesteps"])

    def save(self, path: str | Path, metadata: dict[str, str] | None = None) -> None:
        """Write the weights to ``path`` (safetensors), with the config (and any extra string ``metadata``)."""
        save_with_config(self, path, self.config, _CONFIG_KEY, metadata)

    @classmethod
    def load(cls, path: str | Path, device: torch.device | str | None = None) -> MLPDenoiser:
        """Rebuild a saved model from ``path`` onto ``device`` (CPU by default)."""
        missing = DenoiserFileError(f"no denoiser weights at {path}: run scripts/train_toy_priors.py to create them")
        no_config = DenoiserFileError(f"{path} has no MLPDenoiser config; save it with MLPDenoiser.save")
        config, state = load_with_config(path, _CONFIG_KEY, missing=missing, no_config=no_config)
        model = cls(**config)
        model.load_state_dict(state)
        return model.to(device or "cpu")

    read_metadata = staticmethod(read_metadata)
