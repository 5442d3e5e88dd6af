"""Candidates as pictures: which candidates are images, their pixels in ``[0, 1]``, and enlarged PNGs.

Shared by the rating page and ``oboptim report``:

- image-shaped ``x`` (``[1, H, W]``, ``[3, H, W]`` or ``[H, W]``, with H, W >= 4) is shown as its pixels, scaled up
  with nearest-neighbour so that a 16x16 sample is big enough to judge;
- a 2-D point (``x [2]``) is shown by the page as a small scatter plot over the campaign's points;
- anything else has no picture: it is shown as numbers.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

IMAGE = "image"
POINT_2D = "point2d"
NUMBERS = "numbers"

MIN_IMAGE_SIDE = 4  # below this an array is numbers, not a picture (e.g. a [2, 3] design matrix)
TARGET_IMAGE_SIDE = 256  # pixels the longer side is scaled up to (by a whole factor)
MAX_UPSCALE = 32
DIFFUSION_RANGE_SLACK = 1.5  # a [-1, 1] model's samples may overshoot a little




def candidate_kind(shape: tuple[int, ...]) -> str:
    """``IMAGE``, ``POINT_2D`` or ``NUMBERS`` for a candidate of ``shape`` (one candidate, no batch axis)."""
    shape = tuple(int(side) for side in shape)
    if shape == (2,):
        return POINT_2D
    if len(shape) == 2 and min(shape) >= MIN_IMAGE_SIDE:
        return IMAGE
    if len(shape) == 3 and shape[0] in (1, 3) and min(shape[1:]) >= MIN_IMAGE_SIDE:
        return IMAGE
    return NUMBERS


def to_unit_range(x: np.ndarray) -> np.ndarray:
    """Pixel values mapped to ``[0, 1]``, guessing the convention from their range.

    ``[0, 1]`` stays as it is; ``[-1, 1]`` (the usual diffusion-model range) is shifted, a sample's slight overshoot
    (up to 1.5) clipped; ``[0, 255]`` is divided; any other range is stretched min-to-max (a constant image becomes
    mid-grey).
    """
    x = np.nan_to_num(np.asarray(x, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    low, high = float(x.min()), float(x.max())
    if low >= 0.0 and high <= 1.0:
        return x
    if -DIFFUSION_RANGE_SLACK <= low < 0.0 and high <= DIFFUSION_RANGE_SLACK:
        return np.clip((x + 1.0) / 2.0, 0.0, 1.0)
    if low >= 0.0 and 2.0 < high <= 255.0:
        return x / 255.0
    if high - low < 1e-12:
        return np.full_like(x, 0.5)
    return (x - low) / (high - low)


def image_png(x: np.ndarray, target_side: int = TARGET_IMAGE_SIDE) -> bytes:
    """PNG bytes of an image-shaped candidate ``x`` (``[1, H, W]``, ``[3, H, W]`` or ``[H, W]``), scaled up.

    The scale factor is a whole number, so every source pixel becomes a sharp square block.
    """
    x = np.asarray(x)
    if candidate_kind(x.shape) != IMAGE:
        raise ValueError(f"a candidate of shape {list(x.shape)} is not an image: expected [1|3, H, W] or [H, W]")
    pixels = np.rint(to_unit_range(x) * 255.0).astype(np.uint8)
    if pixels.ndim == 3:
        pixels = pixels[0] if pixels.shape[0] == 1 else np.moveaxis(pixels, 0, -1)  # [H, W] or [H, W, 3]
    image = Image.fromarray(np.ascontiguousarray(pixels))  # uint8 [H, W] -> "L", [H, W, 3] -> "RGB"
    height, width = pixels.shape[:2]
    scale = int(min(MAX_UPSCALE, max(1, target_side // max(height, width))))
    image = image.resize((width * scale, height * scale), Image.Resampling.NEAREST)
    return _png_bytes(image)


def _png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


__all__ = ["IMAGE", "NUMBERS", "POINT_2D", "candidate_kind", "image_png", "to_unit_range"]
