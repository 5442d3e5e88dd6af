"""The one-hot relaxation of sequences: encode, soft decode (differentiable) and hard decode (integers).

Shapes: tokens ``[B, L]`` int64 in ``[0, V)``; relaxed particles ``[B, L, V]`` float32. A soft decode maps a relaxed
particle (a clean sample or a denoiser's estimate ``x0_hat``) to per-position probabilities over the states; the hard
decode takes the most likely state per position. ``hard_decode(encode(t)) == t`` and
``soft_decode(encode(t), tau) -> one_hot(t)`` as ``tau -> 0``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class OneHotRelaxation:
    """Sequences of ``length`` states out of ``num_states`` as ``scale · (2 · one_hot - 1)`` in ``R^{L x V}``.

    Args:
        num_states: V (at least 2).
        length: L (at least 1).
        scale: half the gap between the "on" and "off" entries (positive).
        temperature: default temperature of :meth:`soft_decode`, in units of ``scale`` (positive).

    Example:
        >>> r = OneHotRelaxation(num_states=4, length=3)
        >>> r.hard_decode(r.encode(torch.tensor([[0, 3, 1]])))
        tensor([[0, 3, 1]])
    """

    num_states: int
    length: int
    scale: float = 1.0
    temperature: float = 0.1

    def __post_init__(self) -> None:
        if self.num_states < 2:
            raise ValueError(f"num_states must be at least 2, got {self.num_states}")
        if self.length < 1:
            raise ValueError(f"length must be at least 1, got {self.length}")
        if not self.scale > 0 or not self.temperature > 0:
            raise ValueError(f"scale and temperature must be positive, got {self.scale} and {self.temperature}")

    @property
    def sample_shape(self) -> tuple[int, int]:
        """Shape of one relaxed particle, ``(L, V)``."""
        return (self.length, self.num_states)

    def one_hot(self, tokens: Tensor) -> Tensor:
        """Tokens ``[B, L]`` (integers) -> ``[B, L, V]`` float32 one-hot."""
        self._check_tokens(tokens)
        return torch.nn.functional.one_hot(tokens.long(), self.num_states).float()

    def encode(self, tokens: Tensor) -> Tensor:
        """Tokens ``[B, L]`` (integers) -> relaxed particles ``[B, L, V]`` float32, ``scale · (2 · one_hot - 1)``."""
        return self.scale * (2 * self.one_hot(tokens) - 1)

    def soft_decode(self, x: Tensor, temperature: float | None = None) -> Tensor:
        """Relaxed ``[B, L, V]`` -> probabilities ``[B, L, V]``: ``softmax(x / (scale · tau))`` over the states,
        differentiable; ``tau`` defaults to :attr:`temperature`."""
        self._check_relaxed(x)
        tau = self.temperature if temperature is None else temperature
        if not tau > 0:
            raise ValueError(f"temperature must be positive, got {tau}")
        return torch.softmax(x / (self.scale * tau), dim=-1)

    def hard_decode(self, x: Tensor) -> Tensor:
        """Relaxed ``[B, L, V]`` (or probabilities) -> tokens ``[B, L]`` int64, the most likely state per position."""
        self._check_relaxed(x)
        return x.argmax(dim=-1)

    def _check_relaxed(self, x: Tensor) -> None:
        if x.ndim < 2 or tuple(x.shape[-2:]) != self.sample_shape:
            raise ValueError(f"expected relaxed sequences [B, {self.length}, {self.num_states}], got {tuple(x.shape)}")

    def _check_tokens(self, tokens: Tensor) -> None:
        if tokens.ndim < 1 or tokens.shape[-1] != self.length:
            raise ValueError(f"expected sequences [B, {self.length}], got shape {tuple(tokens.shape)}")
        if tokens.is_floating_point() or tokens.is_complex() or tokens.dtype == torch.bool:
            raise ValueError(f"tokens must be integers (state indices), got {tokens.dtype}")
        if tokens.numel() and (int(tokens.min()) < 0 or int(tokens.max()) >= self.num_states):
            raise ValueError(f"states must lie in [0, {self.num_states}), got {int(tokens.min())}..{int(tokens.max())}")


__all__ = ["OneHotRelaxation"]
