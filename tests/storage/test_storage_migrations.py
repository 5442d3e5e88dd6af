"""Schema creation and upgrade paths: old databases kept as assets must open, read back and resume."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from oboptim.storage import CURRENT_SCHEMA_VERSION, Storage, StorageNotFound, alembic_config, upgrade
from oboptim.storage._models import Base

ASSETS = Path(__file__).parent / "assets"


def _copy_asset(name: str, tmp_path: Path) -> str:
    target = tmp_path / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ASSETS / name, target)
    return f"sqlite:///{target}"


def _alembic_revision(url: str) -> str | None:
    engine = create_engine(url)
    with engine.connect() as connection:
        revision = MigrationContext.configure(connection).get_current_revision()
    engine.dispose()
    return revision


def test_migrations_create_exactly_the_models(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    Storage(url).close()
    engine = create_engine(url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert differences == []


def test_a_single_head_matches_the_schema_version(tmp_path):
    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1
    head = script.get_revision(script.get_current_head())
    assert head.module.SCHEMA_VERSION == CURRENT_SCHEMA_VERSION
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    Storage(url).close()
    assert _alembic_revision(url) == script.get_current_head()


def test_upgrade_is_idempotent(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    with pytest.raises(StorageNotFound):
        upgrade(url)
    with Storage(url) as storage:
        campaign, _ = storage.get_or_create_campaign("c", task="toy", config={}, seed=0)
        storage.upgrade()
    upgrade(url)
    with Storage(url, create=False) as storage:
        assert storage.get_campaign("c") == campaign


def test_schema_v1_asset_reads_back_after_upgrade(tmp_path):
    url = _copy_asset("schema_v1.db", tmp_path)
    upgrade(url)
    with Storage(url, create=False) as storage:
        (campaign,) = storage.list_campaigns()
        assert (campaign.name, campaign.task, campaign.seed) == ("asset-v1", "gmm2d", 0)
        assert campaign.config == {"alpha": 0.1, "particles": 64}
        trials = storage.trials(campaign.id)
        expected_x = np.random.default_rng(0).standard_normal((7, 2)).astype(np.float32)
        assert np.array_equal(np.stack([t.x for t in trials]), expected_x)
        assert [t.state for t in trials] == [
            "completed", "completed", "failed", "abandoned", "completed", "running", "waiting"
        ]
        assert [t.value for t in trials] == [1.5, -0.25, None, None, 2.0, None, None]
        assert (trials[1].sem, trials[1].rater) == (0.1, "lab")
        assert (trials[2].error, trials[3].error) == ("instrument error", "stopped")
        assert trials[5].worker == "w1" and np.isnan(trials[0].provenance["acquisition"])
        assert [r.rng_state for r in storage.rounds(campaign.id)] == [b"round-0-state", b"round-1-state"]
        assert storage.get_round(campaign.id, 0).diagnostics["log_z"] == [0.0, -0.5]
        (snapshot,) = storage.surrogate_snapshots(campaign.id)
        assert (snapshot.round, snapshot.train_size, snapshot.hyperparameters) == (1, 2, {"lengthscale": [0.3, 0.4]})


def test_schema_v1_asset_resumes_after_upgrade(tmp_path):
    url = _copy_asset("schema_v1.db", tmp_path)
    upgrade(url)
    with Storage(url, create=False) as storage:
        campaign = storage.get_campaign("asset-v1")
        # The asset's running trial holds a lease written with the file; once it has expired it is claimed too.
        claimed = storage.claim_trials(campaign.id, "w2", lease_seconds=60)
        numbers = sorted(t.number for t in claimed)
        assert 6 in numbers and set(numbers) <= {5, 6}
        for trial in claimed:
            storage.complete_trial(trial.id, 0.75)
        (added,) = storage.add_round(campaign.id, 2, [np.ones(2, np.float32)], [{}], b"round-2", {})
        assert added.number == 7
        assert storage.count_trials(campaign.id)["completed"] == 3 + len(claimed)


def test_every_schema_version_has_its_asset():
    # On a schema change: keep the old asset, add an Alembic revision, write schema_v{N}.db with
    # scripts/make_storage_asset.py, and test that each older asset upgrades and resumes.
    assert sorted(p.name for p in ASSETS.glob("schema_v*.db")) == [
        f"schema_v{version}.db" for version in range(1, CURRENT_SCHEMA_VERSION + 1)
    ]


def test_cli_names_upgrade_for_an_old_database_and_upgrades_the_asset(tmp_path):
    import sqlite3

    from click.testing import CliRunner

    from oboptim.cli import main

    url = _copy_asset("schema_v1.db", tmp_path)
    path = tmp_path / "schema_v1.db"
    with sqlite3.connect(path) as connection:  # pretend it was written by an older schema
        connection.execute("UPDATE oboptim_meta SET value = '0' WHERE key = 'schema_version'")
    connection.close()
    refused = CliRunner().invoke(main, ["status", "--storage", url])
    assert refused.exit_code == 2 and f"run `oboptim upgrade --storage {url}`" in refused.output
    assert len(refused.output.strip().splitlines()) == 1
    # (Only one revision exists so far, so a real older file cannot be faked: upgrade the kept asset instead.)
    url = _copy_asset("schema_v1.db", tmp_path / "kept")
    upgraded = CliRunner().invoke(main, ["upgrade", "--storage", url])
    assert upgraded.exit_code == 0, upgraded.output
    status = CliRunner().invoke(main, ["status", "--storage", url])
    assert status.exit_code == 0 and status.output.startswith("asset-v1: task gmm2d"), status.output
