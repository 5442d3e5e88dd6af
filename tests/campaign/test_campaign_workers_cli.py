"""`oboptim run --name NAME --worker`: several processes work one campaign together, on SQLite and on PostgreSQL.

The test creates the campaign; three `--worker` processes join it at once and stop when its budget is finished.
The oracle logs every trial id it scores, so a trial scored twice (claimed by two workers) shows.
"""

from __future__ import annotations

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
BUDGET = 16
WORKERS = 3


def _oboptim(*args: str) -> list[str]:
    return [sys.executable, "-m", "oboptim", "run", *args, "--quiet"]


def test_workers_share_one_campaign_and_claim_each_trial_once(storage_url, tmp_path, reliability_report):
    name = f"workers-{uuid.uuid4().hex[:8]}"
    Campaign.open(name, storage=storage_url, task=TASK, seed=5, budget=BUDGET, batch_size=2).storage.close()
    log = tmp_path / "oracle.log"
    # A slow oracle: while one worker waits for it, the others propose, so every worker gets trials.
    oracle = f"sleep 0.3 && {sys.executable} {HERE / 'logging_oracle.py'} {log}"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    processes = [
        subprocess.Popen(_oboptim("--name", name, "--worker", "--storage", storage_url, "--oracle-cmd", oracle),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for _ in range(WORKERS)
    ]
    outputs = [process.communicate(timeout=300) for process in processes]
    for process, (_, stderr) in zip(processes, outputs):
        assert process.returncode == 0, stderr
        assert "database is locked" not in stderr and "Traceback" not in stderr

    with Storage(storage_url, create=False) as store:
        record = store.get_campaign(name)
        trials = store.trials(record.id)
        counts = store.count_trials(record.id)
    scored = [int(line) for line in log.read_text().split()]
    assert sorted(scored) == sorted(t.id for t in trials), "a trial was scored twice, or never"
    assert counts == {"waiting": 0, "running": 0, "completed": BUDGET, "failed": 0, "abandoned": 0}
    assert [t.number for t in trials] == list(range(BUDGET))
    workers = {t.worker for t in trials}
    assert len(workers) >= 2, f"only {workers} worked: the joiners never got a trial"
    backend = storage_url.split(":", 1)[0].split("+", 1)[0]
    reliability_report(f"run --worker ({backend}): {WORKERS} processes, {len(workers)} of them got trials, "
                       f"{len(scored)} oracle calls for {len(trials)} trials (each exactly once), "
                       f"counts {plain(counts)}")


def test_a_worker_needs_an_existing_campaign(tmp_path):
    url = f"sqlite:///{tmp_path / 'none.db'}"
    result = CliRunner().invoke(main, ["run", "--name", "nope", "--worker", "--storage", url])
    assert result.exit_code == 2 and result.output.startswith("error: ")
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert not (tmp_path / "none.db").exists()


def plain(counts):
    """``{"completed": 16, ...}``: trial states as their text, for the printed summary."""
    return {str(state): count for state, count in counts.items()}
