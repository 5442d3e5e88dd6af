"""The rating page's plot of a 2-D candidate among the campaign's points."""

import io

import numpy as np
import pytest
from PIL import Image

from oboptim.web import point_png


def decode(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


@pytest.mark.parametrize("pending", [None, np.array([[3.0, -1.0], [1.0, 1.0]])])
@pytest.mark.parametrize("completed", [np.zeros((0, 2)), np.array([[0.0, 1.0], [2.0, 3.0]])])
def test_point_png_draws_the_point_in_red(completed, pending):
    image = decode(point_png(np.array([1.0, 1.0]), completed, np.arange(len(completed)), pending=pending))
    assert image.format == "PNG" and min(image.size) >= 200
    pixels = np.asarray(image.convert("RGB")).astype(int)
    red = (pixels[..., 0] > 200) & (pixels[..., 1] < 60) & (pixels[..., 2] < 60)
    assert red.sum() > 20  # the star
