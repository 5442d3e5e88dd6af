"""The rating page's plot of a 2-D candidate among the campaign's other points.

Matplotlib is used through its object API (``Figure`` + Agg canvas), never pyplot, so that rendering holds no global
state and is safe from the server's threads. Image candidates are drawn by :func:`oboptim.images.image_png`.
"""

from __future__ import annotations

import io

import numpy as np

MIN_PLOT_SPAN = 2.0  # a 2-D plot never zooms in below this width
LEGEND_ROOM = 1.1  # the figure is this much taller than wide: the legend goes below the axes


def point_png(point: np.ndarray, completed: np.ndarray, values: np.ndarray, pending: np.ndarray | None = None,
              size_inches: float = 3.2, value_range: tuple[float, float] | None = None) -> bytes:
    """PNG bytes of :func:`point_figure`: the candidate ``point [2]`` among the campaign's other points."""
    buffer = io.BytesIO()
    point_figure(point, completed, values, pending, size_inches, value_range).savefig(buffer, format="png")
    return buffer.getvalue()


def point_figure(point: np.ndarray, completed: np.ndarray, values: np.ndarray, pending: np.ndarray | None = None,
                 size_inches: float = 3.2, value_range: tuple[float, float] | None = None):
    """A matplotlib ``Figure``: the candidate ``point [2]`` among the campaign's other points.

    Completed points ``[N, 2]`` are coloured by their ``values [N]`` (brighter is better, read on the colour bar),
    other pending candidates ``[M, 2]`` are grey crosses, and this candidate is a red star. The legend sits below the
    axes, where it hides no point. The colour scale spans at least ``value_range`` (the page passes the rating scale,
    so that a colour means the same rating on every card). The view spans all the points (at least ``MIN_PLOT_SPAN``
    wide), so a lone point is not zoomed in on.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    point = np.asarray(point, dtype=np.float64).reshape(2)
    completed = np.asarray(completed, dtype=np.float64).reshape(-1, 2)
    pending = np.zeros((0, 2)) if pending is None else np.asarray(pending, dtype=np.float64).reshape(-1, 2)
    figure = Figure(figsize=(size_inches, size_inches * LEGEND_ROOM), dpi=80, layout="constrained")
    FigureCanvasAgg(figure)  # draws without pyplot's global state
    axes = figure.add_subplot()
    if len(pending):
        axes.scatter(pending[:, 0], pending[:, 1], marker="x", s=25, c="0.6", label="other pending")
    if len(completed):
        values = np.asarray(values, dtype=np.float64)
        low, high = value_range or (values.min(), values.max())
        rated = axes.scatter(completed[:, 0], completed[:, 1], c=values, cmap="viridis", s=24, alpha=0.85,
                             vmin=min(low, values.min()), vmax=max(high, values.max()), label="rated")
        colour_bar = figure.colorbar(rated, ax=axes, shrink=0.8, pad=0.02)
        colour_bar.set_label("rating", fontsize=7)
        colour_bar.ax.tick_params(labelsize=7)
    axes.scatter([point[0]], [point[1]], marker="*", s=220, c="red", edgecolors="black", label="this one", zorder=3)
    _set_limits(axes, np.concatenate([completed, pending, point[None]]))
    axes.xaxis.set_major_locator(MaxNLocator(5))
    axes.yaxis.set_major_locator(MaxNLocator(5))
    axes.tick_params(labelsize=7)
    figure.legend(loc="outside lower center", ncols=3, fontsize=7, frameon=False, handletextpad=0.2,
                  columnspacing=0.8)
    return figure


def _set_limits(axes, points: np.ndarray) -> None:
    """A square view around ``points [K, 2]`` with a margin, at least ``MIN_PLOT_SPAN`` wide."""
    low, high = points.min(axis=0), points.max(axis=0)
    center = (low + high) / 2
    half = max(float((high - low).max()) * 0.6, MIN_PLOT_SPAN / 2)
    axes.set_xlim(center[0] - half, center[0] + half)
    axes.set_ylim(center[1] - half, center[1] + half)
    axes.set_aspect("equal")


__all__ = ["point_figure", "point_png"]
