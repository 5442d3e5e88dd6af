"""CallableOracle: the conformance suite, and how a Python function's failures become outcomes."""

import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from oboptim.oracles import CallableOracle, OracleContext, resolve_oracle
from oboptim.testing import OracleConformance

PYTHON_ORACLES = Path(__file__).parent / "fixtures" / "python_oracles.py"


def score_sum(x):
    return x.reshape(len(x), -1).sum(axis=1)


class TestCallableOracleConformance(OracleConformance):
    def make_oracle(self, tmp_path):
        return CallableOracle(score_sum)


class TestCallableOracleReturningAList(OracleConformance):
    def make_oracle(self, tmp_path):
        return CallableOracle(lambda xs: [float(np.sum(x)) for x in xs], name="list_sum")


class TestCallableOracleInAWorkerProcess(OracleConformance):
    def make_oracle(self, tmp_path):
        return resolve_oracle(f"{PYTHON_ORACLES}:plain_sum", OracleContext(timeout=30.0))


XS = np.arange(6.0).reshape(3, 2)
IDS = [1, 2, 3]


def test_nan_and_inf_fail_only_their_trials():
    outcomes = CallableOracle(lambda x: [1.0, math.nan, -math.inf]).evaluate(IDS, XS)
    assert outcomes[0].value == 1.0
    assert outcomes[1].error == "oracle returned nan"
    assert outcomes[2].error == "oracle returned -inf"


def test_an_exception_fails_the_whole_batch_with_type_and_message():
    def broken(x):
        raise ValueError("instrument\noffline")

    outcomes = CallableOracle(broken).evaluate(IDS, XS)
    assert [outcome.error for outcome in outcomes] == ["ValueError: instrument offline"] * 3


def test_a_long_exception_message_is_cut_to_one_short_line():
    def broken(x):
        raise RuntimeError("x" * 5000)

    error = CallableOracle(broken).evaluate([1], XS[:1])[0].error
    assert error.startswith("RuntimeError: xxx") and len(error) <= 500 and "\n" not in error


def test_an_exception_without_a_message_gives_its_type():
    def broken(x):
        raise KeyError

    assert CallableOracle(broken).evaluate([1], XS[:1])[0].error == "KeyError"


def test_a_wrong_count_fails_every_trial():
    outcomes = CallableOracle(lambda x: [1.0, 2.0]).evaluate(IDS, XS)
    assert [outcome.error for outcome in outcomes] == ["oracle returned 2 values for 3 candidates"] * 3


@pytest.mark.parametrize(
    ("returned", "expected_error"),
    [
        (None, "oracle returned None for 3 candidates; expected a sequence of numbers"),
        (3.0, "oracle returned a float (3.0) for 3 candidates; expected a sequence of numbers"),
        ("abc", "oracle returned a str ('abc') for 3 candidates; expected a sequence of numbers"),
        (np.ones((3, 2)), "oracle returned an array of shape (3, 2) for 3 candidates; expected [B]"),
    ],
)
def test_a_non_sequence_fails_every_trial(returned, expected_error):
    outcomes = CallableOracle(lambda x: returned).evaluate(IDS, XS)
    assert [outcome.error for outcome in outcomes] == [expected_error] * 3


def test_none_strings_and_huge_values_fail_only_their_trials():
    outcomes = CallableOracle(lambda x: [None, "1.5", 10**400]).evaluate(IDS, XS)
    assert outcomes[0].error == "oracle returned None; expected a finite number"
    assert outcomes[1].error == "oracle returned a str ('1.5'); expected a finite number"
    assert outcomes[2].error.startswith("oracle returned a number too large for a float (1000")


def test_numpy_scalars_zero_d_arrays_and_column_arrays_are_accepted():
    outcomes = CallableOracle(lambda x: [np.float32(0.5), np.array(2.0), np.int64(-3)]).evaluate(IDS, XS)
    assert [outcome.value for outcome in outcomes] == [0.5, 2.0, -3.0]
    column = CallableOracle(lambda x: np.array([[1.0], [2.0], [3.0]])).evaluate(IDS, XS)
    assert [outcome.value for outcome in column] == [1.0, 2.0, 3.0]


def test_the_function_gets_a_copy_it_may_modify():
    def scribbling(x):
        values = x.sum(axis=1)
        x[:] = -1.0
        return values

    xs = XS.copy()
    outcomes = CallableOracle(scribbling).evaluate(IDS, xs)
    np.testing.assert_array_equal(xs, XS)
    assert [outcome.value for outcome in outcomes] == [1.0, 5.0, 9.0]


def test_name_defaults_to_module_and_qualname():
    assert CallableOracle(score_sum).name.endswith(":score_sum")
    assert CallableOracle(score_sum, name="mine").name == "mine"


def test_a_non_callable_is_rejected():
    with pytest.raises(TypeError):
        CallableOracle(3.0)


# -- a timeout: the function runs in a worker process that is killed past it --------------------------------------


def in_worker(name: str, timeout: float = 30.0) -> CallableOracle:
    """``--oracle path/to/python_oracles.py:NAME --oracle-timeout TIMEOUT``."""
    oracle = resolve_oracle(f"{PYTHON_ORACLES}:{name}", OracleContext(timeout=timeout))
    assert isinstance(oracle, CallableOracle) and oracle.timeout == timeout
    return oracle


def is_gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def assert_gone_soon(pids: list[int], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not all(map(is_gone, pids)) and time.monotonic() < deadline:
        time.sleep(0.02)
    alive = [pid for pid in pids if not is_gone(pid)]
    for pid in alive:
        os.kill(pid, signal.SIGKILL)
    assert not alive, f"still running: {alive}"


@pytest.mark.process
def test_a_hung_function_times_out_its_worker_is_killed_and_the_next_batch_runs(tmp_path, monkeypatch):
    pid_file = tmp_path / "pids"
    monkeypatch.setenv("OBOPTIM_TEST_PID_FILE", str(pid_file))
    with in_worker("sum_or_hang", timeout=1.0) as oracle:
        started = time.monotonic()
        outcomes = oracle.evaluate([1, 2], XS[:2] - 10)
        assert time.monotonic() - started < 5
        assert [outcome.error for outcome in outcomes] == ["timed out after 1 s"] * 2
        assert all(outcome.transient for outcome in outcomes)
        assert_gone_soon([int(pid) for pid in pid_file.read_text().split()])  # the worker and its child
        assert [outcome.value for outcome in oracle.evaluate([3], XS[1:2])] == [5.0]  # a fresh worker


def test_the_worker_is_reused_across_batches_and_gone_after_close():
    with in_worker("sum_and_pid") as oracle:
        first = oracle.evaluate([1], XS[:1])[0].value
        second = oracle.evaluate([2], XS[:1])[0].value
    pid = round((first - 1.0) * 1e9)
    assert first == second and pid != os.getpid()
    assert_gone_soon([pid])


def test_in_a_worker_prints_go_to_stderr_and_an_exception_fails_the_batch(capfd):
    with in_worker("chatty_or_broken") as oracle:
        assert [outcome.value for outcome in oracle.evaluate([1, 2], XS[:2])] == [1.0, 5.0]
        broken = oracle.evaluate([3], XS[:1] - 10)
    assert broken[0].error == "ConnectionError: instrument offline" and broken[0].transient
    out, err = capfd.readouterr()
    assert "calibrating the instrument" in err and "calibrating" not in out


def test_a_worker_that_dies_fails_the_batch_transiently():
    with in_worker("exits") as oracle:
        outcome = oracle.evaluate([1], XS[:1])[0]
    assert outcome.error == "the oracle's worker process exited with code 3" and outcome.transient


def test_kill_9_of_the_campaign_process_kills_the_worker_and_its_children(tmp_path):
    pid_file = tmp_path / "pids"
    runner = subprocess.Popen([sys.executable, str(PYTHON_ORACLES.with_name("evaluate_oracle.py")), "function",
                               f"{PYTHON_ORACLES}:hang"], env={**os.environ, "OBOPTIM_TEST_PID_FILE": str(pid_file)})
    try:
        deadline = time.monotonic() + 30
        while not (pid_file.exists() and len(pid_file.read_text().split()) == 2) and time.monotonic() < deadline:
            time.sleep(0.02)
        pids = [int(pid) for pid in pid_file.read_text().split()]
        runner.kill()
        runner.wait()
        assert_gone_soon(pids)
    finally:
        runner.kill()


def test_ctrl_c_during_a_batch_kills_the_worker_and_its_children(tmp_path, monkeypatch):
    pid_file = tmp_path / "pids"
    monkeypatch.setenv("OBOPTIM_TEST_PID_FILE", str(pid_file))

    def interrupt_once_hung():
        while not (pid_file.exists() and len(pid_file.read_text().split()) == 2):
            time.sleep(0.02)
        os.kill(os.getpid(), signal.SIGINT)

    interrupter = threading.Thread(target=interrupt_once_hung)
    interrupter.start()
    with in_worker("hang", timeout=600) as oracle, pytest.raises(KeyboardInterrupt):
        oracle.evaluate([1], XS[:1])
    interrupter.join()
    assert_gone_soon([int(pid) for pid in pid_file.read_text().split()])


def test_a_timeout_for_a_function_that_cannot_be_imported_by_name_is_refused():
    with pytest.raises(ValueError, match="not a top-level function of a module or file: define it at the top level"):
        CallableOracle(lambda x: x.sum(axis=1), timeout=5.0)
    resolved = resolve_oracle(lambda x: x.sum(axis=1), OracleContext(timeout=5.0))  # a callable from Python:
    assert resolved.timeout is None  # runs in this process, as documented


def test_a_python_callable_in_a_worker_keeps_its_module_name():
    oracle = CallableOracle(score_sum, timeout=5.0)
    assert oracle._worker.spec.endswith(":score_sum")


@pytest.mark.process
def test_a_campaign_with_a_hung_function_oracle_goes_on(tmp_path, monkeypatch):
    # issue 10, item 4: --oracle-timeout was ignored for Python functions, and a hung one blocked the campaign
    from oboptim import Campaign

    flag = tmp_path / "hang"
    flag.touch()
    monkeypatch.setenv("OBOPTIM_TEST_HANG_FLAG", str(flag))
    campaign = Campaign.open("timed", storage=f"sqlite:///{tmp_path / 'runs.db'}", task="gmm2d", seed=0,
                             batch_size=2, steps=2, particles=2)
    started = time.monotonic()
    campaign.run(budget=4, oracle=f"{PYTHON_ORACLES}:hang_once", oracle_timeout=1.0)
    assert time.monotonic() - started < 15  # the hang lasts 20 s: timed out, then asked again after a 1 s pause
    assert [trial.state for trial in campaign.trials()] == ["completed"] * 4
