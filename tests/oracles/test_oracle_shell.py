"""ShellOracle: the conformance suite, and every way a command can misbehave."""

import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from oboptim.oracles import OracleInterrupted, Outcome, ShellOracle
from oboptim.testing import OracleConformance

FIXTURES = Path(__file__).parent / "fixtures"


def fixture_command(script: str, *args: str) -> str:
    return " ".join(shlex.quote(part) for part in (sys.executable, str(FIXTURES / script), *args))


def sum_oracle(*args: str, timeout: float = 10.0, **kwargs) -> ShellOracle:
    return ShellOracle(fixture_command("jsonl_sum_oracle.py", *args), timeout=timeout, **kwargs)


class TestShellOracleConformance(OracleConformance):
    def make_oracle(self, tmp_path):
        return sum_oracle()


XS = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
IDS = [7, 8, 9]


def test_answers_in_any_order_are_matched_by_trial_id():
    outcomes = sum_oracle("--reverse").evaluate(IDS, XS)
    assert [outcome.value for outcome in outcomes] == [3.0, 7.0, 11.0]


def test_a_reported_error_fails_only_that_trial():
    outcomes = sum_oracle("--error-for", "8").evaluate(IDS, XS)
    assert outcomes[1].error == "sensor 8 saturated"
    assert outcomes[0].value == 3.0 and outcomes[2].value == 11.0


def test_a_missing_answer_fails_that_trial_with_its_id():
    outcomes = sum_oracle("--skip", "9").evaluate(IDS, XS)
    assert outcomes[2].error == "no answer for trial 9" and not outcomes[2].transient
    assert outcomes[0].value == 3.0 and outcomes[1].value == 7.0


def test_an_answer_for_an_unknown_trial_is_ignored():
    outcomes = sum_oracle("--unknown-id").evaluate(IDS, XS)
    assert [outcome.value for outcome in outcomes] == [3.0, 7.0, 11.0]


@pytest.mark.parametrize(
    ("value_json", "expected_error"),
    [
        ("NaN", "oracle returned nan"),
        ("Infinity", "oracle returned inf"),
        ("-Infinity", "oracle returned -inf"),
        ("1e999", "oracle returned inf"),
        ("null", "oracle returned None; expected a finite number"),
        ('"abc"', "oracle returned a str ('abc'); expected a finite number"),
        ("[1, 2]", "oracle returned a list ([1, 2]); expected a finite number"),
        ("1" + "0" * 400, "oracle returned a number too large for a float"),
    ],
)
def test_bad_values_fail_their_trials(value_json, expected_error):
    outcomes = sum_oracle(f"--value={value_json}").evaluate(IDS, XS)
    assert all(outcome.error.startswith(expected_error) for outcome in outcomes), outcomes


def test_huge_finite_values_are_kept():
    outcomes = sum_oracle("--value", "1.5e308").evaluate([1], XS[:1])
    assert outcomes[0].value == 1.5e308


def test_malformed_lines_are_ignored_but_reported_for_unanswered_trials():
    oracle = ShellOracle(fixture_command("malformed_oracle.py"), timeout=10)
    first, second, third = oracle.evaluate(IDS, XS)
    assert second.value == 4.25
    assert first.error.startswith("no answer for trial 7; ignored 6 stdout lines, first: line 1 is not JSON")
    assert "hello, not json" in first.error
    assert third.error.startswith("no answer for trial 9;")


def test_nonzero_exit_fails_unanswered_trials_with_code_and_last_stderr_line():
    oracle = sum_oracle("--skip", "8", "--exit-code", "3", "--stderr", "CUDA out of memory")
    outcomes = oracle.evaluate(IDS, XS)
    assert outcomes[0].value == 3.0 and outcomes[2].value == 11.0
    assert outcomes[1].error == "command exited with code 3; stderr: CUDA out of memory"
    assert outcomes[1].transient and not outcomes[0].transient  # a crash may pass: the campaign asks again


def test_a_command_that_is_not_found_fails_every_trial():
    outcomes = ShellOracle("oboptim-no-such-command-xyz", timeout=10).evaluate(IDS, XS)
    assert all(outcome.error.startswith("command exited with code 127; stderr:") for outcome in outcomes)
    assert "not found" in outcomes[0].error
    assert not outcomes[0].transient  # the shell's "not found" will not pass by asking again


def test_a_missing_working_directory_fails_every_trial(tmp_path):
    oracle = sum_oracle(cwd=tmp_path / "missing")
    outcomes = oracle.evaluate(IDS, XS)
    assert all(outcome.error.startswith("could not start command: FileNotFoundError") for outcome in outcomes)


def test_env_adds_variables_and_cwd_is_used(tmp_path):
    script = (
        "import json, os, sys\n"
        "for line in sys.stdin:\n"
        "    trial = json.loads(line)['trial_id']\n"
        "    value = float(os.environ['OBOPTIM_TEST_SCALE']) * len(os.listdir('.'))\n"
        "    print(json.dumps({'trial_id': trial, 'value': value}))\n"
    )
    (tmp_path / "score.py").write_text(script)
    oracle = ShellOracle(f"{shlex.quote(sys.executable)} score.py", env={"OBOPTIM_TEST_SCALE": "2.5"}, cwd=tmp_path)
    assert [outcome.value for outcome in oracle.evaluate([1], XS[:1])] == [2.5]


def _process_is_gone(pid: int) -> bool:
    """True once ``pid`` no longer exists or is a zombie waiting to be reaped by init."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


@pytest.mark.process
def test_timeout_kills_the_whole_process_group_and_keeps_earlier_answers(tmp_path):
    pid_file = tmp_path / "pids"
    oracle = ShellOracle(fixture_command("hanging_oracle.py", str(pid_file)), timeout=1.0)
    outcomes = oracle.evaluate(IDS, XS)
    assert outcomes[0].value == 1.5
    assert outcomes[1].error == "timed out after 1 s; stderr: waiting for the instrument"
    assert outcomes[2].error.startswith("timed out after 1 s") and outcomes[2].transient
    pids = [int(line) for line in pid_file.read_text().split()]
    assert len(pids) == 2
    deadline = time.monotonic() + 10  # an orphaned child is reaped by init shortly after it dies
    while not all(_process_is_gone(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(_process_is_gone(pid) for pid in pids), pids


def test_background_children_do_not_outlive_the_batch(tmp_path):
    pid_file = tmp_path / "pid"
    answer = fixture_command("jsonl_sum_oracle.py", "--skip", "9")
    command = f"sleep 600 & echo $! > {shlex.quote(str(pid_file))}; {answer}"
    outcomes = ShellOracle(command, timeout=30).evaluate(IDS, XS)
    # The sleeping child holds stdout open: the batch must end with the command, not at the timeout.
    assert [outcome.value for outcome in outcomes[:2]] == [3.0, 7.0]
    assert outcomes[2].error == "no answer for trial 9"
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while not _process_is_gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _process_is_gone(pid)


def test_stdin_carries_one_json_line_per_candidate(tmp_path):
    dump = tmp_path / "stdin.jsonl"
    oracle = ShellOracle(f"cat > {shlex.quote(str(dump))}", timeout=10)
    outcomes = oracle.evaluate([3, 4], np.arange(8.0).reshape(2, 2, 2))
    assert dump.read_text().splitlines() == [
        '{"trial_id": 3, "x": [[0.0, 1.0], [2.0, 3.0]]}',
        '{"trial_id": 4, "x": [[4.0, 5.0], [6.0, 7.0]]}',
    ]
    assert [outcome.error for outcome in outcomes] == ["no answer for trial 3", "no answer for trial 4"]


def test_a_sequence_campaigns_lines_carry_the_sequence_as_a_string_too(tmp_path):
    from oboptim.sequences import SequenceSpace

    dump = tmp_path / "stdin.jsonl"
    oracle = ShellOracle(f"cat > {shlex.quote(str(dump))}", timeout=10, sequence=SequenceSpace("ACGT", 4))
    oracle.evaluate([3, 4], np.array([[0, 3, 1, 2], [2, 2, 0, 1]]))
    assert dump.read_text().splitlines() == [
        '{"trial_id": 3, "x": [0, 3, 1, 2], "sequence": "ATCG"}',
        '{"trial_id": 4, "x": [2, 2, 0, 1], "sequence": "GGAC"}',
    ]


def test_an_oracle_command_built_for_a_sequence_task_sends_strings(tmp_path):
    from oboptim import load_task
    from oboptim.oracles import OracleContext, resolve_oracle

    dump = tmp_path / "stdin.jsonl"
    task = load_task("ehrlich", {"num_states": 4, "length": 6, "num_motifs": 1, "motif_length": 3,
                                 "quantization": 3})
    oracle = resolve_oracle(None, OracleContext(task=task), command=f"cat > {shlex.quote(str(dump))}")
    oracle.evaluate([1], np.array([[0, 1, 2, 3, 0, 1]]))
    assert json.loads(dump.read_text()) == {"trial_id": 1, "x": [0, 1, 2, 3, 0, 1], "sequence": "ABCDAB"}


def test_big_batches_and_floods_of_stderr_do_not_deadlock():
    xs = np.random.default_rng(0).normal(size=(8, 64, 64))  # about 1 MB of JSON on stdin, more than a pipe holds
    outcomes = sum_oracle("--flood-stderr", "1000000").evaluate(list(range(8)), xs)
    np.testing.assert_allclose([outcome.value for outcome in outcomes], xs.sum(axis=(1, 2)), rtol=1e-9)


def test_invalid_construction_is_rejected():
    with pytest.raises(ValueError):
        ShellOracle("  ")
    with pytest.raises(ValueError):
        ShellOracle("true", timeout=0)


# -- no command outlives its batch, however the batch ends ---------------------------------------------------------


def wait_for_pids(pid_file: Path, count: int = 2, timeout: float = 20.0) -> list[int]:
    """The pids the hanging fixture wrote, once it has written them all."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pid_file.exists() and len(pids := pid_file.read_text().split()) == count:
            return [int(pid) for pid in pids]
        time.sleep(0.02)
    raise AssertionError(f"{pid_file} did not get {count} pids in {timeout} s")


def assert_gone_soon(pids: list[int], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not all(_process_is_gone(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    alive = [pid for pid in pids if not _process_is_gone(pid)]
    for pid in alive:  # do not leave them behind for the rest of the suite
        os.kill(pid, signal.SIGKILL)
    assert not alive, f"still running: {alive}"


def test_ctrl_c_kills_the_command_and_keeps_its_answers(tmp_path):
    pid_file = tmp_path / "pids"
    oracle = ShellOracle(fixture_command("hanging_oracle.py", str(pid_file)), timeout=600)
    interrupter = threading.Thread(target=lambda: (wait_for_pids(pid_file), os.kill(os.getpid(), signal.SIGINT)))
    interrupter.start()
    with pytest.raises(OracleInterrupted) as info:
        oracle.evaluate(IDS, XS)
    interrupter.join()
    assert info.value.outcomes == {7: Outcome.success(1.5)}  # answered before the interrupt; 8 and 9 stay pending
    assert_gone_soon(wait_for_pids(pid_file))


def test_close_kills_a_command_still_running(tmp_path):
    pid_file = tmp_path / "pids"
    oracle = ShellOracle(fixture_command("hanging_oracle.py", str(pid_file)), timeout=600)
    closer = threading.Thread(target=lambda: (wait_for_pids(pid_file), oracle.close()))
    closer.start()
    outcomes = oracle.evaluate(IDS, XS)  # returns once close() killed the command
    closer.join()
    assert outcomes[0].value == 1.5 and outcomes[1].error.startswith("command was killed by SIGKILL")
    assert_gone_soon(wait_for_pids(pid_file))


def test_kill_9_of_the_campaign_process_kills_the_command_and_its_children(tmp_path):
    pid_file = tmp_path / "pids"
    command = fixture_command("hanging_oracle.py", str(pid_file))
    runner = subprocess.Popen([sys.executable, str(FIXTURES / "evaluate_oracle.py"), "command", command])
    try:
        pids = wait_for_pids(pid_file)
        runner.kill()  # nothing in the runner gets to clean up: the lifeline does
        runner.wait()
        assert_gone_soon(pids)
    finally:
        runner.kill()


# -- output is read as it arrives, in bounded memory --------------------------------------------------------------


def peak_memory_of_a_batch(junk_command: str) -> tuple[list, float]:
    """``(outcomes as [value, error] pairs, peak RSS in MB)`` of a process scoring 2 trials with a command that
    prints ``junk_command``'s output before its answers."""
    command = f"{junk_command}; echo; {fixture_command('jsonl_sum_oracle.py')}"
    result = subprocess.run([sys.executable, str(FIXTURES / "evaluate_oracle.py"), "command", command],
                            capture_output=True, text=True, timeout=60, check=True)
    report = json.loads(result.stdout)
    return report["outcomes"], report["max_rss_mb"]


@pytest.mark.parametrize(
    "junk_command",
    [
        "yes \"$(head -c 200 /dev/zero | tr '\\0' j)\" | head -c 200000000",  # 200 MB of 200-byte lines
        "head -c 200000000 /dev/zero | tr '\\0' x",  # one line of 200 MB
    ],
    ids=["many-lines", "one-huge-line"],
)
def test_200_mb_of_output_is_parsed_in_bounded_memory(junk_command):
    outcomes, peak_mb = peak_memory_of_a_batch(junk_command)
    assert outcomes == [[3.0, None], [7.0, None]]
    assert peak_mb < 120, f"peak RSS {peak_mb:.0f} MB"  # measured: 33-49 MB (600-950 MB when stdout was buffered)


def test_ignored_lines_are_counted_and_a_few_are_described():
    junk = "".join(f"junk {i}\\n" for i in range(20)) + "x" * 200 + "\\n"
    oracle = ShellOracle(f"printf '{junk}'; cat > /dev/null", timeout=10)
    outcome = oracle.evaluate([1], XS[:1])[0]
    assert outcome.error.startswith("no answer for trial 1; ignored 21 stdout lines, first: line 1 is not JSON: "
                                    "'junk 0'")


def test_an_overlong_line_is_dropped_up_to_its_newline_with_a_note():
    from oboptim.oracles._shell_output import AnswerStream

    stream = AnswerStream({7, 8}, max_line_bytes=1000)
    # the answer for 8 ends the overlong line, so it is dropped with it; the answer for 7 spans two chunks
    for chunk in [b"x" * 600, b"x" * 600, b'{"trial_id": 8, "value": 2}\n{"trial_id": 7, ', b'"value": 1.5}']:
        stream.feed(chunk)
    stream.finish()
    assert stream.outcomes == {7: Outcome.success(1.5)}
    assert stream.notes == ["line 1 is longer than 1000 bytes"] and stream.ignored == 1
