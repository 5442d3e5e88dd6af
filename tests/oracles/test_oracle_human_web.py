"""WebHumanOracle: the conformance suite, waiting for ratings in storage, timeouts, and a campaign rated on the page."""

import threading
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from oboptim import Campaign, OboptimError
from oboptim.oracles import ORACLE_KINDS, OracleContext, WebHumanOracle, WebOracleUnbound, resolve_oracle
from oboptim.oracles._human_web import web_oracle
from oboptim.storage import Storage, TrialState, encode_array
from oboptim.storage._column_types import utc_now
from oboptim.storage._models import TrialRow
from oboptim.testing import OracleConformance

MIXTURE_TASK = str(Path(__file__).parents[1] / "campaign" / "mixture_task.py") + ":TASK"


def insert_trials(url: str, campaign_id: int, trial_ids, xs) -> None:
    """Store trials under exactly these ids (the suite picks ids; a real campaign gets them from the database)."""
    engine = create_engine(url)
    with Session(engine) as session, session.begin():
        for trial_id, x in zip(trial_ids, xs):
            data, shape, dtype = encode_array(np.asarray(x))
            session.add(TrialRow(id=trial_id, campaign_id=campaign_id, number=trial_id, round=0,
                                 state=TrialState.WAITING, x_data=data, x_shape=shape, x_dtype=dtype, provenance={},
                                 created_at=utc_now()))
    engine.dispose()


class TestWebHumanOracleConformance(OracleConformance):
    """A scripted rater gives each trial sum(x) on the 'page' (in storage) before the oracle looks."""

    def make_oracle(self, tmp_path):
        self.url = f"sqlite:///{tmp_path / 'suite.db'}"
        self.storage = Storage(self.url)
        self.campaign, _ = self.storage.get_or_create_campaign("suite", task="none", config={}, seed=0)
        return WebHumanOracle(self.url, "suite", announce=lambda line: None)

    def before_evaluate(self, trial_ids, xs):
        insert_trials(self.url, self.campaign.id, trial_ids, xs)
        for trial_id, x in zip(trial_ids, xs):
            self.storage.complete_trial(trial_id, float(np.sum(x, dtype=np.float64)), rater="web")


@pytest.fixture
def db(tmp_path):
    url = f"sqlite:///{tmp_path / 'web.db'}"
    storage = Storage(url)
    campaign, _ = storage.get_or_create_campaign("web", task="none", config={}, seed=0)
    trials = storage.add_round(campaign.id, 0, [np.zeros(2), np.ones(2), np.full(2, 2.0)], [{}] * 3, b"", {})
    yield url, storage, [t.id for t in trials]
    storage.close()


class ScriptedWait:
    """Stands in for time: each sleep lets the 'person' do their next action, and advances a fake clock."""

    def __init__(self, actions):
        self.actions = list(actions)
        self.now = 0.0
        self.sleeps = 0

    def sleep(self, seconds):
        self.sleeps += 1
        self.now += seconds
        if self.actions:
            self.actions.pop(0)()

    def clock(self):
        return self.now


def test_waits_until_every_trial_is_finished_and_returns_what_is_stored(db):
    url, storage, ids = db
    wait = ScriptedWait([lambda: storage.complete_trial(ids[1], 8.0, rater="web"),
                         lambda: None,
                         lambda: storage.fail_trial(ids[0], "blurry, cannot judge"),
                         lambda: storage.complete_trial(ids[2], 3.0, rater="web")])
    said = []
    oracle = WebHumanOracle(url, "web", poll_seconds=0.5, announce=said.append, clock=wait.clock, sleep=wait.sleep)
    outcomes = oracle.evaluate(ids, np.zeros((3, 2)))
    assert [o.value for o in outcomes] == [None, 8.0, 3.0]
    assert outcomes[0].error == "blurry, cannot judge"
    assert wait.sleeps == 4 and wait.now == 2.0
    assert len(said) == 1 and f"trials {ids[0]}, {ids[1]}, {ids[2]}" in said[0]
    assert f"oboptim serve web --storage {url}" in said[0]
    oracle.close()


def test_finished_trials_return_at_once_without_announcing(db):
    url, storage, ids = db
    storage.complete_trial(ids[0], 5.0)
    said = []
    oracle = WebHumanOracle(url, "web", announce=said.append, sleep=lambda s: pytest.fail("should not wait"))
    outcomes = oracle.evaluate([ids[0], ids[0]], np.zeros((2, 2)))
    assert [outcome.value for outcome in outcomes] == [5.0, 5.0]
    assert said == []


def test_timeout_fails_the_unrated_trials_only(db):
    url, storage, ids = db
    wait = ScriptedWait([lambda: storage.complete_trial(ids[0], 2.0)])
    oracle = WebHumanOracle(url, "web", poll_seconds=1.0, timeout=3.0, announce=lambda line: None,
                            clock=wait.clock, sleep=wait.sleep)
    outcomes = oracle.evaluate(ids[:2], np.zeros((2, 2)))
    assert outcomes[0].value == 2.0
    assert outcomes[1].error == "no rating on the web page within 3 s"
    assert wait.now == 3.0
    assert storage.get_trial(ids[1]).state == TrialState.WAITING  # the campaign, not the oracle, stores outcomes


def test_unknown_trials_fail_with_the_storage_message(db):
    url, storage, ids = db
    other, _ = storage.get_or_create_campaign("other", task="none", config={}, seed=0)
    foreign = storage.add_round(other.id, 0, [np.zeros(2)], [{}], b"", {})[0]
    storage.complete_trial(foreign.id, 1.0)
    outcomes = WebHumanOracle(url, "web", announce=lambda line: None).evaluate([9999, foreign.id], np.zeros((2, 2)))
    assert outcomes[0].error.startswith("campaign 'web' has no trial 9999: `oboptim export web` lists its trial ids")
    assert outcomes[1].error.startswith(f"campaign 'web' has no trial {foreign.id}:")


def test_an_open_storage_is_shared_and_not_closed(db):
    url, storage, ids = db
    storage.complete_trial(ids[0], 4.0)
    with WebHumanOracle(storage, "web") as oracle:
        assert oracle.storage is storage
    assert storage.get_trial(ids[0]).value == 4.0  # still usable


def test_bad_arguments_are_clear_errors(db):
    url = db[0]
    with pytest.raises(OboptimError, match="no campaign 'nope'"):
        WebHumanOracle(url, "nope")
    with pytest.raises(ValueError, match="poll_seconds"):
        WebHumanOracle(url, "web", poll_seconds=0)
    with pytest.raises(ValueError, match="timeout"):
        WebHumanOracle(url, "web", timeout=-1)


def test_the_kind_needs_a_campaign_in_its_context(db):
    url = db[0]
    with pytest.raises(WebOracleUnbound, match="--oracle human-web needs a campaign"):
        web_oracle(OracleContext())
    with pytest.raises(WebOracleUnbound):
        resolve_oracle("human-web")
    with Storage(url) as storage:
        oracle = resolve_oracle("human-web", OracleContext(storage=storage, campaign_name="web", timeout=60.0))
        assert isinstance(oracle, WebHumanOracle) and oracle.campaign.name == "web" and oracle.timeout is None
        oracle.close()


def test_a_campaign_run_is_rated_on_the_page(tmp_path):
    """Campaign.run claims a batch (running) and waits; the 'person' rates it on the page meanwhile."""
    from oboptim.web import create_app

    url = f"sqlite:///{tmp_path / 'run.db'}"
    campaign = Campaign.open("web", storage=url, task=MIXTURE_TASK, seed=0, batch_size=3, budget=3)
    app = create_app(url, "web", "tok")
    client = app.test_client()
    ratings = iter([6, 2, 9])

    def rate_on_the_page(seconds):
        pending = client.get("/api/state?token=tok").json["pending_ids"]
        assert pending, "the page shows the running trials"
        response = client.post("/api/rate", data={"token": "tok", "trial_id": pending[0], "rating": next(ratings)})
        assert response.status_code == 200, response.json

    oracle = WebHumanOracle(url, "web", announce=lambda line: None, sleep=rate_on_the_page)
    campaign.run(budget=3, oracle=oracle, progress=False, log=lambda line: None)
    done = campaign.trials()
    assert [(t.state, t.value, t.rater) for t in done] == [(TrialState.COMPLETED, v, "web") for v in (6.0, 2.0, 9.0)]
    assert campaign.best().value == 9.0
    app.extensions["oboptim_board"].close()


def test_oracle_human_web_by_name_in_a_campaign_run(tmp_path):
    """`oboptim run ... --oracle human-web`: Campaign.run passes its campaign in the context, so the kind finds it."""
    assert ORACLE_KINDS.get("human-web") is web_oracle
    url = f"sqlite:///{tmp_path / 'named.db'}"
    campaign = Campaign.open("named", storage=url, task=MIXTURE_TASK, seed=0, batch_size=2, budget=2)
    stop = threading.Event()

    def person():  # rates whatever the campaign is waiting for, as someone at the page would
        with Storage(url) as rater:
            while not stop.wait(0.05):
                for trial in rater.trials(campaign.id, states=[TrialState.RUNNING]):
                    rater.complete_trial(trial.id, 5.0, rater="web")

    thread = threading.Thread(target=person, daemon=True)
    thread.start()
    try:
        campaign.run(budget=2, oracle="human-web", progress=False, log=lambda line: None)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert [(t.value, t.rater) for t in campaign.trials()] == [(5.0, "web"), (5.0, "web")]
