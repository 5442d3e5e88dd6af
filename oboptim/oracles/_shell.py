"""A shell command as an oracle, speaking JSON lines.

Per batch the command runs once. It reads one JSON object per candidate on stdin::

    {"trial_id": 7, "x": [[0.1, 0.2], [0.3, 0.4]]}

and writes one JSON object per answered trial on stdout, in any order::

    {"trial_id": 7, "value": 1.25}
    {"trial_id": 8, "error": "instrument offline"}

Answers match trials by ``trial_id``. A trial without a valid answer fails with the most useful reason at hand: the
timeout, the exit code with the last line of stderr, or the lines that could not be read. The command runs in its own
process group, which is killed on a timeout and after the command ends, so no child outlives its batch.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np

from oboptim.oracles._base import Oracle, Outcome, check_batch, describe_exception, one_line, outcome_from_value

TERMINATE_GRACE_S = 2.0  # between SIGTERM and SIGKILL, for a command that cleans up after itself
PIPE_CLOSE_GRACE_S = 2.0  # after the command ended, for its output to arrive
SHOWN_LINE_CHARS = 80


@dataclass
class _Run:
    """What one run of the command left behind."""

    stdout: str = ""
    stderr: str = ""
    returncode: int | None = None
    timed_out: bool = False
    start_error: str | None = None


@dataclass
class _Answers:
    """Per-trial answers parsed from stdout, and notes on the lines that were ignored."""

    outcomes: dict[int, Outcome] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)


class ShellOracle(Oracle):
    """Runs ``command`` through the shell once per batch (see the module docstring for the protocol).

    Args:
        command: a shell command line, e.g. ``"python score.py --gpu 0"``.
        timeout: seconds a batch may take; then the command's process group is killed and unanswered trials fail.
        env: extra environment variables, added to (and overriding) the current environment.
        cwd: working directory of the command (default: the current one).
        name: shown in logs; defaults to ``cmd:<command>``.
    """

    def __init__(
        self,
        command: str,
        timeout: float = 60.0,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike | None = None,
        name: str | None = None,
    ) -> None:
        if not command or not command.strip():
            raise ValueError("ShellOracle needs a non-empty command")
        if not timeout > 0:
            raise ValueError(f"ShellOracle's timeout must be positive, got {timeout}")
        self.command = command
        self.timeout = float(timeout)
        self.env = dict(env) if env is not None else None
        self.cwd = Path(cwd) if cwd is not None else None
        self.name = name or one_line(f"cmd:{command}", limit=120)

    def evaluate(self, trial_ids: Sequence[int], xs: np.ndarray) -> list[Outcome]:
        ids, xs = check_batch(trial_ids, xs)
        if not ids:
            return []
        run = self._run(_encode_batch(ids, xs))
        answers = _parse_answers(run.stdout, set(ids))
        reason_for_missing = self._reason_for_missing(run, answers)
        return [answers.outcomes.get(trial_id) or Outcome.failure(reason_for_missing(trial_id)) for trial_id in ids]

    def _run(self, stdin_text: str) -> _Run:
        env = {**os.environ, **self.env} if self.env is not None else None
        try:
            process = subprocess.Popen(
                self.command, shell=True, cwd=self.cwd, env=env,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                start_new_session=True,  # its own process group, so that its children can be killed with it
            )
        except OSError as exc:  # e.g. a missing cwd
            return _Run(start_error=f"could not start command: {describe_exception(exc)}")
        # Threads feed stdin and drain stdout/stderr, so that no full pipe blocks either side; we wait on the
        # process itself, not on the pipes, because a background child may hold them open after the command ends.
        pipes = _PipeThreads(process, stdin_text.encode("utf-8"))
        try:
            process.wait(timeout=self.timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            _terminate_group(process)
            timed_out = True
        _signal_group(process.pid, signal.SIGKILL)  # children that outlived the command
        stdout, stderr = pipes.collect()
        return _Run(stdout, stderr, process.returncode, timed_out=timed_out)

    def _reason_for_missing(self, run: _Run, answers: _Answers):
        """``trial_id -> reason`` for trials without a valid answer."""
        if run.start_error:
            return lambda trial_id: run.start_error
        details = []
        if answers.ignored:
            count = len(answers.ignored)
            details.append(f"ignored {count} stdout line{'s' * (count > 1)}, first: {answers.ignored[0]}")
        stderr_line = _last_line(run.stderr)
        if stderr_line:
            details.append(f"stderr: {stderr_line}")
        if run.timed_out:
            head = f"timed out after {self.timeout:g} s"
        elif run.returncode:
            head = f"command {_describe_exit(run.returncode)}"
        else:
            head = None

        def reason(trial_id: int) -> str:
            return "; ".join([head or f"no answer for trial {trial_id}", *details])

        return reason


def _encode_batch(ids: list[int], xs: np.ndarray) -> str:
    """One ``{"trial_id", "x"}`` JSON line per candidate."""
    return "".join(json.dumps({"trial_id": trial_id, "x": x.tolist()}) + "\n" for trial_id, x in zip(ids, xs))


def _parse_answers(stdout: str, expected_ids: set[int]) -> _Answers:
    """Valid answers by trial id (the first answer for a trial wins); unreadable lines become notes."""
    answers = _Answers()
    for line_number, line in enumerate(stdout.splitlines(), start=1):
        if not line.strip():
            continue
        trial_id, outcome, problem = _parse_line(line, expected_ids)
        if problem is not None:
            answers.ignored.append(f"line {line_number} {problem}: {one_line(line, SHOWN_LINE_CHARS)!r}")
        elif trial_id not in answers.outcomes:
            answers.outcomes[trial_id] = outcome
    return answers


def _parse_line(line: str, expected_ids: set[int]) -> tuple[int | None, Outcome | None, str | None]:
    """``(trial_id, outcome, None)`` for a valid answer, else ``(None, None, what is wrong)``."""
    try:
        message = json.loads(line)
    except ValueError:
        return None, None, "is not JSON"
    if not isinstance(message, dict):
        return None, None, "is not a JSON object"
    trial_id = message.get("trial_id")
    if isinstance(trial_id, bool) or not isinstance(trial_id, int):
        return None, None, "has no integer trial_id"
    if trial_id not in expected_ids:
        return None, None, f"answers trial {trial_id}, which is not in this batch"
    if message.get("error") is not None:
        reason = str(message["error"]) or "the command reported an error without a reason"
        return trial_id, Outcome.failure(reason), None
    if "value" in message:
        return trial_id, outcome_from_value(message["value"]), None
    return None, None, "has neither value nor error"


class _PipeThreads:
    """Writes a command's stdin and reads its stdout and stderr in background threads."""

    def __init__(self, process: subprocess.Popen, stdin_bytes: bytes) -> None:
        self._stdout: list[bytes] = []
        self._stderr: list[bytes] = []
        self._threads = [
            threading.Thread(target=_feed, args=(process.stdin, stdin_bytes), daemon=True),
            threading.Thread(target=_drain, args=(process.stdout, self._stdout), daemon=True),
            threading.Thread(target=_drain, args=(process.stderr, self._stderr), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def collect(self) -> tuple[str, str]:
        """``(stdout, stderr)`` read so far, after waiting briefly for the pipes to close."""
        for thread in self._threads:
            thread.join(timeout=PIPE_CLOSE_GRACE_S)  # a process that escaped the group may keep a pipe open
        return _decode(self._stdout), _decode(self._stderr)


def _feed(stream: IO[bytes], data: bytes) -> None:
    try:
        stream.write(data)
    except OSError:  # the command exited (or closed stdin) without reading everything
        pass
    finally:
        try:
            stream.close()
        except OSError:  # flushing into a closed pipe
            pass


def _drain(stream: IO[bytes], chunks: list[bytes]) -> None:
    try:
        for chunk in iter(lambda: stream.read1(65536), b""):
            chunks.append(chunk)
    except (OSError, ValueError):  # closed under us
        pass
    finally:
        stream.close()


def _decode(chunks: list[bytes]) -> str:
    return b"".join(chunks).decode("utf-8", errors="replace")


def _terminate_group(process: subprocess.Popen) -> None:
    """SIGTERM the command's process group, then SIGKILL it if the command is still there after a grace period."""
    _signal_group(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=TERMINATE_GRACE_S)
    except subprocess.TimeoutExpired:
        _signal_group(process.pid, signal.SIGKILL)
        process.wait()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):  # the group is already gone
        pass


def _describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with code {returncode}"


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return one_line(lines[-1], limit=300) if lines else ""
