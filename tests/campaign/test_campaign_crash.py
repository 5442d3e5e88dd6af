"""SIGKILL a real `oboptim run` while its shell oracle is scoring a batch, resume, and check that nothing was lost or
re-queried and that the history is the uninterrupted one.

The kills are triggered by events, not timers: the oracle logs each trial id before it answers, and the test kills the
campaign the moment the log reaches a chosen trial (mid-batch of the prior round, then mid-batch of the first
SMC round). Every database commit point is covered separately and faster by test_campaign_crash_injection.py; this
test covers what only a real process and a real signal show (the CLI, the shell oracle's process, the WAL file).
"""

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from oboptim import Campaign, TrialState
from oboptim.storage import Storage

pytestmark = pytest.mark.process

HERE = Path(__file__).parent
TASK = f"{HERE / 'mixture_task.py'}:TASK"
BUDGET = 8
BATCH = 4
SEED = 7
KILL_AT_TRIAL = 2  # kill when the oracle is at the 2nd trial of its batch
POLL_SECONDS = 0.01
START_TIMEOUT_S = 120


def oracle_command(log: Path) -> str:
    return f"{sys.executable} {HERE / 'logging_oracle.py'} {log}"


def run_command(url: str, log: Path) -> list[str]:
    return [sys.executable, "-m", "oboptim", "run", TASK, "--name", "k", "--storage", url, "--budget", str(BUDGET),
            "--batch-size", str(BATCH), "--seed", str(SEED), "--oracle-cmd", oracle_command(log), "--quiet"]


def completed(url: str) -> dict[int, float]:
    with Storage(url) as store:
        record = store.get_campaign("k")
        if record is None:
            return {}
        return {t.id: t.value for t in store.trials(record.id, states=[TrialState.COMPLETED])}


def log_lines(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


def kill_when_the_log_reaches(url: str, log: Path, lines: int) -> None:
    process = subprocess.Popen(run_command(url, log), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + START_TIMEOUT_S
    while len(log_lines(log)) < lines:
        assert process.poll() is None, "the campaign ended before the kill point"
        assert time.monotonic() < deadline, f"the oracle log never reached {lines} lines"
        time.sleep(POLL_SECONDS)
    process.kill()
    process.wait()


def test_sigkill_mid_batch_then_resume_loses_nothing_and_matches_an_uninterrupted_run(tmp_path):
    url = f"sqlite:///{tmp_path / 'killed.db'}"
    log = tmp_path / "oracle.log"
    snapshots = []
    # First mid-batch in round 0; then, after the resumed run has re-scored round 0's unfinished batch, mid-batch in
    # round 1 (the first round proposed by the surrogate and the sampler).
    for lines in (KILL_AT_TRIAL, None):
        kill_when_the_log_reaches(url, log, lines or len(log_lines(log)) + BATCH + KILL_AT_TRIAL)
        snapshots.append((completed(url), len(log_lines(log))))
    assert len(snapshots[-1][0]) >= BATCH, "the second kill should land after round 0's results were stored"
    finished = subprocess.run(run_command(url, log), capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr

    final = completed(url)
    with Storage(url) as store:
        trials = store.trials(store.get_campaign("k").id)
    assert len([t for t in trials if t.finished]) == BUDGET
    asked = log_lines(log)
    for done, log_length in snapshots:
        for trial_id, value in done.items():
            assert final[trial_id] == value  # no completed observation lost or changed
        requeried = set(asked[log_length:]) & {str(i) for i in done}
        assert not requeried, f"completed trials queried again: {sorted(requeried)}"

    reference = Campaign.open("k", storage=f"sqlite:///{tmp_path / 'reference.db'}", task=TASK, seed=SEED,
                              budget=BUDGET, batch_size=BATCH)
    reference.run(oracle_command=oracle_command(tmp_path / "reference.log"))
    expected = reference.trials()
    np.testing.assert_array_equal(np.stack([t.x for t in trials]), np.stack([t.x for t in expected]))
    assert [t.value for t in trials] == [t.value for t in expected]
