"""Asynchronous evaluation: each trial submitted as proposed, each outcome written as it returns, up to max_pending
in flight; on local worker processes and on a local Ray. Nothing is lost when the driver dies."""

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from oboptim import Campaign, TrialState
from oboptim.executors import ExecutorError, OracleRecipe, ProcessExecutor, parse_executor

pytestmark = [pytest.mark.process, pytest.mark.cluster]

HERE = Path(__file__).parent
TASK = f"{HERE.parent / 'campaign' / 'mixture_task.py'}:TASK"
ORACLE = f"{HERE / 'sleepy_oracle.py'}:oracle"


@pytest.fixture
def sleepy_log(tmp_path, monkeypatch):
    log = tmp_path / "queried.log"
    monkeypatch.setenv("SLEEPY_LOG", str(log))
    return log


def queried(log: Path) -> Counter:
    return Counter(log.read_text().split()) if log.exists() else Counter()


def test_process_executor_runs_a_campaign_with_each_trial_once(tmp_path, sleepy_log):
    c = Campaign.open("async", storage=f"sqlite:///{tmp_path / 'a.db'}", task=TASK, seed=0, batch_size=4, budget=12)
    c.run(oracle=ORACLE, executor="process:2", max_pending=3)
    trials = c.trials()
    assert c.finished_count() == 12 and all(t.state == TrialState.COMPLETED for t in trials)
    assert all(t.value == pytest.approx(-np.sum((t.x.astype(np.float64) - 4) ** 2)) for t in trials)
    counts = queried(sleepy_log)
    assert len(counts) == 12 and set(counts.values()) == {1}
    assert len({t.round for t in trials}) >= 4  # refilled as results came back, not in batches of 4
    assert c.executor_busy_seconds > 0


def test_an_executor_evaluates_out_of_order_and_reports_what_is_in_flight(sleepy_log):
    executor = ProcessExecutor(2)
    xs = {1: np.array([0.0, 0.0]), 2: np.array([1.0, 1.0]), 3: np.array([4.0, 4.0])}
    with executor:
        executor.start(OracleRecipe(spec=ORACLE))
        for trial_id, x in xs.items():
            executor.submit(trial_id, x)
        assert executor.in_flight == {1, 2, 3}
        results = {}
        deadline = time.monotonic() + 60
        while executor.in_flight and time.monotonic() < deadline:
            results.update(executor.done(timeout=1.0))
    assert {i: o.value for i, o in results.items()} == {1: -32.0, 2: -18.0, 3: 0.0}


@pytest.mark.parametrize(("spec", "message"), [("threads:4", "unknown executor"), ("process:x", "number of worker"),
                                               ("process:0", "N >= 1")])
def test_bad_executor_specs_are_one_line_errors(spec, message):
    with pytest.raises(ExecutorError, match=message):
        parse_executor(spec)


def test_an_oracle_that_cannot_travel_to_the_workers_is_refused(tmp_path):
    c = Campaign.open("x", storage=f"sqlite:///{tmp_path / 'x.db'}", task=TASK, seed=0, budget=4)
    with pytest.raises(ExecutorError, match="cannot be sent"):
        c.run(oracle=lambda x: list(np.zeros(len(x))), executor="process:2")
    with pytest.raises(ExecutorError, match="asks a person"):
        c.run(oracle="human", executor="process:2")
    assert c.trials() == []


def test_a_killed_driver_loses_nothing_and_a_resumed_run_submits_only_unfinished_trials(tmp_path):
    url = f"sqlite:///{tmp_path / 'k.db'}"
    log = tmp_path / "queried.log"
    env = {**os.environ, "SLEEPY_LOG": str(log), "SLEEPY_SCALE": "0.5"}
    command = [sys.executable, "-m", "oboptim", "run", TASK, "--name", "k", "--storage", url, "--budget", "8",
               "--batch-size", "4", "--quiet", "--oracle", ORACLE, "--executor", "process:2", "--max-pending", "3"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while sum(queried(log).values()) < 4:
        assert process.poll() is None and time.monotonic() < deadline, process.stderr.read() if process.stderr else ""
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    at_kill = {t.x.astype(np.float64).tobytes().hex(): t.value for t in Campaign.open("k", storage=url).trials()
               if t.state == TrialState.COMPLETED}
    before = queried(log)
    resumed = subprocess.run(command, env={**env, "SLEEPY_SCALE": "0.01"}, capture_output=True, text=True,
                             timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    final = Campaign.open("k", storage=url)
    assert final.finished_count() == 8
    values = {t.x.astype(np.float64).tobytes().hex(): t.value for t in final.trials()}
    assert all(values[key] == value for key, value in at_kill.items())  # nothing finished was lost or changed
    again = queried(log) - before
    assert not set(again) & set(at_kill), "a finished trial was submitted again"


def test_ray_runs_a_campaign_on_a_local_cluster(tmp_path, sleepy_log, reliability_report):
    ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'oboptim[ray]'")
    c = Campaign.open("ray", storage=f"sqlite:///{tmp_path / 'r.db'}", task=TASK, seed=0, batch_size=4, budget=8)
    try:
        c.run(oracle=ORACLE, executor="ray:2", max_pending=2)
    finally:
        if ray.is_initialized():
            ray.shutdown()
    counts = queried(sleepy_log)
    assert c.finished_count() == 8 and len(counts) == 8 and set(counts.values()) == {1}
    reliability_report(f"ray (local, 2 CPUs): {len(counts)} trials, each queried once")


def test_a_ray_worker_that_dies_loses_nothing_and_its_trial_is_queried_once(tmp_path, sleepy_log, monkeypatch,
                                                                             reliability_report):
    ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'oboptim[ray]'")
    marker = tmp_path / "died"
    monkeypatch.setenv("DIE_MARKER", str(marker))
    c = Campaign.open("ray-dies", storage=f"sqlite:///{tmp_path / 'd.db'}", task=TASK, seed=0, batch_size=4,
                      budget=8)
    try:
        c.run(oracle=f"{HERE / 'sleepy_oracle.py'}:dying_oracle", executor="ray:2", max_pending=2)
    finally:
        if ray.is_initialized():
            ray.shutdown()
    counts = queried(sleepy_log)
    assert marker.exists(), "no worker died: the test did not test anything"
    assert c.finished_count() == 8 and len(counts) == 8 and set(counts.values()) == {1}
    assert all(t.state == TrialState.COMPLETED for t in c.trials())  # the dead worker's trial was retried, not failed
    reliability_report(f"ray (local, 2 CPUs): a worker killed mid-trial, {len(counts)} trials, each queried once")
