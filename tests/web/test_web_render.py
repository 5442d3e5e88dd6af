"""The rating page's plot of a 2-D candidate among the campaign's points."""

import io

import numpy as np
import pytest
from PIL import Image

from oboptim.web import point_png
from oboptim.web._render import point_figure


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


CORNERS = np.array([[-3.0, -3.0], [-3.0, 3.0], [3.0, -3.0], [3.0, 3.0], [0.0, 0.0]])


def test_the_legend_hides_no_point_and_the_ratings_have_a_colour_bar():
    figure = point_figure(np.array([1.0, 1.0]), CORNERS, np.array([1.0, 4.0, 6.0, 9.0, 10.0]),
                          pending=np.array([[2.0, -2.0]]))
    figure.canvas.draw()
    axes = figure.axes[0]
    legends = figure.legends + [axes.get_legend()] if axes.get_legend() else figure.legends
    assert len(legends) == 1
    assert not legends[0].get_window_extent().overlaps(axes.get_window_extent())  # below the axes, not on the data
    labels = [a.get_xlabel() + a.get_ylabel() for a in figure.axes[1:]]
    assert labels == ["rating"]


def test_without_ratings_there_is_no_colour_bar():
    figure = point_figure(np.array([1.0, 1.0]), np.zeros((0, 2)), np.zeros(0))
    assert len(figure.axes) == 1


def test_the_colour_scale_spans_the_rating_scale_it_is_given():
    figure = point_figure(np.array([1.0, 1.0]), CORNERS[:2], np.array([3.0, 7.0]), value_range=(1.0, 10.0))
    assert figure.axes[1].get_ylim() == (1.0, 10.0)
