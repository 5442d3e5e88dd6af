"""Exactly once across machines: a slow oracle keeps its trials through heartbeats; a dead worker's trials are
re-queued after the grace period and queried once more, exactly once. On SQLite and PostgreSQL.

Workers are real `oboptim run` processes; each reports its own host name (OBOPTIM_HOSTNAME), so the dead worker's
trials can only come back through its lease, as when its machine is lost.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from oboptim import Campaign, TrialState

pytestmark = pytest.mark.process

HERE = Path(__file__).parent
TASK = f"{HERE / 'mixture_task.py'}:TASK"
GRACE = 1.0  # seconds after the last heartbeat
HEARTBEAT = 0.2


def start_worker(url: str, name: str, host: str, log: Path, oracle_seconds: float) -> subprocess.Popen:
    command = [sys.executable, "-m", "oboptim", "run", "--name", name, "--storage", url, "--worker", "--quiet",
               "--grace", str(GRACE), "--heartbeat", str(HEARTBEAT),
               "--oracle-cmd", f"{sys.executable} {HERE / 'slow_oracle.py'}", "--oracle-timeout", "600"]
    # one oracle command for the campaign (it remembers it); each worker's log and pace come in its environment
    env = {**os.environ, "OBOPTIM_HOSTNAME": host, "SLOW_ORACLE_LOG": str(log),
           "SLOW_ORACLE_SECONDS": str(oracle_seconds)}
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_lines(log: Path, count: int, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while (len(log.read_text().split()) if log.exists() else 0) < count:
        assert process.poll() is None, process.communicate()[1]
        assert time.monotonic() < deadline, "the oracle was never called"
        time.sleep(0.02)


def new_campaign(url: str, budget: int) -> str:
    name = f"beat-{uuid.uuid4().hex[:8]}"
    Campaign.open(name, storage=url, task=TASK, seed=1, batch_size=2, budget=budget, particles=8,
                  steps=10).storage.close()
    return name


def test_an_oracle_three_times_slower_than_the_grace_period_keeps_its_trials(storage_url, tmp_path,
                                                                              reliability_report):
    name = new_campaign(storage_url, budget=4)
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    first = start_worker(storage_url, name, "host-a", logs[0], oracle_seconds=3 * GRACE)
    wait_for_lines(logs[0], 2, first)  # A's slow oracle is at work on round 0
    second = start_worker(storage_url, name, "host-b", logs[1], oracle_seconds=0.0)
    for worker in (first, second):
        _, stderr = worker.communicate(timeout=180)
        assert worker.returncode == 0, stderr
    queried = Counter(line for log in logs if log.exists() for line in log.read_text().split())
    twice = sorted(trial for trial, count in queried.items() if count > 1)
    campaign = Campaign.open(name, storage=storage_url)
    assert campaign.finished_count() == 4 and twice == [], twice
    backend = storage_url.split(":", 1)[0].split("+", 1)[0]
    reliability_report(f"heartbeats ({backend}): an oracle 3x slower than the grace period, a second host polling: "
                       f"{len(queried)} trials queried, queried twice: {len(twice)}")


def test_a_killed_workers_trials_come_back_after_the_grace_period_exactly_once(storage_url, tmp_path,
                                                                               reliability_report):
    name = new_campaign(storage_url, budget=2)
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    first = start_worker(storage_url, name, "host-a", logs[0], oracle_seconds=600)
    wait_for_lines(logs[0], 2, first)
    first.send_signal(signal.SIGKILL)  # the machine is lost: no more heartbeats
    first.wait()
    killed_at = time.monotonic()
    held = Campaign.open(name, storage=storage_url).trials([TrialState.RUNNING])
    assert len(held) == 2 and all(t.worker.startswith("host-a:") for t in held)
    second = start_worker(storage_url, name, "host-b", logs[1], oracle_seconds=0.0)
    _, stderr = second.communicate(timeout=180)
    assert second.returncode == 0, stderr
    assert time.monotonic() - killed_at >= GRACE  # not before the lease ran out
    again = Counter(logs[1].read_text().split())
    assert sorted(again) == sorted(str(t.id) for t in held) and set(again.values()) == {1}
    assert Campaign.open(name, storage=storage_url).finished_count() == 2
    backend = storage_url.split(":", 1)[0].split("+", 1)[0]
    reliability_report(f"heartbeats ({backend}): a SIGKILLed worker's {len(held)} trials re-queued after the "
                       f"grace period and queried once more: {dict(again)}")
