"""Property tests: bad input of every kind gets one clear line of error, and nothing is written.

Covers values given to `tell` (Python and CLI), CLI arguments, what an oracle returns, and storage URLs. The
database is compared byte for byte (an SQL dump) before and after each refused input.
"""

from __future__ import annotations

import contextlib
import math
import shlex
import sqlite3
import uuid
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from oboptim import Campaign, OboptimError
from oboptim._text import MAX_MESSAGE_CHARS
from oboptim.cli import main
from oboptim.oracles import CallableOracle, ShellOracle
from oboptim.storage import InvalidValue, Storage, StorageError

TASK = f"{Path(__file__).parent / 'campaign' / 'mixture_task.py'}:TASK"
PROPERTY_SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def dump(path: Path) -> str:
    """Everything the database holds, as SQL text (WAL content included: it reads through SQLite)."""
    connection = sqlite3.connect(path)
    try:
        return "\n".join(connection.iterdump())
    finally:
        connection.close()


def is_one_line(message: str) -> bool:
    return bool(message.strip()) and "\n" not in message.strip()


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    """A database with campaign "c": trial 1 waiting, trial 2 completed (1.5)."""
    path = tmp_path_factory.mktemp("bad-input") / "campaign.db"
    campaign = Campaign.open("c", storage=f"sqlite:///{path}", task=TASK, seed=0, batch_size=2, budget=4)
    first, second = campaign.storage.add_round(campaign.id, 0, [np.zeros(2), np.ones(2)], [{}, {}], b"", {})
    campaign.tell(second.id, 1.5)
    campaign.storage.close()
    return path


# ---------------------------------------------------------------- tell values

finite_floats = st.floats(allow_nan=False, allow_infinity=False)
bad_values = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf, np.float32("nan"), np.float64("-inf"), Decimal("NaN")]),
    st.floats().filter(lambda v: not math.isfinite(v)),
    st.integers(min_value=2**1024) | st.integers(max_value=-(2**1024)),
    st.text(max_size=30),
    st.binary(max_size=10),
    st.none(),
    st.lists(finite_floats, max_size=3),
    st.dictionaries(st.text(max_size=3), finite_floats, max_size=2),
    st.complex_numbers(allow_nan=False).filter(lambda z: z.imag != 0),
    st.builds(object),
)


@PROPERTY_SETTINGS
@given(value=bad_values)
def test_bad_tell_values_are_refused_and_write_nothing(db, value):
    before = dump(db)
    with Storage(f"sqlite:///{db}", create=False) as store:
        campaign = Campaign.open("c", storage=store)
        for tell in (lambda: campaign.tell(1, value), lambda: store.complete_trial(1, value)):
            with pytest.raises(InvalidValue) as raised:
                tell()
            assert isinstance(raised.value, (ValueError, OboptimError))
            assert is_one_line(str(raised.value)) and "trial 1" in str(raised.value)
    assert dump(db) == before


@pytest.fixture(scope="module")
def good_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("good") / "c.db"
    with Storage(f"sqlite:///{path}") as store:
        record, _ = store.get_or_create_campaign("c", task="toy", config={}, seed=0)
        yield path, store, record.id


@PROPERTY_SETTINGS
@given(value=finite_floats)
def test_finite_values_round_trip_and_a_different_second_value_is_refused(good_db, value):
    path, store, campaign_id = good_db
    round_index = len(store.rounds(campaign_id))
    (trial,) = store.add_round(campaign_id, round_index, [np.zeros(2)], [{}], b"", {})
    assert np.float64(store.complete_trial(trial.id, value).value).tobytes() == np.float64(value).tobytes()
    before = dump(path)
    with pytest.raises(OboptimError):
        store.complete_trial(trial.id, 1.0 if value != 1.0 else 2.0)
    assert dump(path) == before


# ---------------------------------------------------------------- CLI arguments


def invoke(args: list[str], db: Path):
    return CliRunner().invoke(main, args, env={"OBOPTIM_STORAGE": f"sqlite:///{db}"})


def assert_refused(result, before: str, db: Path) -> None:
    """Exit status 2, exactly one error line, no traceback, database unchanged."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert isinstance(result.exception, SystemExit)
    errors = [line for line in result.output.splitlines() if line.lower().startswith("error")]
    assert len(errors) == 1, result.output
    assert "Traceback" not in result.output
    assert dump(db) == before


def _parses_as_finite(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


@PROPERTY_SETTINGS
@given(value=st.text(max_size=20) | st.sampled_from(["nan", "inf", "-inf", "1e999", "NaN", "--", "1,5", "0x10"]))
def test_cli_tell_refuses_what_is_not_a_finite_number(db, value):
    assume(not _parses_as_finite(value))
    before = dump(db)
    assert_refused(invoke(["tell", "c", "1", "--", value], db), before, db)


@PROPERTY_SETTINGS
@given(trial_id=st.integers(min_value=3) | st.integers(max_value=0), value=finite_floats)
def test_cli_tell_refuses_unknown_trial_ids(db, trial_id, value):
    before = dump(db)
    assert_refused(invoke(["tell", "c", "--", str(trial_id), repr(value)], db), before, db)


@PROPERTY_SETTINGS
@given(value=finite_floats)
def test_cli_tell_refuses_changing_a_finished_trial(db, value):
    assume(value != 1.5)
    before = dump(db)
    assert_refused(invoke(["tell", "c", "2", "--", repr(value)], db), before, db)


BAD_RUN_OPTIONS = st.one_of(
    st.tuples(st.sampled_from(["--budget", "--batch-size", "--particles", "--steps", "--retries"]),
              st.integers(max_value=0).map(str) | st.text(min_size=1, max_size=8)),
    st.tuples(st.sampled_from(["--beta"]), st.floats(max_value=-1e-9).map(repr)),
    st.tuples(st.sampled_from(["--alpha", "--oracle-timeout"]), st.floats(max_value=0).map(repr)),
    st.tuples(st.just("--max-failure-rate"), st.floats(min_value=1.0001).map(repr)),
    st.tuples(st.sampled_from(["--surrogate", "--acquisition", "--device"]), st.text(min_size=1, max_size=8)),
)


@PROPERTY_SETTINGS
@given(option=BAD_RUN_OPTIONS)
def test_cli_run_refuses_bad_options_before_writing(db, option):
    flag, value = option
    if flag == "--retries":
        assume(not value.lstrip("-").isdigit() or int(value) < 0)
    if flag in ("--surrogate", "--acquisition", "--device"):
        assume(value not in ("gp", "ensemble", "ucb", "mean", "thompson", "logei", "maxhead", "cpu", "cuda"))
    if flag in ("--budget", "--batch-size", "--particles", "--steps"):
        assume(not (value.strip().isdigit() and int(value) > 0))
    before = dump(db)
    fresh = db.parent / f"fresh-{uuid.uuid4().hex[:8]}.db"
    for storage in (f"sqlite:///{db}", f"sqlite:///{fresh}"):
        result = invoke(["run", TASK, "--name", "c2", "--storage", storage, "--quiet", f"{flag}={value}"], db)
        assert_refused(result, before, db)
    assert not fresh.exists()


CLI_TOKENS = st.sampled_from(["status", "tell", "export", "c", "nope", "1", "2", "-1", "1.5", "nan", "--fail",
                              "--format", "xml", "json", "--storage", "sqlite:///", "--", "-n", "0", "x"])


@PROPERTY_SETTINGS
@given(args=st.lists(CLI_TOKENS | st.text(max_size=6), min_size=1, max_size=6))
def test_cli_never_shows_a_traceback(db, args):
    before = dump(db)
    result = invoke(args, db)
    assert result.exit_code in (0, 2), (args, result.exit_code, result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), (args, result.exception)
    if result.exit_code == 2:
        assert_refused(result, before, db)


# ---------------------------------------------------------------- oracle outputs

BATCH = 3
wrong_outputs = st.one_of(
    st.lists(finite_floats, max_size=6).filter(lambda v: len(v) != BATCH),
    st.text(max_size=20),
    st.none(),
    st.integers(),
    st.integers(min_value=2**1024).map(lambda big: [big] * BATCH),
    st.lists(st.one_of(st.none(), st.text(max_size=5), st.floats().filter(lambda v: not math.isfinite(v)),
                       st.lists(finite_floats, min_size=2, max_size=2)), min_size=BATCH, max_size=BATCH),
    st.dictionaries(st.integers(0, BATCH - 1), finite_floats, max_size=BATCH),
    st.sets(finite_floats, min_size=BATCH, max_size=BATCH),
    st.builds(np.zeros, st.sampled_from([(BATCH, 2), (BATCH + 1,), (), (1, BATCH)])),
    st.just(np.array(["a", "b", "c"])),
)


def _check_failures(outcomes, count: int) -> None:
    assert len(outcomes) == count
    assert all(o.failed for o in outcomes)  # a bad output never becomes a value
    for outcome in outcomes:
        assert is_one_line(outcome.error) and len(outcome.error) <= MAX_MESSAGE_CHARS


@PROPERTY_SETTINGS
@given(output=wrong_outputs)
def test_bad_oracle_outputs_fail_their_trials_with_one_line(output):
    outcomes = CallableOracle(lambda x: output).evaluate(list(range(BATCH)), np.zeros((BATCH, 2)))
    _check_failures(outcomes, BATCH)


json_lines = st.one_of(
    st.text(max_size=40),
    st.sampled_from(['{"trial_id": 0}', '{"trial_id": 0, "value": "1.0"}', '{"trial_id": 0, "value": null}',
                     '{"trial_id": 0, "value": NaN}', '{"trial_id": 0, "value": 1e999}', '{"value": 1.0}',
                     '{"trial_id": "0", "value": 1.0}', '{"trial_id": 0, "value": [1, 2]}', '[1.0]', 'null',
                     '{"trial_id": 0, "value": 1' + "0" * 400 + '}', '{"trial_id": 0, "error": ""}']),
)


@settings(max_examples=20, deadline=None)
@given(lines=st.lists(json_lines, max_size=3))
def test_bad_shell_oracle_outputs_fail_their_trials_with_one_line(tmp_path_factory, lines):
    answer = tmp_path_factory.mktemp("shell") / "answer.txt"
    answer.write_text("\n".join(lines) + "\n")
    with ShellOracle(f"cat > /dev/null; cat {shlex.quote(str(answer))}", timeout=10) as oracle:
        _check_failures(oracle.evaluate([0], np.zeros((1, 2))), 1)


@settings(max_examples=6, deadline=None)
@given(output=wrong_outputs)
def test_a_campaign_stores_no_value_from_a_bad_oracle(tmp_path_factory, output):
    path = tmp_path_factory.mktemp("campaign") / "c.db"
    campaign = Campaign.open("bad", storage=f"sqlite:///{path}", task=TASK, seed=0, batch_size=BATCH, budget=BATCH,
                             steps=5)
    campaign.run(oracle=lambda x: output, max_failure_rate=1.0, progress=False, log=lambda line: None)
    trials = campaign.trials()
    assert [t.state for t in trials] == ["failed"] * BATCH and all(is_one_line(t.error) for t in trials)
    campaign.storage.close()
    connection = sqlite3.connect(path)
    assert connection.execute("SELECT count(*) FROM observation").fetchone() == (0,)
    connection.close()


# ---------------------------------------------------------------- storage URLs

url_schemes = st.sampled_from(["sqlite", "sqlite+pysqlite", "sqlite+nosuchdriver", "postgresql+nosuchdriver",
                               "mysql+nosuchdriver", "nosuchdialect", "http", "file", "", "sqlite:"])
storage_urls = st.one_of(
    st.builds(lambda scheme, rest: f"{scheme}://{rest}", url_schemes, st.text(max_size=30)),
    st.builds(lambda rest: f"sqlite:///{rest}", st.text(max_size=30).filter(lambda r: not r.startswith("/"))),
    st.text(max_size=30),
    st.just("postgresql+psycopg2://nobody@127.0.0.1:1/none"),  # refused at once: no server on port 1
    st.just("sqlite:///" + "x" * 300),
)


@PROPERTY_SETTINGS
@given(url=storage_urls)
def test_bad_storage_urls_are_one_line_errors_and_create_nothing(tmp_path_factory, url):
    where = tmp_path_factory.mktemp("urls")
    with contextlib.chdir(where):
        for create in (False, True):
            if create and url.startswith("sqlite:////"):
                continue  # an absolute path could name any directory of this machine
            try:
                Storage(url, create=create).close()
            except StorageError as error:
                assert is_one_line(str(error)), str(error)
                assert list(where.iterdir()) == [], f"{url!r} left files behind although it was refused"
            else:
                assert create or url.startswith(("sqlite://", "sqlite+pysqlite://")), url


@PROPERTY_SETTINGS
@given(url=storage_urls)
def test_cli_reports_bad_storage_urls_on_one_line(db, url):
    assume(not url.startswith("sqlite:////"))
    before = dump(db)
    with contextlib.chdir(db.parent):
        result = invoke(["status", "--storage", url], db)
    if result.exit_code != 0:
        assert_refused(result, before, db)
