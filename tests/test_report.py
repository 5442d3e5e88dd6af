"""`oboptim report`: what each plot shows, looked at through its matplotlib figure, on campaigns in SQLite files."""

import numpy as np
import pytest

from oboptim import Campaign, Provenance, RoundDiagnostics, write_report
from oboptim._report import EMPTY_NOTE, report_figures
from oboptim.storage import TrialState

ROUND_SIZES = (8, 6, 6, 6)


def add_round(campaign, round_index, xs, provenance=None):
    return campaign.storage.add_round(campaign.id, round_index, list(xs), [provenance or {}] * len(xs), b"", {})


def texts_of(figure) -> str:
    """Every text written on the figure, on its axes or under them."""
    texts = [*figure.texts, *(text for axes in figure.axes for text in axes.texts)]
    return "\n".join(text.get_text() for text in texts)


@pytest.fixture
def points(tmp_path):
    """A gmm2d campaign: round 0's prior samples score -20 to 0, rounds 1-3 score -0.5 to 0.3 (as a real one does);
    round 4 holds a completed, a failed, a running, an abandoned and a waiting trial."""
    campaign = Campaign.open("points", storage=f"sqlite:///{tmp_path / 'points.db'}", task="gmm2d", seed=0)
    rng = np.random.default_rng(0)
    predicted = Provenance(predicted_mean=0.0, predictive_std=0.3).to_json()
    for round_index, size in enumerate(ROUND_SIZES):
        trials = add_round(campaign, round_index, rng.normal(size=(size, 2)), None if round_index == 0 else predicted)
        low, high = (-20.0, 0.0) if round_index == 0 else (-0.5, 0.3)
        for trial in trials:
            campaign.tell(trial.id, float(rng.uniform(low, high)))
    last = add_round(campaign, 4, rng.normal(size=(5, 2)) + 10.0, predicted)  # far from the rest: easy to find
    campaign.tell(last[0].id, 0.1)
    campaign.fail(last[1].id, "sample spilled")
    campaign.storage.claim_trials(campaign.id, "host:1", lease_seconds=60, limit=1)  # the first waiting: last[2]
    campaign.storage.abandon_trial(last[3].id, "worker gone")
    yield campaign, last
    campaign.storage.close()


def figure_named(campaign, name):
    return dict(report_figures(campaign))[name]


def test_rewards_per_round_follows_the_later_rounds_and_marks_round_0_beyond_the_axis(points):
    campaign, _ = points
    axes = figure_named(campaign, "rewards_per_round.png").axes[0]
    low, high = axes.get_ylim()
    later = [t.value for t in campaign.trials(states=[TrialState.COMPLETED]) if t.round > 0]
    assert low <= min(later) and max(later) <= high
    assert high - low < 2.0  # not stretched to round 0's -20
    marks = texts_of(axes.figure)
    assert "▼" in marks and "beyond the axis" in marks


def test_round_colour_bars_have_whole_number_ticks(points):
    campaign, _ = points
    for name in ("queries.png", "calibration.png"):
        figure = figure_named(campaign, name)
        colour_bar = figure.axes[-1]
        assert colour_bar.get_ylabel() == "round", name
        low, high = colour_bar.get_ylim()
        ticks = [tick for tick in colour_bar.get_yticks() if low <= tick <= high]
        assert ticks and all(float(tick).is_integer() for tick in ticks), (name, ticks)


def collection_labelled(axes, label):
    found = [c for c in axes.collections if c.get_label() == label]
    assert len(found) == 1, [c.get_label() for c in axes.collections]
    return found[0]


def test_queries_draws_pending_trials_hollow_and_failed_ones_as_crosses(points):
    campaign, last = points
    axes = figure_named(campaign, "queries.png").axes[0]
    by_id = {t.id: t for t in campaign.trials()}
    completed = collection_labelled(axes, "completed")
    offsets = {tuple(np.round(p, 5)) for p in completed.get_offsets()}
    assert tuple(np.round(by_id[last[0].id].x, 5)) in offsets
    assert len(offsets) == sum(ROUND_SIZES) + 1  # the completed trials only
    pending = collection_labelled(axes, "pending (waiting or running)")
    assert [by_id[t.id].state for t in last[2:]] == [TrialState.RUNNING, TrialState.ABANDONED, TrialState.WAITING]
    pending_points = {tuple(np.round(p, 5)) for p in pending.get_offsets()}
    assert pending_points == {tuple(np.round(by_id[t.id].x, 5)) for t in (last[2], last[4])}
    assert all(face[3] == 0 for face in pending.get_facecolors())  # hollow
    failed = collection_labelled(axes, "failed")
    failed_points = {tuple(np.round(p, 5)) for p in failed.get_offsets()}
    assert failed_points == {tuple(np.round(by_id[t.id].x, 5)) for t in (last[1], last[3])}


@pytest.mark.parametrize("pending", [0, 3])
def test_an_empty_campaign_says_so_on_every_plot(tmp_path, pending):
    campaign = Campaign.open("empty", storage=f"sqlite:///{tmp_path / 'empty.db'}", task="gmm2d", seed=0)
    if pending:
        add_round(campaign, 0, np.zeros((pending, 2)))
    figures = dict(report_figures(campaign))
    assert {"best_so_far.png", "rewards_per_round.png", "calibration.png", "queries.png"} <= set(figures)
    for name, figure in figures.items():
        assert EMPTY_NOTE in texts_of(figure), name
    paths = write_report(campaign, tmp_path / "report")
    assert sorted(p.name for p in paths) == sorted([*figures, "rounds.txt"])
    assert all(p.stat().st_size > 5000 for p in paths if p.suffix == ".png")
    campaign.storage.close()


def square_at(place: int) -> np.ndarray:
    """A 16x16 image, dark with one bright pixel at ``place``: every candidate is a different picture."""
    x = np.full((1, 16, 16), -1.0, dtype=np.float32)
    x.reshape(-1)[place] = 1.0
    return x


def test_image_campaign_grid_draws_its_random_sample_from_outside_the_best(tmp_path):
    c = Campaign.open("img", storage=f"sqlite:///{tmp_path / 'img.db'}", task="digits", seed=0)
    rng = np.random.default_rng(0)
    for round_index, count in enumerate((8, 3, 13)):
        places = rng.choice(256, size=count, replace=False)
        for trial in add_round(c, round_index, [square_at(p) for p in places]):
            c.tell(trial.id, float(rng.normal()))
    figures = dict(report_figures(c))
    assert "images_per_round.png" in figures and "queries.png" not in figures
    grid = figures["images_per_round.png"]
    rows = {}
    for axes in grid.axes:
        if axes.images:
            row = round(axes.get_position().y0, 3)
            rows.setdefault(row, []).append(axes.images[0].get_array().tobytes())
    assert sorted(len(cells) for cells in rows.values()) == [3, 8, 12]  # 6 best + the other 2; 3 + none; 6 + 6
    for cells in rows.values():
        assert len(set(cells)) == len(cells)  # no picture twice in a row
    paths = {p.name: p for p in write_report(c, tmp_path / "report")}
    assert paths["images_per_round.png"].stat().st_size > 5000
    c.storage.close()


def test_rounds_txt_says_how_each_round_was_proposed(tmp_path):
    """The alpha shown is in the oracle's units (alpha * alpha_scale); rounds stored before a field existed show -."""
    campaign = Campaign.open("rounds", storage=f"sqlite:///{tmp_path / 'rounds.db'}", task="gmm2d", seed=0)
    storage = campaign.storage
    storage.add_round(campaign.id, 0, [np.zeros(2)], [{}], b"", RoundDiagnostics(source="prior").to_json())
    storage.add_round(campaign.id, 1, [np.ones(2)], [{}], b"", {"source": "smc", "alpha": 1.0, "alpha_scale": 1.0,
                                                                 "acquisition": "ucb"})  # an old round
    new = RoundDiagnostics(source="smc", alpha=0.02, alpha_scale=50.0, acquisition="mean", selection="sequential",
                           batch_spread=1.25, manifold_dropped=7)
    storage.add_round(campaign.id, 2, [np.full(2, 2.0)], [{}], b"", new.to_json())
    paths = {p.name: p for p in write_report(campaign, tmp_path / "report")}
    lines = paths["rounds.txt"].read_text().splitlines()
    assert lines[0].split() == ["round", "source", "acquisition", "selection", "alpha", "spread", "dropped"]
    assert lines[1].split() == ["0", "prior", "prior", "samples"]
    assert lines[2].split() == ["1", "smc", "ucb", "-", "1", "-", "-"]
    assert lines[3].split() == ["2", "smc", "mean", "sequential", "1", "1.25", "7"]  # 0.02 std x 50 = 1 oracle unit
    storage.close()


def test_a_sequence_campaigns_report_counts_its_failed_trials_and_shows_round_notes(tmp_path):
    """A sequence report has no query map (where the 2-D one draws failed trials as crosses): the values per round
    count each round's failed (here: infeasible) trials instead, and rounds.txt shows a short round's note."""
    options = {"num_states": 4, "length": 6, "num_motifs": 1, "motif_length": 3, "quantization": 3}
    campaign = Campaign.open("seq", storage=f"sqlite:///{tmp_path / 'seq.db'}", task="ehrlich", task_options=options)
    storage = campaign.storage
    rng = np.random.default_rng(0)
    note = "proposed 3 of 4: no other new sequence found (1 from the sampler, 2 from 256 more prior draws)"
    for round_index, diagnostics in enumerate([RoundDiagnostics(source="prior"),
                                               RoundDiagnostics(source="smc", acquisition="ucb", note=note)]):
        trials = storage.add_round(campaign.id, round_index, list(rng.integers(0, 4, size=(4, 6))), [{}] * 4, b"",
                                   diagnostics.to_json())
        for trial in trials[:2]:
            campaign.tell(trial.id, float(rng.uniform()))
        for trial in trials[2:] if round_index == 0 else trials[2:3]:
            campaign.fail(trial.id, "infeasible")
    assert "queries.png" not in dict(report_figures(campaign))
    figure = figure_named(campaign, "rewards_per_round.png")
    assert figure.axes[0].get_title() == "observed values per round (3 failed, ✗)"
    marks = [text.get_text() for text in figure.axes[0].texts]
    assert "✗ 2" in marks and "✗ 1" in marks
    paths = {p.name: p for p in write_report(campaign, tmp_path / "report")}
    lines = paths["rounds.txt"].read_text().splitlines()
    assert lines[1].endswith("prior samples") and lines[2].endswith(f"  note: {note}")
    storage.close()
