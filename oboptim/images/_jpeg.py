"""JPEG size as a black-box score: the compressibility oracle of the DDPO / DAS image experiments.

An image that compresses well (flat regions, few edges) has a small JPEG file; the published experiments maximise
the *negative* file size in kilobytes. Here images ``[B, 1, H, W]`` or ``[B, H, W]`` in ``[-1, 1]`` are clipped,
quantised to 8-bit grayscale and encoded by Pillow at quality 95. The result is a deterministic function of the
quantised pixels (Pillow's encoder has no randomness), so a resumed campaign replays exactly.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

JPEG_QUALITY = 95
BYTES_PER_KILOBYTE = 1000.0


def to_uint8(images: np.ndarray) -> np.ndarray:
    """``[B, 1, H, W]`` or ``[B, H, W]`` in ``[-1, 1]`` -> ``[B, H, W]`` uint8 (values outside are clipped)."""
    images = np.asarray(images, dtype=np.float64)
    if images.ndim == 4:
        if images.shape[1] != 1:
            raise ValueError(f"expected single-channel images [B, 1, H, W]; got shape {images.shape}")
        images = images[:, 0]
    if images.ndim != 3:
        raise ValueError(f"expected images [B, 1, H, W] or [B, H, W]; got shape {images.shape}")
    scaled = np.rint((np.clip(images, -1.0, 1.0) + 1.0) * 127.5)
    return scaled.astype(np.uint8)


def jpeg_bytes(image: np.ndarray, quality: int = JPEG_QUALITY) -> int:
    """Size in bytes of one ``[H, W]`` uint8 grayscale image encoded as JPEG."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8)).save(buffer, format="JPEG", quality=quality)
    return buffer.getbuffer().nbytes


def jpeg_kilobytes(images: np.ndarray, quality: int = JPEG_QUALITY) -> np.ndarray:
    """JPEG file size in kB (1 kB = 1000 bytes) of each image: ``[B, 1, H, W]`` or ``[B, H, W]`` -> ``[B]``."""
    return np.array([jpeg_bytes(image, quality) / BYTES_PER_KILOBYTE for image in to_uint8(images)], dtype=np.float64)


def jpeg_compressibility(x: np.ndarray) -> list[float]:
    """The oracle: negative JPEG size in kB of each candidate, ``[B, 1, H, W] -> B floats`` (higher is smaller)."""
    return [-float(size) for size in jpeg_kilobytes(x)]
