"""Candidates as pictures: which are images, their pixels in [0, 1], enlarged PNGs."""

import io

import numpy as np
import pytest
from PIL import Image

from oboptim.images import IMAGE, NUMBERS, POINT_2D, candidate_kind, image_png, to_unit_range


@pytest.mark.parametrize(
    ("shape", "kind"),
    [((1, 16, 16), IMAGE), ((3, 8, 12), IMAGE), ((16, 16), IMAGE), ((8, 8), IMAGE), ((2,), POINT_2D),
     ((3,), NUMBERS), ((), NUMBERS), ((2, 3), NUMBERS), ((2, 8, 8), NUMBERS), ((1, 2, 16), NUMBERS),
     ((4, 4, 4), NUMBERS), ((1, 1, 2), NUMBERS)],
)
def test_candidate_kind(shape, kind):
    assert candidate_kind(shape) == kind


@pytest.mark.parametrize(
    ("values", "expected"),
    [([0.0, 0.5, 1.0], [0.0, 0.5, 1.0]), ([-1.0, 0.0, 1.0], [0.0, 0.5, 1.0]), ([0.0, 51.0, 255.0], [0.0, 0.2, 1.0]),
     ([-1.2, 0.0, 1.1], [0.0, 0.5, 1.0]), ([0.0, 0.6, 1.2], [0.0, 0.5, 1.0]), ([-5.0, 0.0, 5.0], [0.0, 0.5, 1.0]),
     ([300.0, 300.0, 300.0], [0.5, 0.5, 0.5])],
)
def test_to_unit_range(values, expected):
    np.testing.assert_allclose(to_unit_range(np.array(values)), expected)


def decode(png: bytes) -> Image.Image:
    return Image.open(io.BytesIO(png))


def test_rgb_image_keeps_its_channels_and_blocks():
    x = np.zeros((3, 8, 8))
    x[0, 0, 0] = 1.0  # top-left pixel pure red
    x[2, 7, 7] = 1.0  # bottom-right pure blue
    image = decode(image_png(x))
    assert image.mode == "RGB" and image.size == (256, 256)
    pixels = np.asarray(image)
    assert (pixels[:32, :32] == [255, 0, 0]).all() and (pixels[-32:, -32:] == [0, 0, 255]).all()
    assert (pixels[32:64, :32] == 0).all()


def test_channel_first_gray_and_plain_2d_give_the_same_picture():
    x = np.random.default_rng(0).uniform(size=(16, 16))
    assert np.array_equal(np.asarray(decode(image_png(x))), np.asarray(decode(image_png(x[None]))))


def test_non_square_image_scales_by_a_whole_factor():
    image = decode(image_png(np.ones((4, 10))))
    assert image.size == (250, 100)  # factor 25 = 256 // 10


def test_image_png_refuses_non_images():
    with pytest.raises(ValueError, match="not an image"):
        image_png(np.zeros(2))


