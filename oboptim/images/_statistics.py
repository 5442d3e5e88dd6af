"""A few differentiable image statistics: how much ink, how many edges, how much fine detail.

A classifier's embedding says what digit an image shows but is built to ignore how it is drawn, while a reward such
as JPEG size is driven by exactly that: strokes and their edges cost DCT coefficients, flat background costs almost
nothing. On the 1,797 bundled digits the edge statistic below ranks JPEG sizes with Spearman 0.57; a GP fitted on 64
samples of the ``digits`` prior ranks 960 others by JPEG size with Spearman 0.47 on the classifier embedding alone,
0.57 with these three numbers appended (``bench/digits_cpu.md``).

Each statistic is a mean over pixels, so it does not depend on the image size, and is differentiable (guidance flows
through it). Images are ``[B, C, H, W]`` in ``[-1, 1]``.
"""

from __future__ import annotations

import torch
from torch import Tensor

STATISTIC_NAMES = ("ink", "edges", "detail")


def image_statistics(x: Tensor) -> Tensor:
    """``[B, C, H, W] -> [B, 3]``: mean ink, mean edge magnitude and mean Laplacian magnitude, in ``x``'s dtype.

    - ink: mean of ``(x + 1) / 2`` (0 for a blank image, 1 for a full one);
    - edges: mean ``|dx| + |dy|`` of neighbouring pixels (anisotropic total variation per pixel);
    - detail: mean ``|4 x - sum of the four neighbours|`` over interior pixels (second differences, fine texture).

    ``|.|`` is smoothed (``sqrt(v^2 + eps^2)``, ``eps`` a hundredth of the pixel range) so the gradient is defined
    on flat regions, which these images are mostly made of.
    """
    if x.dim() != 4:
        raise ValueError(f"image_statistics expects images [B, C, H, W]; got shape {tuple(x.shape)}")
    ink = ((x + 1.0) / 2.0).mean((1, 2, 3))
    edges = _smooth_abs(x[..., :, 1:] - x[..., :, :-1]).mean((1, 2, 3)) + \
        _smooth_abs(x[..., 1:, :] - x[..., :-1, :]).mean((1, 2, 3))
    laplacian = (4.0 * x[..., 1:-1, 1:-1] - x[..., 2:, 1:-1] - x[..., :-2, 1:-1]
                 - x[..., 1:-1, 2:] - x[..., 1:-1, :-2])
    detail = _smooth_abs(laplacian).mean((1, 2, 3))
    return torch.stack([ink, edges, detail], dim=-1)


def _smooth_abs(v: Tensor, eps: float = 0.02) -> Tensor:
    return (v.square() + eps * eps).sqrt()
