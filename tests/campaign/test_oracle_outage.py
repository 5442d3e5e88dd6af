"""An oracle that fails once and is cured by the retry leaves a trace (issue 19, item 10): a line on standard error
at the time, the count and the reason in `oboptim status` (line and --json) and in the round's diagnostics."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from oboptim import Campaign
from oboptim.cli import main
from oboptim.storage import Storage

pytestmark = pytest.mark.process

HERE = Path(__file__).parent
TASK = f"{HERE / 'mixture_task.py'}:TASK"
ORACLE = f"{HERE / 'offline_once.py'}:measure"


def _status(storage_url: str, name: str) -> tuple[dict, str]:
    runner = CliRunner()
    as_json = runner.invoke(main, ["status", name, "--storage", storage_url, "--json"], catch_exceptions=False)
    line = runner.invoke(main, ["status", name, "--storage", storage_url], catch_exceptions=False)
    assert as_json.exit_code == 0 and line.exit_code == 0, (as_json.output, line.output)
    return json.loads(as_json.output), line.output


def _round_0(storage_url: str, name: str) -> dict:
    with Storage(storage_url, create=False) as store:
        return store.get_round(store.get_campaign(name).id, 0).diagnostics


def test_a_campaign_whose_oracle_failed_once_says_so(storage_url, tmp_path, monkeypatch, capfd):
    monkeypatch.setenv("OFFLINE_ONCE_MARKER", str(tmp_path / "offline-once"))
    name = f"outage-{uuid.uuid4().hex[:8]}"
    campaign = Campaign.open(name, storage=storage_url, task=TASK, seed=0, batch_size=4)
    campaign.run(budget=4, oracle=ORACLE, retry_backoff=0.01)
    ids = [t.id for t in campaign.trials()]
    campaign.storage.close()
    stderr = capfd.readouterr().err
    assert (f"oracle failed on trials {ids[0]}-{ids[-1]} (" in stderr
            and "RuntimeError: instrument offline); asking again in 0.01 s (retry 1 of 2)\n" in stderr), stderr

    data, line = _status(storage_url, name)
    assert data["finished"] == 4 and data["counts"]["completed"] == 4
    assert data["retried_batches"] == 1 and "RuntimeError: instrument offline" in data["retry_reason"], data
    assert ", 1 oracle batch retried (last: " in line and "instrument offline)" in line, line
    diagnostics = _round_0(storage_url, name)
    assert diagnostics["retried_batches"] == 1 and "instrument offline" in diagnostics["retry_reason"]


def test_oboptim_run_says_when_the_oracle_failed_and_was_asked_again(storage_url, tmp_path):
    name = f"outage-run-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "OFFLINE_ONCE_MARKER": str(tmp_path / "offline-once"), "OMP_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, "-m", "oboptim", "run", TASK, "--name", name, "--storage", storage_url,
                          "--budget", "4", "--batch-size", "4", "--oracle", ORACLE, "--quiet"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    retry_lines = [line for line in run.stderr.splitlines() if line.startswith("oracle failed on trials ")]
    assert len(retry_lines) == 1, run.stderr
    assert retry_lines[0].endswith("RuntimeError: instrument offline); asking again in 1 s (retry 1 of 2)"), run.stderr
    data, _ = _status(storage_url, name)
    assert data["retried_batches"] == 1 and "instrument offline" in data["retry_reason"], data
    assert _round_0(storage_url, name)["retried_batches"] == 1


def test_an_executors_worker_says_so_too_and_its_outcome_carries_the_count_back(tmp_path, monkeypatch, capfd):
    monkeypatch.setenv("OFFLINE_ONCE_MARKER", str(tmp_path / "offline-once"))
    url = f"sqlite:///{tmp_path / 'executor.db'}"
    campaign = Campaign.open("outage-executor", storage=url, task=TASK, seed=0, batch_size=4)
    campaign.run(budget=4, oracle=ORACLE, retry_backoff=0.01, executor="process:1")
    campaign.storage.close()
    assert "RuntimeError: instrument offline); asking again in 0.01 s (retry 1 of 2)" in capfd.readouterr().err
    data, _ = _status(url, "outage-executor")
    assert data["retried_batches"] == 1 and data["counts"]["completed"] == 4, data  # one trial, one batch of one
