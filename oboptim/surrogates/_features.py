"""Feature maps: how a decoded candidate ``[B, *domain_shape]`` becomes the surrogate's input ``[B, F]``.

A surrogate models the score on features, not on raw candidates: for a 2-D toy the features are the point itself,
for images they may be a frozen embedding. The acquisition composes ``surrogate(features(x))``, and the sampler
backpropagates through both, so a feature map must be differentiable.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from torch import Tensor


@runtime_checkable
class FeatureMap(Protocol):
    """Differentiable map from candidates ``x [B, *domain_shape]`` to features ``[B, F]`` (same dtype as ``x``).

    It must be a pure function of ``x``: no randomness, and rows are mapped independently.
    ``oboptim.testing._surrogate_suite.FeatureMapConformance`` checks an implementation.
    """

    def __call__(self, x: Tensor) -> Tensor: ...


class IdentityFeatures:
    """Flatten each candidate: ``[B, *domain_shape] -> [B, prod(domain_shape)]``.

    Example:
        >>> IdentityFeatures()(torch.zeros(4, 2)).shape
        torch.Size([4, 2])
    """

    def __call__(self, x: Tensor) -> Tensor:
        if x.dim() == 0:
            raise ValueError("IdentityFeatures expects a batch [B, *domain_shape], got a scalar")
        return x.reshape(x.shape[0], -1)

    def __repr__(self) -> str:
        return "IdentityFeatures()"


def features_of(feature_map: FeatureMap, x: Tensor) -> Tensor:
    """Apply ``feature_map`` to ``x [B, *domain]`` and check that the result is ``[B, F]``."""
    features = feature_map(x)
    if features.dim() != 2 or features.shape[0] != x.shape[0]:
        raise ValueError(f"feature map {feature_map!r} returned shape {tuple(features.shape)} for a batch of "
                         f"{x.shape[0]}: it must return [B, F]")
    return features


__all__ = ["FeatureMap", "IdentityFeatures", "features_of"]
