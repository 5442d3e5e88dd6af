"""Shared test settings and fixtures, and the reliability counts that CI prints at the end of a run."""

import os
import signal

import pytest
import torch

# A shell that starts the suite in the background without job control (`make test &`) hands it SIGINT ignored,
# which Python keeps and every child inherits; the Ctrl-C tests need the default disposition of an interactive run.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# The suite's tensors are small: one intra-op thread avoids thread hand-off overhead that dominates on a shared
# 2-core machine (measured: 10x slower small matmul loops with 2 threads under load).
torch.set_num_threads(1)

_RELIABILITY_LINES: list[str] = []
POSTGRES_URL = os.environ.get("OBOPTIM_TEST_POSTGRES_URL")


@pytest.fixture(params=["sqlite", "postgresql"])
def storage_url(request, tmp_path):
    """A fresh SQLite file, or the PostgreSQL database CI provides (skipped, saying so, where none is set); for the
    tests that run on both backends (a class of tests/storage defines its own)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    if not POSTGRES_URL:
        pytest.skip("set OBOPTIM_TEST_POSTGRES_URL=postgresql://user@host/db to run this test on PostgreSQL")
    return POSTGRES_URL


@pytest.fixture
def reliability_report():
    """``report(line)`` adds a line to the "reliability counts" section of the run's summary (e.g. crash points)."""
    return _RELIABILITY_LINES.append


def pytest_terminal_summary(terminalreporter):
    if _RELIABILITY_LINES:
        terminalreporter.section("reliability counts")
        for line in _RELIABILITY_LINES:
            terminalreporter.write_line(line)
