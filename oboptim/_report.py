"""PNG plots of a campaign: progress, per-round rewards, where it queried, and surrogate calibration."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from oboptim._records import Provenance
from oboptim.images._pictures import IMAGE, candidate_kind, to_unit_range
from oboptim.storage._records import TrialState


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    return plt


def write_report(campaign, out_dir: Path | str) -> list[Path]:
    """Write the campaign's plots into ``out_dir`` and return their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    trials = campaign.trials()
    done = [t for t in trials if t.state == TrialState.COMPLETED]
    plt = _pyplot()
    paths = [
        _best_so_far(plt, campaign, trials, out / "best_so_far.png"),
        _rewards_per_round(plt, campaign, done, out / "rewards_per_round.png"),
        _calibration(plt, campaign, done, out / "calibration.png"),
    ]
    if done and done[0].x.size == 2:
        paths.append(_queries_over_prior(plt, campaign, trials, out / "queries.png"))
    if done and _is_image(done[0].x.shape):
        paths.append(_image_grids(plt, done, out / "images_per_round.png"))
    return paths


def _is_image(shape: tuple[int, ...]) -> bool:
    return candidate_kind(shape) == IMAGE


def _as_picture(x: np.ndarray) -> np.ndarray:
    """``[C, H, W]`` or ``[H, W]`` candidate to ``[H, W]`` or ``[H, W, 3]`` in [0, 1] for imshow."""
    x = to_unit_range(x)
    if x.ndim == 3:
        x = x[0] if x.shape[0] == 1 else np.moveaxis(x, 0, -1)
    return x


def _image_grids(plt, done, path: Path, per_side: int = 6, max_rounds: int = 12) -> Path:
    """One row per round (the last ``max_rounds``): its best ``per_side`` candidates, then a random sample."""
    rounds = sorted({t.round for t in done})[-max_rounds:]
    rng = np.random.default_rng(0)
    fig, axes = plt.subplots(len(rounds), 2 * per_side, figsize=(2 * per_side * 0.9, len(rounds) * 1.0 + 0.4),
                             squeeze=False)
    for row, round_index in enumerate(rounds):
        members = [t for t in done if t.round == round_index]
        best = sorted(members, key=lambda t: t.value, reverse=True)[:per_side]
        sample = [members[i] for i in rng.permutation(len(members))[:per_side]]
        cells = best + [None] * (per_side - len(best)) + sample + [None] * (per_side - len(sample))
        for col, trial in enumerate(cells):
            ax = axes[row, col]
            ax.set_axis_off()
            if trial is not None:
                ax.imshow(_as_picture(trial.x), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
                ax.set_title(f"{trial.value:.3g}", fontsize=6)
        axes[row, 0].text(-0.3, 0.5, f"round {round_index}", transform=axes[row, 0].transAxes, ha="right",
                          va="center", fontsize=7)
    fig.suptitle(f"per round: best {per_side} (left) and a random {per_side} (right); titles are observed values",
                 fontsize=8)
    return _save(fig, path)


def _best_so_far(plt, campaign, trials, path: Path) -> Path:
    finished = [t for t in trials if t.state in (TrialState.COMPLETED, TrialState.FAILED)]
    finished.sort(key=lambda t: (t.finished_at is None, t.finished_at, t.number))
    values = np.array([t.value if t.state == TrialState.COMPLETED else -np.inf for t in finished], dtype=float)
    best = np.maximum.accumulate(values) if len(values) else values
    fig, ax = plt.subplots(figsize=(6, 4))
    shown = np.where(np.isfinite(best), best, np.nan)
    ax.plot(np.arange(1, len(best) + 1), shown, drawstyle="steps-post")
    ax.set(xlabel="queries", ylabel="best value so far", title=f"{campaign.name}: best so far")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def _rewards_per_round(plt, campaign, done, path: Path) -> Path:
    rounds = sorted({t.round for t in done})
    data = [[t.value for t in done if t.round == r] for r in rounds]
    fig, ax = plt.subplots(figsize=(6, 4))
    if data:
        ax.boxplot(data, positions=rounds, widths=0.6)
    ax.set(xlabel="round", ylabel="observed value", title="observed values per round")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def _calibration(plt, campaign, done, path: Path) -> Path:
    provenances = {t.id: Provenance.from_json(t.provenance) for t in done}
    scored = [t for t in done if provenances[t.id].has_prediction]
    fig, ax = plt.subplots(figsize=(5, 5))
    if scored:
        predicted = np.array([provenances[t.id].predicted_mean for t in scored])
        std = np.array([_predictive_std(provenances[t.id]) for t in scored])
        observed = np.array([t.value for t in scored])
        rounds = np.array([t.round for t in scored])
        ax.errorbar(predicted, observed, xerr=2 * std, fmt="none", ecolor="0.7", zorder=1)
        points = ax.scatter(predicted, observed, c=rounds, cmap="viridis", zorder=2)
        fig.colorbar(points, ax=ax, label="round")
        lo, hi = min(predicted.min(), observed.min()), max(predicted.max(), observed.max())
        ax.plot([lo, hi], [lo, hi], "k--", lw=1)
        inside = np.mean(np.abs(predicted - observed) <= 2 * std)
        ax.set_title(f"surrogate calibration ({inside:.0%} within ±2σ predictive)")
    else:
        ax.set_title("surrogate calibration (no surrogate rounds yet)")
    ax.set(xlabel="predicted mean", ylabel="observed")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def _queries_over_prior(plt, campaign, trials, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6, 6))
    task = campaign.task  # None when the report reads the campaign without its task
    if task is not None and task.sample_data is not None:
        background = task.sample_data(5000, np.random.default_rng(0))
        ax.scatter(background[:, 0], background[:, 1], s=2, c="0.8", label="prior data")
    xs = np.stack([t.x for t in trials])
    rounds = np.array([t.round for t in trials])
    failed = np.array([t.state == TrialState.FAILED for t in trials])
    points = ax.scatter(xs[~failed, 0], xs[~failed, 1], c=rounds[~failed], cmap="viridis", s=18, label="queried")
    if failed.any():
        ax.scatter(xs[failed, 0], xs[failed, 1], marker="x", c="red", s=24, label="failed")
    fig.colorbar(points, ax=ax, label="round")
    ax.set(xlabel="x1", ylabel="x2", title="queried points over the prior")
    ax.legend(loc="best")
    return _save(fig, path)


def _predictive_std(provenance: Provenance) -> float:
    """The predictive std (older trials stored only the latent one)."""
    if provenance.predictive_std is not None:
        return provenance.predictive_std
    return provenance.predicted_std or 0.0


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    fig.clf()
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


__all__ = ["write_report"]
