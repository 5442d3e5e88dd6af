"""A shell command as an oracle, speaking JSON lines.

Per batch the command runs once. It reads one JSON object per candidate on stdin::

    {"trial_id": 7, "x": [[0.1, 0.2], [0.3, 0.4]]}

For a sequence task (a :class:`oboptim.sequences.SequenceSpace` given as ``sequence``), ``x`` is the list of state
indices and ``sequence`` the same sequence as a string over the task's alphabet, as ``ask`` and ``export`` show it::

    {"trial_id": 7, "x": [0, 3, 1, 2], "sequence": "ADBC"}

and writes one JSON object per answered trial on stdout, in any order::

    {"trial_id": 7, "value": 1.25}
    {"trial_id": 8, "error": "instrument offline"}

Answers match trials by ``trial_id``. Other lines are ignored; stdout is read as it arrives and only the batch's
answers are kept (:mod:`oboptim.oracles._shell_output`), so a command may print as much as it likes. A trial without a
valid answer fails with the most useful reason at hand: the timeout, the exit code with the last line of stderr, or
the lines that could not be read; a timeout or a crash is a transient failure, retried by the campaign.

The command runs in its own process group, on a lifeline to this process (:mod:`oboptim.oracles._lifeline`): the
group is killed on a timeout, after the command ends, when the batch is interrupted (Ctrl-C, SIGTERM), and when this
process dies without a chance to clean up (``kill -9``). No child outlives its batch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

import numpy as np

from oboptim.oracles._base import Oracle, check_batch, describe_exception, one_line
from oboptim.oracles._outcome import OracleInterrupted, Outcome
from oboptim.oracles._process_group import ProcessGroup, describe_exit
from oboptim.oracles._shell_output import AnswerStream, TailBuffer

if TYPE_CHECKING:
    from oboptim.sequences import SequenceSpace

TERMINATE_GRACE_S = 2.0  # between SIGTERM and SIGKILL, for a command that cleans up after itself
PIPE_CLOSE_GRACE_S = 2.0  # after the command ended, for its output to arrive
SHELL_USAGE_ERRORS = (126, 127)  # the shell's "not executable" and "not found": asking again will not help
LIFELINE_SCRIPT = Path(__file__).with_name("_lifeline.py")


@dataclass
class _Run:
    """How one run of the command ended (its answers are in an :class:`AnswerStream`)."""

    stderr: str = ""
    returncode: int | None = None
    timed_out: bool = False
    start_error: str | None = None


class ShellOracle(Oracle):
    """Runs ``command`` through the shell once per batch (see the module docstring for the protocol).

    Args:
        command: a shell command line, e.g. ``"python score.py --gpu 0"``.
        timeout: seconds a batch may take; then the command's process group is killed and unanswered trials fail.
        env: extra environment variables, added to (and overriding) the current environment.
        cwd: working directory of the command (default: the current one).
        name: shown in logs; defaults to ``cmd:<command>``.
        sequence: the campaign's sequence space, for a sequence task: each line then carries ``"sequence"``, the
            candidate as a string, besides ``"x"`` (None: ``"x"`` alone).
    """

    def __init__(
        self,
        command: str,
        timeout: float = 60.0,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike | None = None,
        name: str | None = None,
        sequence: SequenceSpace | None = None,
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
        self.sequence = sequence
        self._running: set[ProcessGroup] = set()  # for close() from another thread while a batch runs

    def evaluate(self, trial_ids: Sequence[int], xs: np.ndarray) -> list[Outcome]:
        ids, xs = check_batch(trial_ids, xs)
        if not ids:
            return []
        answers = AnswerStream(set(ids))
        try:
            run = self._run(_encode_batch(ids, xs, self.sequence), answers)
        except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM while the command ran: keep what it answered
            raise OracleInterrupted(f"interrupted while {self.name} ran", answers.outcomes) from exc
        reason_for_missing = self._reason_for_missing(run, answers)
        return [answers.outcomes.get(trial_id) or reason_for_missing(trial_id) for trial_id in ids]

    def close(self) -> None:
        """Kill the process group of any batch still running (e.g. when another thread gives up on it)."""
        for group in list(self._running):
            group.kill()

    def _run(self, stdin_text: str, answers: AnswerStream) -> _Run:
        env = {**os.environ, **self.env} if self.env is not None else None
        try:
            group = ProcessGroup(
                lambda fd: [sys.executable, "-I", "-S", str(LIFELINE_SCRIPT), str(fd), self.command],
                cwd=self.cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )
        except OSError as exc:  # e.g. a missing cwd
            return _Run(start_error=f"could not start command: {describe_exception(exc)}")
        self._running.add(group)
        stderr = TailBuffer()
        # Threads feed stdin and parse stdout/stderr as they arrive, so that no full pipe blocks either side; we wait
        # on the process itself, not on the pipes, because a background child may hold them open after it ends.
        pipes = _PipeThreads(group.process, stdin_text.encode("utf-8"), answers.feed, stderr.feed)
        timed_out = False
        try:
            group.process.wait(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            group.terminate(TERMINATE_GRACE_S)
            timed_out = True
        finally:  # every way out, an interrupt included: children that outlived the command go too
            group.kill()
            self._running.discard(group)
            pipes.join()
        answers.finish()
        return _Run(stderr.text(), group.process.returncode, timed_out=timed_out)

    def _reason_for_missing(self, run: _Run, answers: AnswerStream) -> Callable[[int], Outcome]:
        """``trial_id -> failed outcome`` for trials without a valid answer."""
        if run.start_error:
            return lambda trial_id: Outcome.failure(run.start_error, transient=True)
        details = []
        if answers.ignored:
            count = answers.ignored
            details.append(f"ignored {count} stdout line{'s' * (count > 1)}, first: {answers.notes[0]}")
        stderr_line = _last_line(run.stderr)
        if stderr_line:
            details.append(f"stderr: {stderr_line}")
        if run.timed_out:
            head, transient = f"timed out after {self.timeout:g} s", True
        elif run.returncode:
            head, transient = f"command {describe_exit(run.returncode)}", run.returncode not in SHELL_USAGE_ERRORS
        else:
            head, transient = None, False

        def reason(trial_id: int) -> Outcome:
            return Outcome.failure("; ".join([head or f"no answer for trial {trial_id}", *details]),
                                   transient=transient)

        return reason


def _encode_batch(ids: list[int], xs: np.ndarray, sequence: SequenceSpace | None = None) -> str:
    """One ``{"trial_id", "x"}`` JSON line per candidate, with ``"sequence"`` (a string) when ``sequence`` is given."""
    lines = []
    for trial_id, x in zip(ids, xs):
        line = {"trial_id": trial_id, "x": x.tolist()}
        if sequence is not None:
            line["sequence"] = sequence.format(x)
        lines.append(json.dumps(line) + "\n")
    return "".join(lines)


class _PipeThreads:
    """Writes a command's stdin, and hands its stdout and stderr chunks to consumers, in background threads."""

    def __init__(self, process: subprocess.Popen, stdin_bytes: bytes, on_stdout: Callable[[bytes], None],
                 on_stderr: Callable[[bytes], None]) -> None:
        self._threads = [
            threading.Thread(target=_feed, args=(process.stdin, stdin_bytes), daemon=True),
            threading.Thread(target=_drain, args=(process.stdout, on_stdout), daemon=True),
            threading.Thread(target=_drain, args=(process.stderr, on_stderr), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def join(self) -> None:
        """Wait briefly for the pipes to close (a process that escaped the group may keep one open)."""
        for thread in self._threads:
            thread.join(timeout=PIPE_CLOSE_GRACE_S)


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


def _drain(stream: IO[bytes], consume: Callable[[bytes], None]) -> None:
    try:
        for chunk in iter(lambda: stream.read1(65536), b""):
            consume(chunk)
    except (OSError, ValueError):  # closed under us
        pass
    finally:
        stream.close()


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return one_line(lines[-1], limit=300) if lines else ""
