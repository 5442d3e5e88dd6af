"""The JPEG-size oracle: flat images compress better than noise, values are negative kB, and it is deterministic."""

import numpy as np
import pytest

from oboptim.images import jpeg_compressibility, jpeg_kilobytes, to_uint8
from oboptim.images._jpeg import jpeg_bytes


def noise_images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, size=(n, 1, 16, 16))


def test_flat_image_is_smaller_than_noise():
    flat = np.full((1, 1, 16, 16), -1.0)
    sizes = jpeg_kilobytes(np.concatenate([flat, noise_images(1)]))
    assert sizes[0] < sizes[1]
    oracle = jpeg_compressibility(np.concatenate([flat, noise_images(1)]))
    assert oracle[0] > oracle[1]


def test_values_are_negative_kilobytes_of_the_encoded_file():
    x = noise_images(4)
    values = jpeg_compressibility(x)
    assert isinstance(values, list) and len(values) == 4 and all(isinstance(v, float) for v in values)
    assert all(v < 0 for v in values)
    expected = [-jpeg_bytes(image) / 1000 for image in to_uint8(x)]
    assert values == expected


def test_deterministic_and_independent_of_batch_neighbours():
    x = noise_images(5, seed=1)
    first = jpeg_compressibility(x)
    assert jpeg_compressibility(x) == first
    assert jpeg_compressibility(x[::-1].copy()) == first[::-1]
    assert jpeg_compressibility(x[2:3]) == first[2:3]


def test_channel_axis_is_optional_and_out_of_range_pixels_are_clipped():
    x = noise_images(3, seed=2)
    np.testing.assert_array_equal(jpeg_kilobytes(x), jpeg_kilobytes(x[:, 0]))
    np.testing.assert_array_equal(jpeg_kilobytes(3 * x), jpeg_kilobytes(np.clip(3 * x, -1, 1)))


def test_quantisation_maps_the_range_ends():
    pixels = to_uint8(np.array([[[-1.0, 0.0, 1.0, 7.0]]]))
    assert pixels.dtype == np.uint8 and pixels.tolist() == [[[0, 128, 255, 255]]]


@pytest.mark.parametrize("shape", [(16, 16), (2, 3, 16, 16), (1, 1, 1, 16, 16)])
def test_bad_shapes_are_rejected(shape):
    with pytest.raises(ValueError, match="expected"):
        jpeg_kilobytes(np.zeros(shape))
