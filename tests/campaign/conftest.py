"""Fixtures shared by the campaign tests that run on both backends."""

import os

import pytest

POSTGRES_URL = os.environ.get("OBOPTIM_TEST_POSTGRES_URL")


@pytest.fixture(params=["sqlite", "postgresql"])
def storage_url(request, tmp_path):
    """A fresh SQLite file, or the PostgreSQL database CI provides (skipped, saying so, where none is set)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    if not POSTGRES_URL:
        pytest.skip("set OBOPTIM_TEST_POSTGRES_URL=postgresql://user@host/db to run this test on PostgreSQL")
    return POSTGRES_URL
