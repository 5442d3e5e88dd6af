"""Errors a user can hit when pointing oboptim at the wrong place, and SQLite settings."""

from __future__ import annotations

import importlib.util
import sqlite3

import numpy as np
import pytest

from oboptim import OboptimError
from oboptim.storage import (
    CURRENT_SCHEMA_VERSION,
    DEFAULT_STORAGE_URL,
    InvalidArrayError,
    InvalidStorageURL,
    NotAnOboptimDatabase,
    SchemaTooNew,
    SchemaTooOld,
    Storage,
    StorageNotFound,
    resolve_storage_url,
)


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "campaigns.db"


def _url(path) -> str:
    return f"sqlite:///{path}"


def _set_meta(path, key: str, value: str) -> None:
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE oboptim_meta SET value = ? WHERE key = ?", (value, key))
    connection.close()


def test_foreign_sqlite_database_is_refused_and_left_alone(db_path):
    with sqlite3.connect(db_path) as connection:
        connection.execute("CREATE TABLE people (name TEXT)")
    connection.close()
    with pytest.raises(NotAnOboptimDatabase, match="people"):
        Storage(_url(db_path))
    with sqlite3.connect(db_path) as connection:
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    connection.close()
    assert tables == ["people"]


@pytest.mark.parametrize("content", [b"hello, this is a text file\n" * 40, bytes(range(256)) * 16])
def test_non_database_file_is_refused(db_path, content):
    db_path.write_bytes(content)
    with pytest.raises(NotAnOboptimDatabase, match="not a readable SQLite database"):
        Storage(_url(db_path))
    assert db_path.read_bytes() == content


def test_newer_schema_version_is_refused(db_path):
    Storage(_url(db_path)).close()
    _set_meta(db_path, "schema_version", str(CURRENT_SCHEMA_VERSION + 1))
    with pytest.raises(SchemaTooNew, match=rf"newer oboptim \(schema {CURRENT_SCHEMA_VERSION + 1}, this one reads "
                                           rf"{CURRENT_SCHEMA_VERSION}\): upgrade oboptim"):
        Storage(_url(db_path))


def test_unknown_newer_revision_is_refused(db_path):
    Storage(_url(db_path)).close()
    with sqlite3.connect(db_path) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '0099_from_the_future'")
    connection.close()
    with pytest.raises(SchemaTooNew, match="upgrade oboptim"):
        Storage(_url(db_path))


def test_older_schema_asks_for_upgrade(db_path):
    Storage(_url(db_path)).close()
    _set_meta(db_path, "schema_version", "0")
    with pytest.raises(SchemaTooOld, match="oboptim upgrade --storage sqlite:///"):
        Storage(_url(db_path))


def test_other_application_is_refused(db_path):
    Storage(_url(db_path)).close()
    _set_meta(db_path, "application", "something-else")
    with pytest.raises(NotAnOboptimDatabase):
        Storage(_url(db_path))


@pytest.mark.parametrize(
    "url, message",
    [
        ("runs.db", "sqlite:///runs.db"),
        ("", "cannot parse"),
        ("nosuchdialect://host/db", "unknown database dialect"),
        ("postgresql+nosuchdriver://user@host/db", "unknown database dialect"),
    ],
)
def test_bad_urls(url, message):
    with pytest.raises(InvalidStorageURL, match=message) as raised:
        Storage(url)
    assert isinstance(raised.value, OboptimError) and "\n" not in str(raised.value)


@pytest.mark.skipif(importlib.util.find_spec("pymssql") is not None, reason="pymssql is installed")
def test_missing_driver_is_named_and_password_hidden():
    with pytest.raises(InvalidStorageURL, match="not installed") as raised:
        Storage("mssql+pymssql://user:secret@host/db")
    assert "secret" not in str(raised.value)


def test_missing_directory_is_named(tmp_path):
    missing = tmp_path / "no" / "such" / "dir"
    with pytest.raises(StorageNotFound, match="does not exist"):
        Storage(_url(missing / "c.db"))
    assert not (tmp_path / "no").exists()


def test_open_without_create_needs_an_existing_file(db_path):
    with pytest.raises(StorageNotFound):
        Storage(_url(db_path), create=False)
    assert not db_path.exists()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(db_path):
    with Storage(_url(db_path)) as storage, storage._engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 10_000
    with sqlite3.connect(db_path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw.close()


def test_writes_take_the_lock_up_front(db_path):
    from sqlalchemy import event

    statements: list[str] = []
    with Storage(_url(db_path)) as storage:
        event.listen(storage._engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
        storage.get_or_create_campaign("c", task="toy", config={}, seed=0)
    begins = [s for s in statements if s.startswith("BEGIN")]
    assert begins == ["BEGIN DEFERRED", "BEGIN IMMEDIATE"]


def test_in_memory_database_works():
    with Storage("sqlite://") as storage:
        campaign, _ = storage.get_or_create_campaign("mem", task="toy", config={}, seed=0)
        storage.add_round(campaign.id, 0, [np.zeros(2)], [{}], b"", {})
        assert storage.count_trials(campaign.id)["waiting"] == 1


def test_url_resolution(monkeypatch, tmp_path):
    monkeypatch.delenv("OBOPTIM_STORAGE", raising=False)
    assert resolve_storage_url(None) == DEFAULT_STORAGE_URL == "sqlite:///oboptim.db"
    monkeypatch.setenv("OBOPTIM_STORAGE", _url(tmp_path / "env.db"))
    assert resolve_storage_url(None) == _url(tmp_path / "env.db")
    assert resolve_storage_url(" sqlite:///explicit.db ") == "sqlite:///explicit.db"
    with Storage() as storage:
        assert storage.url == _url(tmp_path / "env.db")
    assert (tmp_path / "env.db").exists()


def test_unstorable_inputs_write_nothing(db_path):
    with Storage(_url(db_path)) as storage:
        campaign, _ = storage.get_or_create_campaign("c", task="toy", config={}, seed=0)
        with pytest.raises(TypeError, match="JSON"):
            storage.add_round(campaign.id, 0, [np.zeros(2)], [{"bad": object()}], b"", {})
        with pytest.raises(InvalidArrayError):
            storage.add_round(campaign.id, 0, [np.array(["a"])], [{}], b"", {})
        with pytest.raises(ValueError, match="provenances"):
            storage.add_round(campaign.id, 0, [np.zeros(2)], [], b"", {})
        assert storage.rounds(campaign.id) == [] and storage.trials(campaign.id) == []
