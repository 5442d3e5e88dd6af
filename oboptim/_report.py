"""PNG plots of a campaign: progress, per-round rewards, where it queried, surrogate calibration, image grids; and
``rounds.txt``, one line per round saying how its batch was proposed (acquisition, selection, the alpha the sampler
really had in the oracle's units, how spread the batch is, and how many particles the manifold check dropped).

Each plot is a matplotlib ``Figure`` built with the object API (no pyplot, so no global state), which lets a test look
at what a plot shows; :func:`write_report` saves them. A plot with nothing to show says so on its axes, and rounds
are coloured one band per round, with whole-number ticks on the colour bar.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import BoundaryNorm
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from oboptim._records import SMC, Provenance, RoundDiagnostics
from oboptim.images._pictures import IMAGE, POINT_2D, candidate_kind, to_unit_range
from oboptim.storage._records import TrialState

EMPTY_NOTE = "no completed trials yet"
FAR_OUT_IQRS = 3.0  # Tukey's "far out": beyond 3 interquartile ranges from the quartiles
PENDING_STATES = (TrialState.WAITING, TrialState.RUNNING)
FAILED_STATES = (TrialState.FAILED, TrialState.ABANDONED)
DPI = 110
ROUNDS_FILE = "rounds.txt"
GRID_GAP = 0.3  # width of the gap between an image row's best and its others, in cells


def write_report(campaign, out_dir: Path | str) -> list[Path]:
    """Write the campaign's plots and ``rounds.txt`` into ``out_dir`` and return their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, figure in report_figures(campaign):
        figure.savefig(out / name, dpi=DPI)
        paths.append(out / name)
    (out / ROUNDS_FILE).write_text(rounds_table(campaign))
    return [*paths, out / ROUNDS_FILE]


def rounds_table(campaign) -> str:
    """One line per round: how its batch was proposed. ``alpha`` is in the oracle's units (``alpha * alpha_scale``:
    with ``alpha_units=std`` the observed values' spread times the setting), ``spread`` the mean pairwise distance of
    the batch in the prior's particle space, ``dropped`` the final particles the manifold check excluded. A round
    stored before a column was recorded shows ``-`` there. A round whose oracle failed transiently ends with
    ``retried N oracle batch(es) (last: REASON)``, and one with a note on its proposal (a sequence round short of new
    sequences) with ``note: NOTE``."""
    lines = [f"{'round':>5}  {'source':6}  {'acquisition':11}  {'selection':10}  {'alpha':>10}  {'spread':>9}  "
             f"{'dropped':>7}"]
    for record in campaign.storage.rounds(campaign.id):
        d = RoundDiagnostics.from_json(record.diagnostics)
        if d.source != SMC:
            lines.append(f"{record.round:5d}  {d.source:6}  prior samples{_retried(d)}{_noted(d)}")
            continue
        lines.append(f"{record.round:5d}  {d.source:6}  {_shown(d.acquisition):11}  {_shown(d.selection):10}  "
                     f"{_shown(d.oracle_alpha, '.4g'):>10}  {_shown(d.batch_spread, '.4g'):>9}  "
                     f"{_shown(d.manifold_dropped):>7}{_retried(d)}{_noted(d)}")
    return "\n".join(lines) + "\n"


def _retried(d: RoundDiagnostics) -> str:
    """``  retried 1 oracle batch (last: REASON)``, or nothing when the round's oracle never failed transiently."""
    if not d.retried_batches:
        return ""
    plural = "es" if d.retried_batches > 1 else ""
    return f"  retried {d.retried_batches} oracle batch{plural} (last: {d.retry_reason})"


def _noted(d: RoundDiagnostics) -> str:
    """``  note: ...`` (a sequence round short of new sequences says so), or nothing."""
    return f"  note: {d.note}" if d.note else ""


def _shown(value, spec: str = "") -> str:
    return "-" if value is None else format(value, spec)


def report_figures(campaign) -> list[tuple[str, Figure]]:
    """``(file name, figure)`` of every plot the campaign has: three always, then the 2-D or image ones."""
    trials = campaign.trials()
    done = [t for t in trials if t.state == TrialState.COMPLETED]
    figures = [
        ("best_so_far.png", _best_so_far(campaign, trials)),
        ("rewards_per_round.png", _rewards_per_round(done, [t for t in trials if t.state in FAILED_STATES])),
        ("calibration.png", _calibration(done)),
    ]
    if _points_are_2d(campaign, trials):
        figures.append(("queries.png", _queries_over_prior(campaign, trials)))
    if done and candidate_kind(done[0].x.shape) == IMAGE:
        figures.append(("images_per_round.png", _image_grids(done)))
    return figures


def _figure(width: float, height: float, **subplots) -> tuple[Figure, object]:
    """A figure whose layout makes room for colour bars and legends outside the axes, and its axes."""
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure, figure.subplots(**subplots)


def _note(axes, text: str, *, over_data: bool = False) -> None:
    """Say on the axes why they are empty; ``over_data``: on a white box over what is drawn (the ticks stay)."""
    box = {"facecolor": "white", "edgecolor": "0.8"} if over_data else None
    axes.text(0.5, 0.5, text, transform=axes.transAxes, ha="center", va="center", fontsize=11, color="0.3", bbox=box)
    if not over_data:  # no meaningless 0-1 ticks
        axes.set_xticks([])
        axes.set_yticks([])


def _round_colours(rounds: np.ndarray) -> dict:
    """``cmap`` and ``norm`` for ``scatter``: one colour band per round, so that the colour bar reads whole rounds."""
    low, high = int(rounds.min()), int(rounds.max())
    cmap = matplotlib.colormaps["viridis"].resampled(high - low + 1)
    return {"cmap": cmap, "norm": BoundaryNorm(np.arange(low - 0.5, high + 1.5), cmap.N)}


def _round_colour_bar(figure: Figure, points, axes) -> None:
    bar = figure.colorbar(points, ax=axes, label="round", ticks=MaxNLocator(integer=True))
    bar.minorticks_off()


def _best_so_far(campaign, trials) -> Figure:
    finished = [t for t in trials if t.state in (TrialState.COMPLETED, TrialState.FAILED)]
    finished.sort(key=lambda t: (t.finished_at is None, t.finished_at, t.number))
    values = np.array([t.value if t.state == TrialState.COMPLETED else -np.inf for t in finished], dtype=float)
    figure, axes = _figure(6, 4)
    axes.set(xlabel="queries", ylabel="best value so far", title=f"{campaign.name}: best so far")
    if not np.isfinite(values).any():
        _note(axes, EMPTY_NOTE)
        return figure
    best = np.maximum.accumulate(values)
    axes.plot(np.arange(1, len(best) + 1), np.where(np.isfinite(best), best, np.nan), drawstyle="steps-post")
    axes.grid(alpha=0.3)
    return figure


def _rewards_per_round(done, failed=()) -> Figure:
    """Boxes of each round's values, on a y-range that shows the rounds after 0, and each round's failed trials
    (``failed``: an infeasible sequence, a crashed oracle, an abandoned trial) counted as ``✗ n`` over the round and
    in the title, since they have no value to draw.

    Round 0 holds the prior's samples, often far worse than anything the campaign proposes later (a gmm2d campaign:
    -18 against -0.8 to 0.3); letting them set the axis flattens every later round into a line. So the axis spans the
    later rounds' values, leaving out Tukey's far-out ones, and whatever lies beyond it (most of round 0, a wild
    later value) is marked at the edge with its count, and round 0's range is written under the plot.
    """
    rounds = sorted({t.round for t in done})
    data = [np.array([t.value for t in done if t.round == r]) for r in rounds]
    failures = Counter(t.round for t in failed)
    figure, axes = _figure(6, 4)
    title = "observed values per round" + (f" ({len(failed)} failed, ✗)" if failed else "")
    axes.set(xlabel="round", ylabel="observed value", title=title)
    if not data:
        _note(axes, EMPTY_NOTE + (f" ({len(failed)} failed)" if failed else ""))
        return figure
    axes.boxplot(data, positions=rounds, widths=0.6, manage_ticks=False, showfliers=False)  # the dots show all
    jitter = np.random.default_rng(0)
    for r, values in zip(rounds, data):
        axes.scatter(r + jitter.uniform(-0.15, 0.15, len(values)), values, s=6, c="C0", alpha=0.5, zorder=3)
    low, high = _shown_range(data[1:] if len(data) > 1 else data)
    axes.set_ylim(low, high)
    shown_rounds = sorted({*rounds, *failures})
    axes.set_xlim(shown_rounds[0] - 0.6, shown_rounds[-1] + 0.6)
    for r, count in sorted(failures.items()):  # above the ▼ marks of values below the axis
        axes.text(r, 0.07, f"✗ {count}", transform=axes.get_xaxis_transform(), ha="center", va="bottom", fontsize=8,
                  color="C1")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.grid(alpha=0.3)
    if _mark_beyond(axes, rounds, data, low, high) and rounds[0] == 0:  # under the x label
        axes.annotate(f"▼/▲ n: n values beyond the axis; round 0 (prior samples) spans {data[0].min():.3g} to "
                      f"{data[0].max():.3g}", xy=(0.5, 0), xycoords=axes.xaxis.label, xytext=(0, -3),
                      textcoords="offset points", ha="center", va="top", fontsize=7, color="C3")
    return figure


def _shown_range(data: list[np.ndarray]) -> tuple[float, float]:
    """The y-range spanning ``data`` (one array per round) without each round's far-out values, with a margin."""
    kept = np.concatenate([_without_far_out(values) for values in data])
    low, high = float(kept.min()), float(kept.max())
    margin = 0.08 * (high - low) or max(0.1 * abs(high), 0.5)
    return low - margin, high + margin


def _without_far_out(values: np.ndarray) -> np.ndarray:
    q1, q3 = np.percentile(values, [25, 75])
    reach = FAR_OUT_IQRS * (q3 - q1)
    return values[(values >= q1 - reach) & (values <= q3 + reach)]


def _mark_beyond(axes, rounds: list[int], data: list[np.ndarray], low: float, high: float) -> bool:
    """Write ``▼ n`` / ``▲ n`` at the axis' edge over each round with n values below / above it; True if any."""
    edge = axes.get_xaxis_transform()  # x in data, y in axes fractions
    marked = False
    for r, values in zip(rounds, data):
        for count, y, arrow, align in (((values < low).sum(), 0.01, "▼", "bottom"),
                                       ((values > high).sum(), 0.99, "▲", "top")):
            if count:
                axes.text(r, y, f"{arrow} {count}", transform=edge, ha="center", va=align, fontsize=8, color="C3")
                marked = True
    return marked


def _calibration(done) -> Figure:
    provenances = {t.id: Provenance.from_json(t.provenance) for t in done}
    scored = [t for t in done if provenances[t.id].has_prediction]
    figure, axes = _figure(5.5, 5)
    axes.set(xlabel="predicted mean", ylabel="observed", title="surrogate calibration")
    if not scored:
        _note(axes, EMPTY_NOTE if not done else "no surrogate rounds yet:\nround 0's prior samples have no prediction")
        return figure
    predicted = np.array([provenances[t.id].predicted_mean for t in scored])
    std = np.array([_predictive_std(provenances[t.id]) for t in scored])
    observed = np.array([t.value for t in scored])
    rounds = np.array([t.round for t in scored])
    axes.errorbar(predicted, observed, xerr=2 * std, fmt="none", ecolor="0.7", zorder=1)
    points = axes.scatter(predicted, observed, c=rounds, zorder=2, **_round_colours(rounds))
    _round_colour_bar(figure, points, axes)
    lo, hi = min(predicted.min(), observed.min()), max(predicted.max(), observed.max())
    axes.plot([lo, hi], [lo, hi], "k--", lw=1)
    inside = np.mean(np.abs(predicted - observed) <= 2 * std)
    axes.set_title(f"surrogate calibration ({inside:.0%} within ±2σ predictive)")
    axes.grid(alpha=0.3)
    return figure


def _points_are_2d(campaign, trials) -> bool:
    """Whether the candidates are 2-D points: the trials' shape, or the task's data when there is no trial yet."""
    if trials:
        return candidate_kind(trials[0].x.shape) == POINT_2D
    sample_data = _sample_data(campaign)
    return sample_data is not None and np.shape(sample_data(1, np.random.default_rng(0)))[1:] == (2,)


def _sample_data(campaign):
    """The task's data sampler, or None (a campaign read without its task, or a task without data)."""
    task = getattr(campaign, "task", None)
    return None if task is None else task.sample_data


def _queries_over_prior(campaign, trials) -> Figure:
    """Completed trials coloured by round, failed ones as red crosses, pending ones as hollow circles."""
    figure, axes = _figure(6.5, 6.5)
    if (sample_data := _sample_data(campaign)) is not None:
        background = sample_data(5000, np.random.default_rng(0))
        axes.scatter(background[:, 0], background[:, 1], s=2, c="0.8", label="prior data")
    xs = np.stack([t.x for t in trials]) if trials else np.zeros((0, 2))
    rounds = np.array([t.round for t in trials])
    states = np.array([str(t.state) for t in trials])
    completed = states == str(TrialState.COMPLETED)
    pending = np.isin(states, [str(s) for s in PENDING_STATES])
    failed = np.isin(states, [str(s) for s in FAILED_STATES])
    if completed.any():
        points = axes.scatter(xs[completed, 0], xs[completed, 1], c=rounds[completed], s=18, label="completed",
                              **_round_colours(rounds[completed]))
        _round_colour_bar(figure, points, axes)
    else:
        _note(axes, EMPTY_NOTE, over_data=True)
    if pending.any():
        axes.scatter(xs[pending, 0], xs[pending, 1], s=40, facecolors="none", edgecolors="black", linewidths=1.2,
                     label="pending (waiting or running)")
    if failed.any():
        axes.scatter(xs[failed, 0], xs[failed, 1], marker="x", c="red", s=28, label="failed")
    axes.set(xlabel="x1", ylabel="x2", title="queried points over the prior")
    figure.legend(loc="outside lower center", ncols=4, fontsize=8, frameon=False)
    return figure


def _image_grids(done, per_side: int = 6, max_rounds: int = 12) -> Figure:
    """One row per round (the last ``max_rounds``): its best ``per_side`` candidates, then others at random."""
    rounds = sorted({t.round for t in done})[-max_rounds:]
    rng = np.random.default_rng(0)
    widths = [1.0] * per_side + [GRID_GAP] + [1.0] * per_side  # a narrow empty column between best and others
    figure, axes = _figure((2 * per_side + GRID_GAP) * 0.9, len(rounds) * 1.0 + 0.4, nrows=len(rounds),
                           ncols=len(widths), squeeze=False, width_ratios=widths)
    for row, round_index in enumerate(rounds):
        best, others = _best_and_others(done, round_index, per_side, rng)
        cells = best + [None] * (per_side - len(best)) + [None] + others + [None] * (per_side - len(others))
        for col, trial in enumerate(cells):
            cell = axes[row, col]
            cell.set_axis_off()
            if trial is not None:
                cell.imshow(_as_picture(trial.x), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
                cell.set_title(f"{trial.value:.3g}", fontsize=6)
        axes[row, 0].text(-0.3, 0.5, f"round {round_index}", transform=axes[row, 0].transAxes, ha="right",
                          va="center", fontsize=7)
    figure.suptitle(f"per round: best {per_side} (left) and {per_side} others at random (right); titles are "
                    "observed values", fontsize=8)
    return figure


def _best_and_others(done, round_index: int, per_side: int, rng: np.random.Generator) -> tuple[list, list]:
    """A round's best ``per_side`` trials, and up to ``per_side`` of its other trials at random (never the best)."""
    ranked = sorted((t for t in done if t.round == round_index), key=lambda t: t.value, reverse=True)
    best, rest = ranked[:per_side], ranked[per_side:]
    return best, [rest[i] for i in rng.permutation(len(rest))[:per_side]]


def _as_picture(x: np.ndarray) -> np.ndarray:
    """``[C, H, W]`` or ``[H, W]`` candidate to ``[H, W]`` or ``[H, W, 3]`` in [0, 1] for imshow."""
    x = to_unit_range(x)
    if x.ndim == 3:
        x = x[0] if x.shape[0] == 1 else np.moveaxis(x, 0, -1)
    return x


def _predictive_std(provenance: Provenance) -> float:
    """The predictive std (older trials stored only the latent one)."""
    if provenance.predictive_std is not None:
        return provenance.predictive_std
    return provenance.predicted_std or 0.0


__all__ = ["write_report"]
