"""`oboptim tell` on a trial that `oboptim run` is measuring, on SQLite and on PostgreSQL (issue 19, item 4).

The trial is the run's: telling it by hand is refused in one line naming the run, and the oracle's value is stored.
With --force the told value stands, the trial says it was forced (rater, worker), and the run says on standard error
that its own value was dropped. The database is checked against the log the oracle writes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from oboptim import Campaign
from oboptim._view import CampaignView
from oboptim.storage import Storage, TrialConflictError, TrialState
from oboptim.storage import TrialBeingMeasured

pytestmark = pytest.mark.process

HERE = Path(__file__).parent
TASK = f"{HERE / 'mixture_task.py'}:TASK"


def _oboptim(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "oboptim", *args], capture_output=True, text=True, timeout=120,
                          **kwargs)


def _wait_for(predicate, what: str, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_tell_on_a_trial_being_measured_is_refused_unless_forced(storage_url, tmp_path):
    name = f"R-{uuid.uuid4().hex[:8]}"
    log = tmp_path / "oracle.log"
    env = {**os.environ, "SLOW_MEASURE_LOG": str(log), "SLOW_MEASURE_SECONDS": "8", "OMP_NUM_THREADS": "1"}
    run = subprocess.Popen(
        [sys.executable, "-m", "oboptim", "run", "gmm2d", "--name", name, "--storage", storage_url, "--budget", "4",
         "--batch-size", "4", "--oracle", f"{HERE / 'slow_measure.py'}:measure", "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        _wait_for(lambda: Path(f"{log}.started").exists() or run.poll() is not None, "the oracle to start")
        assert run.poll() is None, run.communicate()
        with Storage(storage_url, create=False) as store:
            campaign = store.get_campaign(name)
            running = store.trials(campaign.id, states=[TrialState.RUNNING])
        assert len(running) == 4 and not log.exists(), "the oracle was too quick for the test"
        first, second, forced = (t.id for t in running[:3])

        refused = _oboptim("tell", name, str(first), "123.0", "--storage", storage_url)
        assert refused.returncode == 2 and refused.stdout == "", refused
        lines = refused.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: trial {first} is being measured by `oboptim run` "
                                                       f"(worker {running[0].worker}); "), refused.stderr
        assert "--force" in lines[0]
        failed = _oboptim("tell", name, str(second), "--fail", "spilled", "--storage", storage_url)
        assert failed.returncode == 2 and "is being measured by `oboptim run`" in failed.stderr, failed

        told = _oboptim("tell", name, str(forced), "123.0", "--force", "--storage", storage_url)
        assert told.returncode == 0 and told.stdout == f"trial {forced} = 123\n", told
        assert not log.exists(), "the run finished before the test told its values: slow the oracle down"
        stdout, stderr = run.communicate(timeout=180)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
    assert run.returncode == 0, stderr
    assert f"for trial {forced} was dropped: the trial was told by hand" in stderr, stderr

    measured = [json.loads(line) for line in log.read_text().splitlines()]
    with Storage(storage_url, create=False) as store:
        trials = store.trials(store.get_campaign(name).id)
    assert len(measured) == 4 and [t.state for t in trials] == [TrialState.COMPLETED] * 4
    logged = {json.dumps(entry["x"]): entry["value"] for entry in measured}
    for trial in trials:
        if trial.id == forced:
            assert trial.value == 123.0 and trial.rater == "tell --force"
            assert trial.worker == f"tell --force over {running[2].worker}"
            assert logged[json.dumps(trial.x.tolist())] != 123.0  # the oracle's value was the one dropped
        else:
            assert trial.value == logged[json.dumps(trial.x.tolist())], trial  # the oracle's, not the refused 123
            assert trial.worker == running[0].worker and trial.rater is None


def _claimed(storage_url: str) -> tuple[CampaignView, list]:
    """A campaign with 3 asked trials: the first two claimed by a run's worker, the third still asked."""
    name = f"claimed-{uuid.uuid4().hex[:8]}"
    campaign = Campaign.open(name, storage=storage_url, task=TASK, seed=0, batch_size=3)
    asked = campaign.ask(3, lease_seconds=0.001)
    time.sleep(0.01)
    claimed = campaign.storage.claim_trials(campaign.id, "lab-host:4242", 60.0, limit=2)
    assert [t.id for t in claimed] == [t.id for t in asked[:2]]
    campaign.storage.close()
    return CampaignView.open(name, storage_url), asked


def test_the_api_refuses_a_measured_trial_and_records_a_forced_one(storage_url):
    view, (first, second, _) = _claimed(storage_url)
    with pytest.raises(TrialBeingMeasured, match=r"being measured by `oboptim run` \(worker lab-host:4242\)"):
        view.tell(first.id, 1.0)
    with pytest.raises(TrialConflictError):  # a TrialBeingMeasured is a conflict
        view.fail(second.id, "spilled")
    assert {t.state for t in view.trials()} == {TrialState.RUNNING, TrialState.WAITING}  # nothing written

    told = view.tell(first.id, 1.0, rater="alice", force=True)
    assert (told.value, told.rater, told.worker) == (1.0, "alice (tell --force)", "tell --force over lab-host:4242")
    failed = view.fail(second.id, "spilled", force=True)
    assert (failed.state, failed.error, failed.worker) == ("failed", "spilled", "tell --force over lab-host:4242")
    assert view.tell(first.id, 1.0).value == 1.0  # the same value again is a no-op, as for any trial
    view.storage.close()


def test_a_run_whose_value_was_forced_says_it_was_dropped(storage_url):
    from oboptim._outcomes import record_outcomes
    from oboptim.oracles import Outcome

    view, (first, second, _) = _claimed(storage_url)
    view.tell(first.id, 5.0, force=True)
    lines: list[str] = []
    records = record_outcomes(view.storage, view.id, [(first.id, Outcome(value=2.5)), (second.id, Outcome(value=3.0))],
                              skip_conflicts=True, holder="lab-host:4242", on_dropped=lines.append)
    assert records[0] is None and records[1].value == 3.0
    assert lines == [f"the oracle's value 2.5 for trial {first.id} was dropped: the trial was told by hand meanwhile "
                     "(`oboptim tell --force`: value 5)"]
    view.storage.close()


def test_asked_and_waiting_trials_stay_tellable(storage_url):
    view, (_, _, asked) = _claimed(storage_url)
    assert view.tell(asked.id, -2.0).value == -2.0  # asked with `oboptim ask` (its lease ran out: still waiting)
    assert view.storage.get_trial(asked.id).rater is None
    view.storage.close()

