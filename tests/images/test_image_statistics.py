"""Ink, edge and detail statistics of images: values on hand-made images, gradients, and relation to JPEG size."""

import pytest
import torch
from scipy.stats import spearmanr

from oboptim.images import image_statistics, jpeg_kilobytes, load_digit_images
from oboptim.images._statistics import STATISTIC_NAMES


def test_blank_full_and_striped_images():
    blank = -torch.ones(1, 1, 8, 8)
    full = torch.ones(1, 1, 8, 8)
    stripes = -torch.ones(1, 1, 8, 8)
    stripes[..., ::2] = 1.0  # a vertical line on every other column
    stats = image_statistics(torch.cat([blank, full, stripes]))
    assert stats.shape == (3, len(STATISTIC_NAMES))
    torch.testing.assert_close(stats[:, 0], torch.tensor([0.0, 1.0, 0.5]))
    # flat images have no edges nor detail, up to the smoothing of |.|
    assert stats[:2, 1:].max() < 0.05
    # every horizontal neighbour pair differs by 2, no vertical one (which the smoothing counts as 0.02)
    assert stats[2, 1] == pytest.approx(2.0 + 0.02, abs=1e-3)
    assert stats[2, 2] > 4.0


def test_gradient_is_finite_on_flat_images_and_dtype_is_kept():
    x = torch.full((2, 1, 16, 16), -1.0, dtype=torch.float64, requires_grad=True)
    stats = image_statistics(x)
    assert stats.dtype == torch.float64
    stats.sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_edges_rank_digits_by_jpeg_size():
    images, _ = load_digit_images()
    stats = image_statistics(torch.from_numpy(images.copy())).numpy()
    assert spearmanr(stats[:, 1], jpeg_kilobytes(images)).correlation > 0.4


def test_rejects_images_without_a_channel_axis():
    with pytest.raises(ValueError, match=r"\[B, C, H, W\]"):
        image_statistics(torch.zeros(2, 16, 16))
