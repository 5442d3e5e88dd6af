"""Campaign.open/ask/tell/fail/run/best/trials against a real SQLite file."""

import math
from pathlib import Path

import numpy as np
import pytest

from oboptim import Campaign, CampaignSettings, ConfigError, Provenance, RoundDiagnostics
from oboptim.oracles import TooManyFailures
from oboptim.storage import InvalidValue, NotAnOboptimDatabase, TrialConflictError, UnknownTrialError

TASK = str(Path(__file__).with_name("mixture_task.py")) + ":TASK"


@pytest.fixture
def url(tmp_path):
    return f"sqlite:///{tmp_path / 'runs.db'}"


def open_campaign(url, name="c", **kwargs):
    kwargs.setdefault("seed", 0)
    return Campaign.open(name, storage=url, task=TASK, **kwargs)


def test_ask_persists_before_returning_and_tell_rules(url):
    c = open_campaign(url)
    trials = c.ask(3)
    assert [t.state for t in trials] == ["waiting"] * 3
    reopened = Campaign.open("c", storage=url)
    assert [t.id for t in reopened.trials()] == [t.id for t in trials]
    np.testing.assert_array_equal(reopened.trials()[0].x, trials[0].x)

    c.tell(trials[0].id, 1.25)
    c.tell(trials[0].id, 1.25)  # the same value again: a no-op
    with pytest.raises(TrialConflictError):
        c.tell(trials[0].id, 2.0)
    with pytest.raises(UnknownTrialError):
        c.tell(10_000, 1.0)
    with pytest.raises(InvalidValue):
        c.tell(trials[1].id, math.nan)
    c.fail(trials[1].id, "instrument error")
    with pytest.raises(TrialConflictError):
        c.tell(trials[1].id, 3.0)
    assert c.best().id == trials[0].id
    states = [t.state for t in c.trials()]
    assert states == ["completed", "failed", "waiting"]


def test_changed_config_names_the_keys(url):
    open_campaign(url, alpha=1.0, particles=16)
    with pytest.raises(ConfigError, match=r"alpha=1.0 \(you passed 0.5\).*particles=16 \(you passed 8\)"):
        open_campaign(url, alpha=0.5, particles=8)
    with pytest.raises(ConfigError, match="seed=0"):
        open_campaign(url, seed=3)
    with pytest.raises(ConfigError, match="task"):
        Campaign.open("c", storage=url, task="gmm2d")
    # Runtime settings may change between sessions.
    assert open_campaign(url, budget=99).name == "c"


def test_missing_campaign_without_task_is_an_error(url):
    with pytest.raises(ConfigError, match="give a task"):
        Campaign.open("nope", storage=url)


def test_foreign_file_as_database(tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database\n" * 20)
    with pytest.raises(NotAnOboptimDatabase):
        open_campaign(f"sqlite:///{path}")
    assert path.read_text().startswith("these are my notes")


def test_run_reaches_the_budget_and_improves(url):
    c = open_campaign(url, batch_size=4)
    c.run(budget=12, progress=False, log=lambda line: None)
    assert c.finished_count() == 12
    rounds = c.storage.rounds(c.id)
    assert len(rounds) == 3
    assert RoundDiagnostics.from_json(rounds[0].diagnostics).source == "prior"
    smc = RoundDiagnostics.from_json(rounds[1].diagnostics)
    assert smc.source == "smc" and len(smc.ess) == 20 and smc.gap is not None and smc.gap.observed_count == 4
    snapshots = c.storage.surrogate_snapshots(c.id)
    assert [s.train_size for s in snapshots] == [4, 8]
    later = [t for t in c.trials() if t.round > 0]
    provenance = Provenance.from_json(later[0].provenance)
    for key in ("predicted_mean", "predicted_std", "acquisition", "log_weight", "settings"):
        assert getattr(provenance, key) is not None, key
    assert CampaignSettings.from_json(provenance.settings) == c.settings


def test_resumed_run_proposes_what_an_uninterrupted_one_would(tmp_path):
    a = open_campaign(f"sqlite:///{tmp_path / 'a.db'}", batch_size=4)
    a.run(budget=12, progress=False, log=lambda line: None)
    b = open_campaign(f"sqlite:///{tmp_path / 'b.db'}", batch_size=4)
    b.run(budget=4, progress=False, log=lambda line: None)
    b = Campaign.open("c", storage=f"sqlite:///{tmp_path / 'b.db'}")
    b.run(budget=12, progress=False, log=lambda line: None)
    xa = np.stack([t.x for t in a.trials()])
    xb = np.stack([t.x for t in b.trials()])
    np.testing.assert_array_equal(xa, xb)
    assert [t.value for t in a.trials()] == [t.value for t in b.trials()]


def test_pending_trials_are_not_proposed_again(url):
    c = open_campaign(url, batch_size=4)
    c.run(budget=4, progress=False, log=lambda line: None)
    first = np.stack([t.x for t in c.ask(4)])
    second = np.stack([t.x for t in c.ask(4)])
    distances = np.linalg.norm(first[:, None] - second[None], axis=-1)
    assert distances.min() > 1e-6


@pytest.mark.parametrize(
    "oracle, expected_error",
    [
        (lambda x: [math.nan] * len(x), "nan"),
        (lambda x: [math.inf] * len(x), "inf"),
        (lambda x: [1.0] * (len(x) - 1), "values for"),
    ],
    ids=["nan", "inf", "wrong-count"],
)
def test_bad_oracle_outputs_fail_trials_and_the_campaign_goes_on(url, oracle, expected_error):
    c = open_campaign(url, batch_size=4)
    c.run(budget=4, oracle=oracle, progress=False, max_failure_rate=1.0, log=lambda line: None)
    assert c.finished_count() == 4
    assert all(t.state == "failed" and expected_error in t.error for t in c.trials())


def test_exception_fails_the_batch_with_its_message_and_rate_limit_stops(url):
    def broken(x):
        raise RuntimeError("lab instrument offline")

    c = open_campaign(url, batch_size=4)
    with pytest.raises(TooManyFailures, match="lab instrument offline"):
        c.run(budget=12, oracle=broken, progress=False, max_failure_rate=0.5, log=lambda line: None, retry_backoff=0.01)
    failed = c.trials(["failed"])
    assert len(failed) >= 8 and all("RuntimeError: lab instrument offline" in t.error for t in failed)


def test_some_failures_within_the_tolerated_rate(url):
    calls = []

    def flaky(x):
        calls.append(len(x))
        return [math.nan if i == 0 else -float(np.sum((row - 4) ** 2)) for i, row in enumerate(x)]

    c = open_campaign(url, batch_size=4)
    c.run(budget=12, oracle=flaky, progress=False, max_failure_rate=0.5, log=lambda line: None)
    counts = c.storage.count_trials(c.id)
    assert counts["completed"] == 9 and counts["failed"] == 3


def test_shell_oracle_timeout_fails_trials(url, tmp_path):
    script = tmp_path / "slow.py"
    script.write_text("import time\ntime.sleep(30)\n")
    c = open_campaign(url, batch_size=2)
    import sys

    c.run(budget=2, oracle_command=f"{sys.executable} {script}", oracle_timeout=1.0, progress=False, batch_retries=0,
          max_failure_rate=1.0, log=lambda line: None)
    assert all("timed out" in t.error for t in c.trials())
