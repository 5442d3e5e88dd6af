"""scikit-learn's bundled handwritten digits (1,797 images, 8x8, no download) as ``[N, 1, 16, 16]`` images.

The originals hold integer intensities 0..16 (ink is high). They are upscaled bilinearly to 16x16, a size at which a
small UNet has room for two downsamplings, and mapped linearly to ``[-1, 1]`` (background ``-1``), the range diffusion
models are trained on. The same images train the ``digits`` prior and the frozen classifier; a fixed split keeps a
held-out slice the classifier never saw.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from sklearn.datasets import load_digits

IMAGE_SIZE = 16
_MAX_INTENSITY = 16.0
HELD_OUT_FRACTION = 0.2
SPLIT_SEED = 0


def upscale(images: np.ndarray, size: int = IMAGE_SIZE) -> np.ndarray:
    """Bilinear resize of ``[N, H, W]`` (any float range) to ``[N, 1, size, size]`` float32."""
    tensor = torch.as_tensor(np.asarray(images, dtype=np.float32))[:, None]
    resized = torch.nn.functional.interpolate(tensor, size=(size, size), mode="bilinear", align_corners=False)
    return resized.numpy()


@lru_cache(maxsize=1)
def _cached_digits() -> tuple[np.ndarray, np.ndarray]:
    bunch = load_digits()
    images = upscale(bunch.images / _MAX_INTENSITY * 2.0 - 1.0)
    images.setflags(write=False)
    labels = bunch.target.astype(np.int64)
    labels.setflags(write=False)
    return images, labels


def load_digit_images() -> tuple[np.ndarray, np.ndarray]:
    """All 1,797 digits: images ``[N, 1, 16, 16]`` float32 in ``[-1, 1]`` and labels ``[N]`` int64 (0..9).

    The arrays are read-only and shared between calls; copy before changing them.
    """
    return _cached_digits()


def held_out_split(num_images: int, fraction: float = HELD_OUT_FRACTION, seed: int = SPLIT_SEED
                   ) -> tuple[np.ndarray, np.ndarray]:
    """A fixed random split of ``range(num_images)``: ``(train_indices, held_out_indices)``, each sorted."""
    order = np.random.default_rng(seed).permutation(num_images)
    num_held_out = int(round(fraction * num_images))
    return np.sort(order[num_held_out:]), np.sort(order[:num_held_out])
