"""The storage conformance suite on a SQLite file, and (when configured) on PostgreSQL."""

from __future__ import annotations

import os

import pytest

from oboptim.testing import StorageConformance

POSTGRES_URL = os.environ.get("OBOPTIM_TEST_POSTGRES_URL")


class TestSQLiteStorage(StorageConformance):
    @pytest.fixture
    def storage_url(self, tmp_path):
        return f"sqlite:///{tmp_path / 'suite.db'}"


@pytest.mark.skipif(
    not POSTGRES_URL,
    reason="set OBOPTIM_TEST_POSTGRES_URL=postgresql://user:password@host/db to run the storage suite on PostgreSQL",
)
class TestPostgresStorage(StorageConformance):
    @pytest.fixture
    def storage_url(self):
        return POSTGRES_URL
