"""CampaignView: what reading commands see of a stored campaign, without its task or its kinds' code."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from click.testing import CliRunner

from oboptim import Campaign, CampaignSettings
from oboptim._view import CampaignView
from oboptim.cli import main
from oboptim.errors import ConfigError
from oboptim.storage import Storage


def _stored(url: str, name: str, xs: list[np.ndarray], values: list[float], **settings) -> None:
    """A campaign written directly: its settings (kinds need not be registered here), one round, its values."""
    config = CampaignSettings().to_stored(budget=8)
    config["settings"].update(settings)
    with Storage(url) as store:
        campaign, _ = store.get_or_create_campaign(name, task="gmm2d", config=config, seed=0)
        trials = store.add_round(campaign.id, 0, xs, [{}] * len(xs), b"", {"source": "prior"})
        for trial, value in zip(trials, values):
            store.complete_trial(trial.id, value)


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def url(tmp_path):
    return f"sqlite:///{tmp_path / 'view.db'}"


def test_a_campaign_with_a_plugin_kind_is_listed_exported_and_reported(url, tmp_path):
    # the README's `lcb`: registered by the user's module in the process that ran it, unknown to this one
    _stored(url, "careful", [np.zeros(3), np.ones(3)], [1.0, 2.0], acquisition="lcb", select_acquisition="lcb")
    _stored(url, "plain", [np.zeros(3)], [0.5])
    listed = invoke("status", "--storage", url)
    assert listed.exit_code == 0, listed.output
    assert [line.split(":")[0] for line in listed.output.splitlines()] == ["careful", "plain"]
    as_json = invoke("status", "--json", "--storage", url)
    assert as_json.exit_code == 0 and [json.loads(line)["name"] for line in as_json.output.splitlines()] == [
        "careful", "plain"]
    exported = invoke("export", "careful", "--storage", url)
    assert exported.exit_code == 0 and len(list(csv.DictReader(io.StringIO(exported.output)))) == 2
    reported = invoke("report", "careful", "--out", tmp_path / "report", "--storage", url)
    assert reported.exit_code == 0 and (tmp_path / "report" / "rounds.txt").exists(), reported.output
    view = CampaignView.open("careful", url)
    assert view.settings.acquisition == "lcb" and type(view.settings) is CampaignSettings
    view.storage.close()
    with pytest.raises(ConfigError, match="acquisition must be one of .*got 'lcb'"):
        Campaign.open("careful", storage=url)  # running it still needs the kind registered


def test_reading_settings_without_kind_checks_still_checks_everything_else():
    config = CampaignSettings().to_stored()
    config["settings"].update(acquisition="lcb", alpha=-1.0)
    with pytest.raises(ConfigError, match="alpha must be a positive number"):
        CampaignSettings.from_stored(config, check_kinds=False)
    config["settings"]["alpha"] = 1
    read = CampaignSettings.from_stored(config, check_kinds=False)
    assert type(read) is CampaignSettings and read.alpha == 1.0 and isinstance(read.alpha, float)
    with pytest.raises(ConfigError, match="got 'lcb'"):
        read.replace(beta=1.0)  # a changed copy is a new setting, checked in full


def test_status_json_shows_the_best_x_of_a_vector_campaign_but_not_of_an_image_one(url):
    _stored(url, "points", [np.array([0.5, -1.25], np.float32), np.array([3.0, 4.0], np.float32)], [1.0, 2.0])
    _stored(url, "pictures", [np.zeros((2, 2)), np.ones((2, 2))], [1.0, 2.0])
    lines = [json.loads(line) for line in invoke("status", "--json", "--storage", url).output.splitlines()]
    assert lines[0]["best"]["x"] == [3.0, 4.0]
    assert "x" not in lines[1]["best"]
    assert invoke("status", "points", "--storage", url).output.count("[") == 0  # the line stays short
