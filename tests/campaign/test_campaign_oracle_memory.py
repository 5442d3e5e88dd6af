"""A campaign remembers its oracle and its budget: real `oboptim run` processes on SQLite and on PostgreSQL.

The lab's oracle is a Python file that appends every value it returns (with its x) to a log, and scores about 1000,
far from the task's own reward (about -15): a trial scored by the wrong oracle shows in the database at once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest

from oboptim import Campaign
from oboptim.errors import ConfigError
from oboptim.storage import Storage

pytestmark = pytest.mark.process

HERE = Path(__file__).parent
TASK = f"{HERE / 'mixture_task.py'}:TASK"

LAB = '''
import json, time
import numpy as np


def assay(x):
    values = [1000.0 - float(np.sum((row - 4.0) ** 2)) for row in x]
    with open({log!r}, "a") as log:
        for row, value in zip(x, values):
            log.write(json.dumps({{"x": [float(v) for v in row], "value": value, "t": time.time()}}) + "\\n")
    return values

def other(x):
    return [-float(np.sum(row ** 2)) for row in x]
'''


@pytest.fixture
def lab(tmp_path):
    """(oracle file, its log)."""
    log = tmp_path / "assay.log"
    path = tmp_path / "lab.py"
    path.write_text(LAB.format(log=str(log)))
    return path, log


def oboptim(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "oboptim", *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=300)


def run(name: str, url: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return oboptim("run", *args, "--name", name, "--storage", url, "--batch-size", "4", "--quiet", cwd=cwd)


def stored(url: str, name: str):
    with Storage(url, create=False) as store:
        record = store.get_campaign(name)
        return record, store.trials(record.id)


def logged(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def assert_every_value_is_the_assays(trials, log: Path) -> None:
    """Every completed trial's value is the one the assay logged for its x (and the assay scored each x once)."""
    entries = logged(log)
    by_x = {tuple(np.round(e["x"], 5)): e["value"] for e in entries}
    assert len(by_x) == len(entries), "the assay scored an x twice"
    for trial in trials:
        key = tuple(np.round(trial.x.astype(float), 5))
        assert key in by_x, f"trial {trial.id} (value {trial.value}) was not scored by the assay"
        assert trial.value == pytest.approx(by_x[key], abs=1e-9)


def test_a_resumed_campaign_and_a_worker_score_with_the_oracle_it_was_created_with(storage_url, lab, tmp_path):
    oracle_file, log = lab
    name = f"lab-{uuid.uuid4().hex[:8]}"
    first = run(name, storage_url, TASK, "--oracle", f"{oracle_file.name}:assay", "--budget", "8", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    resumed = run(name, storage_url, TASK, "--budget", "16", cwd=tmp_path)  # no --oracle
    assert resumed.returncode == 0, resumed.stderr
    worker = run(name, storage_url, "--worker", "--budget", "24", cwd=tmp_path.parent)  # elsewhere, no --oracle
    assert worker.returncode == 0, worker.stderr

    record, trials = stored(storage_url, name)
    assert len(trials) == 24 and all(t.state == "completed" for t in trials)
    assert all(t.value > 500 for t in trials), [t.value for t in trials]
    assert len(logged(log)) == 24
    assert_every_value_is_the_assays(trials, log)
    assert record.config["oracle"] == {"kind": "file", "spec": f"{oracle_file.resolve()}:assay",
                                       "sha256": record.config["oracle"]["sha256"]}


def test_another_oracle_is_refused_in_one_line_unless_the_change_is_said(lab, tmp_path):
    # SQLite only: what is refused and recorded is decided before any backend-specific write
    storage_url = f"sqlite:///{tmp_path / 'refuse.db'}"
    oracle_file, log = lab
    name = f"lab-{uuid.uuid4().hex[:8]}"
    assert run(name, storage_url, TASK, "--oracle", f"{oracle_file}:assay", "--budget", "4", cwd=tmp_path).returncode == 0
    for args in (["--oracle", f"{oracle_file}:other"], ["--oracle-cmd", "cat"]):
        refused = run(name, storage_url, TASK, *args, "--budget", "8", cwd=tmp_path)
        assert refused.returncode == 2, refused.stderr
        lines = refused.stderr.strip().splitlines()
        assert lines[-1].startswith("error: ") and "--oracle-change" in lines[-1], refused.stderr
        assert "Traceback" not in refused.stderr
    record, trials = stored(storage_url, name)
    assert len(trials) == 4, "a refused run queried something"

    changed = run(name, storage_url, TASK, "--oracle", f"{oracle_file}:other", "--oracle-change", "--budget", "8",
                  cwd=tmp_path)
    assert changed.returncode == 0, changed.stderr
    record, trials = stored(storage_url, name)
    assert [t.value > 500 for t in trials] == [True] * 4 + [False] * 4
    (change,) = record.config["oracle_changes"]
    assert change["from"]["spec"].endswith("lab.py:assay") and change["to"]["spec"].endswith("lab.py:other")
    assert change["finished"] == 4
    # from now on the campaign remembers the new oracle
    again = run(name, storage_url, TASK, "--budget", "12", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    _, trials = stored(storage_url, name)
    assert all(t.value < 500 for t in trials[8:])
    assert len(logged(log)) == 4


def test_an_edited_oracle_file_is_another_oracle(lab, tmp_path):
    oracle_file, _ = lab
    url = f"sqlite:///{tmp_path / 'r.db'}"
    assert run("edit", url, TASK, "--oracle", f"{oracle_file}:assay", "--budget", "4", cwd=tmp_path).returncode == 0
    oracle_file.write_text(oracle_file.read_text() + "\n# recalibrated\n")
    refused = run("edit", url, TASK, "--budget", "8", cwd=tmp_path)
    assert refused.returncode == 2 and "changed" in refused.stderr and "--oracle-change" in refused.stderr
    accepted = run("edit", url, TASK, "--oracle-change", "--budget", "8", cwd=tmp_path)
    assert accepted.returncode == 0, accepted.stderr
    record, trials = stored(url, "edit")
    assert len(trials) == 8 and record.config["oracle_changes"][0]["to"]["sha256"] != \
        record.config["oracle_changes"][0]["from"]["sha256"]


def test_the_budget_of_the_last_run_is_stored_and_workers_follow_it(tmp_path):
    # SQLite only: the config update is the one the PostgreSQL test above makes for the oracle
    storage_url = f"sqlite:///{tmp_path / 'budget.db'}"
    name = f"budget-{uuid.uuid4().hex[:8]}"
    assert run(name, storage_url, TASK, "--budget", "4", cwd=tmp_path).returncode == 0
    extended = run(name, storage_url, TASK, "--budget", "8", cwd=tmp_path)
    assert extended.returncode == 0, extended.stderr
    status = json.loads(oboptim("status", name, "--storage", storage_url, "--json", cwd=tmp_path).stdout)
    assert (status["budget"], status["finished"]) == (8, 8)
    # the creator asks for more; a worker given no budget follows the stored one instead of stopping at once
    with Storage(storage_url, create=False) as store:
        store.update_campaign_config(store.get_campaign(name).id, {"budget": 12})
    worker = run(name, storage_url, "--worker", cwd=tmp_path)
    assert worker.returncode == 0, worker.stderr
    assert "finished 12 trials" in worker.stdout


def test_the_python_api_remembers_a_module_level_oracle(tmp_path):
    url = f"sqlite:///{tmp_path / 'api.db'}"
    campaign = Campaign.open("api", storage=url, task=TASK, seed=0, batch_size=4, oracle=lab_oracle)
    campaign.run(budget=4)
    assert all(t.value > 500 for t in campaign.trials())
    campaign.run(budget=8)  # no oracle: the remembered one, imported again from its module
    assert all(t.value > 500 for t in campaign.trials())
    with pytest.raises(ConfigError, match="oracle_change|--oracle-change"):
        campaign.run(budget=12, oracle=lambda x: [0.0] * len(x))
    campaign.run(budget=12, oracle=lambda x: [0.0] * len(x), oracle_change=True)
    assert [t.value for t in campaign.trials()[8:]] == [0.0] * 4
    with pytest.raises(ConfigError, match="cannot be found again"):
        campaign.run(budget=16)  # a lambda cannot be rebuilt from its name


def lab_oracle(x):
    return [1000.0 - float(np.sum((row - 4.0) ** 2)) for row in x]
