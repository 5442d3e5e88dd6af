"""CampaignSettings: validated once, stored as JSON with its schema, resolved in layers; old campaigns still open."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from oboptim import Campaign, CampaignSettings, ConfigError, RoundDiagnostics, TrialState
from oboptim._settings import SETTINGS_SCHEMA
from oboptim.sampling import SMCConfig
from oboptim.storage import Storage, upgrade

ASSETS = Path(__file__).parent / "storage" / "assets"


def test_layers_library_then_task_then_user():
    settings = CampaignSettings.resolve({"alpha": 0.05, "particles": 32, "budget": 96}, {"particles": 8, "beta": None})
    assert (settings.alpha, settings.particles, settings.beta) == (0.05, 8, 2.0)


@pytest.mark.parametrize(("changes", "message"), [
    ({"particles": 0}, "particles must be a positive integer"),
    ({"particles": 2.5}, "particles must be a positive integer"),
    ({"alpha": float("inf")}, "alpha must be a positive number"),
    ({"beta": -1}, "beta must be a number >= 0"),
    ({"ess_threshold": 1.5}, r"ess_threshold must be a number in \[0, 1\]"),
    ({"guidance": "yes"}, "guidance must be true or false"),
    ({"alpha_units": "kelvin"}, "alpha_units must be one of oracle, std"),
    ({"task_options": {"prompt": ["a", "b"]}}, "task_options must map names"),
])
def test_bad_values_are_one_line_errors(changes, message):
    with pytest.raises(ConfigError, match=message):
        CampaignSettings(**changes)


def test_unknown_keys_are_named_in_either_layer():
    with pytest.raises(ConfigError, match="unknown setting.*alhpa.*the task's defaults"):
        CampaignSettings.resolve({"alhpa": 1.0}, {})
    with pytest.raises(ConfigError, match="unknown setting.*partciles"):
        CampaignSettings.resolve({}, {"partciles": 3})


def test_stored_form_round_trips_with_its_schema_and_the_budget_beside_it():
    settings = CampaignSettings(alpha=0.1, task_options={"prompt": "a cat"})
    stored = settings.to_stored(budget=64)
    assert stored["schema"] == SETTINGS_SCHEMA and stored["budget"] == 64
    assert CampaignSettings.from_stored(stored) == settings
    with pytest.raises(ConfigError, match="newer than this oboptim"):
        CampaignSettings.from_stored({"schema": SETTINGS_SCHEMA + 1, "settings": {}})


def test_a_schema_1_config_keeps_the_behaviour_it_was_created_with():
    flat = {"alpha": 0.3, "particles": 16, "budget": 40, "surrogate": "gp"}  # written before typed settings
    settings = CampaignSettings.from_stored(flat)
    assert (settings.alpha, settings.particles, settings.alpha_units, settings.selection) == (0.3, 16, "oracle",
                                                                                               "resample")


def test_equal_values_of_another_type_are_not_a_change():
    settings = CampaignSettings(alpha=1.0, beta=2.0)
    assert settings.differences({"alpha": 1, "beta": 2.0, "particles": None}) == {}
    assert settings.differences({"alpha": 0.5}) == {"alpha": (1.0, 0.5)}


def test_the_sampler_config_is_derived():
    settings = CampaignSettings(particles=12, steps=30, alpha=0.2, resampling="systematic", tempering="adaptive")
    assert settings.smc_config(particle_batch_size=4) == SMCConfig(
        num_particles=12, num_steps=30, alpha=0.2, resampling="systematic", tempering="adaptive",
        particle_batch_size=4)
    assert settings.smc_config(alpha=0.05).alpha == 0.05


def test_a_campaign_written_by_the_previous_version_opens_and_resumes(tmp_path):
    """tests/storage/assets/schema_v1.db: campaign "asset-v1" (gmm2d) stored its settings as a flat dict."""
    path = tmp_path / "old.db"
    shutil.copy(ASSETS / "schema_v1.db", path)
    url = f"sqlite:///{path}"
    upgrade(url)
    campaign = Campaign.open("asset-v1", storage=url)
    assert (campaign.settings.alpha, campaign.settings.particles, campaign.settings.alpha_units) == (0.1, 64, "oracle")
    done = campaign.finished_count()
    with Storage(url) as storage:  # the asset's running trial was held by a worker long gone
        for trial in storage.trials(campaign.id, states=[TrialState.RUNNING]):
            storage.release_trial(trial.id)
    campaign = Campaign.open("asset-v1", storage=url, steps=None)
    campaign.settings = campaign.settings.replace(steps=10)  # a cheap round; the stored settings are unchanged
    campaign.run(budget=done + 4, oracle=lambda x: list(-np.sum(np.asarray(x) ** 2, axis=-1)))
    assert campaign.finished_count() >= done + 4
    assert Campaign.open("asset-v1", storage=url).settings.steps == 100


def test_a_new_campaign_without_flags_gets_the_library_defaults(tmp_path):
    """The default chosen by bench/defaults_research.md: greedy mean tilt, alpha 0.02 std, 32 x 50, sequential UCB
    on the best half, manifold check at 2%. A toy task pins none of them."""
    campaign = Campaign.open("fresh", storage=f"sqlite:///{tmp_path / 'new.db'}", task="gmm2d")
    settings = campaign.settings
    assert (settings.acquisition, settings.alpha, settings.alpha_units) == ("mean", 0.02, "std")
    assert (settings.particles, settings.steps) == (32, 50)
    assert (settings.selection, settings.select_acquisition, settings.top_fraction) == ("sequential", "ucb", 0.5)
    assert settings.manifold_check == 2.0
    stored = campaign.storage.get_campaign("fresh").config
    assert stored["schema"] == SETTINGS_SCHEMA == 4 and stored["settings"]["manifold_check"] == 2.0


def test_a_schema_2_config_fills_the_new_keys_with_their_legacy_values():
    stored = {"schema": 2, "settings": {"acquisition": "ucb", "alpha": 0.05, "alpha_units": "std", "particles": 8,
                                        "steps": 10, "selection": "top"}, "budget": 16}
    settings = CampaignSettings.from_stored(stored)
    assert (settings.acquisition, settings.alpha, settings.selection) == ("ucb", 0.05, "top")  # as stored
    assert (settings.manifold_check, settings.select_acquisition, settings.top_fraction) == (0.0, "", 0.5)
    assert CampaignSettings.from_stored(settings.to_stored()) == settings  # written back as schema 4, unchanged


def test_a_schema_2_campaign_resumes_with_its_old_behaviour(tmp_path):
    """tests/storage/assets/campaign_schema_v1.db: "asset-0001" (gmm2d) stored schema-2 settings (ucb, alpha 0.05
    std, 8 x 10, selection resample) before manifold_check and sequential selection existed."""
    path = tmp_path / "old.db"
    shutil.copy(ASSETS / "campaign_schema_v1.db", path)
    url = f"sqlite:///{path}"
    upgrade(url)
    campaign = Campaign.open("asset-0001", storage=url)
    settings = campaign.settings
    assert (settings.acquisition, settings.alpha, settings.alpha_units) == ("ucb", 0.05, "std")
    assert (settings.particles, settings.steps, settings.selection) == (8, 10, "resample")
    assert (settings.manifold_check, settings.select_acquisition) == (0.0, "")
    with pytest.raises(ConfigError, match="manifold_check"):  # a new default is not a change of the campaign...
        Campaign.open("asset-0001", storage=url, manifold_check=2.0)  # ...but asking for one is
    rounds_before = campaign.storage.count_rounds(campaign.id)
    campaign.run(oracle=lambda x: list(-np.sum((np.asarray(x) - 4.0) ** 2, axis=-1) / 2))
    new_rounds = [r for r in campaign.storage.rounds(campaign.id) if r.round >= rounds_before]
    assert new_rounds
    for record in new_rounds:
        diagnostics = RoundDiagnostics.from_json(record.diagnostics)
        assert (diagnostics.acquisition, diagnostics.selection, diagnostics.manifold_dropped) == ("ucb", "resample", 0)


@pytest.mark.parametrize(("changes", "message"), [
    ({"top_fraction": 1.5}, "top_fraction must be a number in"),
    ({"manifold_check": 100}, "manifold_check must be a percentile"),
    ({"manifold_check": -1}, "manifold_check must be a percentile"),
    ({"select_acquisition": "nope"}, "select_acquisition must be one of"),
])
def test_the_new_settings_are_checked_with_one_line_errors(changes, message):
    with pytest.raises(ConfigError, match=message) as caught:
        CampaignSettings(**changes)
    assert "\n" not in str(caught.value)


def test_a_schema_3_config_reads_with_the_warm_start_off():
    stored = {"schema": 3, "settings": {"acquisition": "mean", "alpha": 0.02, "particles": 32, "steps": 50,
                                        "manifold_check": 2.0}, "budget": 16}
    settings = CampaignSettings.from_stored(stored)
    assert (settings.warm_start, settings.warm_start_seeds) == (0.0, 10)
    assert settings.manifold_check == 2.0 and settings.particles == 32
    assert CampaignSettings.from_stored(settings.to_stored()) == settings


@pytest.mark.parametrize("changes, message", [
    ({"warm_start": 1.0}, "warm_start must be a fraction"),
    ({"warm_start": -0.1}, "warm_start must be a fraction"),
    ({"warm_start_seeds": 0}, "warm_start_seeds must be a positive integer"),
])
def test_warm_start_settings_are_validated(changes, message):
    with pytest.raises(ConfigError, match=message):
        CampaignSettings(**changes)
