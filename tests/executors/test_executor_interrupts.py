"""``oboptim run --executor``: a value is stored within a second of its return, even while the driver proposes, so
Ctrl-C and ``kill -9`` lose nothing that came back and a resumed run queries nothing twice; no process the driver
started outlives it.

Each test runs the real command on a task whose denoiser sleeps (proposing a round takes about 3 s, while the oracle
takes 0.5 s), waits until several values have come back and the slots have been idle for over a second (the driver
is proposing), stops the driver, then compares the database with the oracle's own log of what it returned and when.
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

from oboptim.storage import Storage, TrialState

pytestmark = [pytest.mark.process, pytest.mark.cluster]

HERE = Path(__file__).parent
TASK = f"{HERE / 'slow_task.py'}:TASK"
START_TIMEOUT_S = 120.0  # imports, the first round and the workers' start on a busy 2-core machine
IDLE_BEFORE_SIGNAL_S = 1.3  # the last value came back this long before the signal: the driver is proposing

MEASURE = '''
import os, time
import numpy as np


def measure(x):
    """Sleeps, then logs each row as: x (float64 bytes, hex), the value, the time it returns."""
    time.sleep(float(os.environ["MEASURE_S"]))
    x = np.asarray(x, dtype=np.float64)
    values = [float(-np.sum((row - 4.0) ** 2)) for row in x]
    with open(os.environ["MEASURE_LOG"], "a") as log:
        log.write("".join(f"{row.tobytes().hex()} {value!r} {time.time()!r}\\n" for row, value in zip(x, values)))
    return values
'''


class Run:
    """One ``oboptim run`` of campaign ``name`` with the logging oracle, in a session of its own."""

    def __init__(self, tmp_path: Path, url: str, executor: str) -> None:
        self.tmp_path, self.url, self.executor = tmp_path, url, executor
        self.name = f"intr-{uuid.uuid4().hex[:8]}"
        (tmp_path / "measure.py").write_text(MEASURE)
        self.log = tmp_path / "measure.log"
        self.stderr = tmp_path / "stderr.txt"

    def command(self, budget: int) -> list[str]:
        return [sys.executable, "-m", "oboptim", "run", TASK, "--name", self.name, "--storage", self.url,
                "--budget", str(budget), "--quiet", "--oracle", f"{self.tmp_path / 'measure.py'}:measure",
                "--executor", self.executor]

    def env(self, *, slow: bool) -> dict[str, str]:
        return {**os.environ, "MEASURE_LOG": str(self.log), "MEASURE_S": "0.5" if slow else "0.02",
                "SLOW_DENOISER_S": "0.3" if slow else "0"}

    def start(self) -> subprocess.Popen:
        with open(self.stderr, "w") as err:
            return subprocess.Popen(self.command(40), env=self.env(slow=True), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)

    def returned(self) -> list[tuple[str, float, float]]:
        """``(x, value, time)`` of each value the oracle returned, in order."""
        lines = self.log.read_text().splitlines(keepends=True) if self.log.exists() else []
        rows = [line.split() for line in lines if line.endswith("\n")]
        return [(key, float(value), float(at)) for key, value, at in rows]

    def wait_until_busy_proposing(self, process: subprocess.Popen, count: int = 4) -> None:
        """Until ``count`` values came back and none for ``IDLE_BEFORE_SIGNAL_S`` (the driver is proposing)."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert process.poll() is None, self.stderr.read_text()
            assert time.monotonic() < deadline, f"not {count} values in time: {self.returned()}"
            returned = self.returned()
            if len(returned) >= count and time.time() - returned[-1][2] >= IDLE_BEFORE_SIGNAL_S:
                return
            time.sleep(0.05)

    def stored(self) -> dict[str, tuple[str, float | None]]:
        """``x -> (state, value)`` of every trial in the database."""
        with Storage(self.url) as storage:
            campaign = storage.get_campaign(self.name)
            return {t.x.astype("float64").tobytes().hex(): (t.state, t.value) for t in storage.trials(campaign.id)}

    def check_nothing_returned_was_lost(self, signalled_at: float) -> None:
        stored = self.stored()
        early = {key: value for key, value, at in self.returned() if at < signalled_at - 1.0}
        assert len(early) >= 2
        lost = {key: (value, stored.get(key)) for key, value in early.items()
                if stored.get(key) != (TrialState.COMPLETED, value)}
        assert not lost, f"returned over 1 s before the signal, not stored as completed: {lost}"

    def resume_and_check_nothing_is_queried_twice(self, signalled_at: float) -> None:
        """Resume to exactly the trials already proposed (nothing new); then no x that returned before the signal
        may be in the log twice (one still running at ``kill -9`` may log its value as it dies, unheard)."""
        budget = len(self.stored())
        resumed = subprocess.run(self.command(budget), env=self.env(slow=False), stdin=subprocess.DEVNULL,
                                 capture_output=True, text=True, timeout=180)
        assert resumed.returncode == 0, resumed.stderr
        stored = self.stored()
        assert all(state == TrialState.COMPLETED for state, _ in stored.values())
        before = {key for key, _, at in self.returned() if at < signalled_at}
        twice = {key: n for key, n in Counter(key for key, _, _ in self.returned()).items() if n > 1 and key in before}
        assert not twice, f"queried again after the resume: {twice}"


def descendants(pid: int) -> set[int]:
    """Every living process below ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def is_gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")


def alive_after(pids: set[int], seconds: float) -> dict[int, str]:
    """The processes of ``pids`` still alive after waiting up to ``seconds``, with their command lines."""
    deadline = time.monotonic() + seconds
    while any(not is_gone(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = {}
    for pid in pids:
        if not is_gone(pid):
            try:
                left[pid] = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:200]
            except OSError:
                pass
    return left


def kill_all(pids: set[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def signal_while_proposing(run: Run, send, then) -> float:
    """Start ``run``, ``send(process)`` a signal once it is busy proposing, then ``then(process, below, sent_at)``
    (``below``: the driver's descendants just before the signal); whatever the run started is killed at the end.
    Returns when the signal was sent."""
    process = run.start()
    below: set[int] = set()
    try:
        run.wait_until_busy_proposing(process)
        below = descendants(process.pid)
        signalled_at = time.time()
        send(process)
        then(process, below, signalled_at)
    finally:
        process.kill()
        kill_all(below | descendants(process.pid))
    return signalled_at


def ctrl_c(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGINT)  # Ctrl-C: the whole foreground process group


@pytest.mark.skipif(sys.platform != "linux", reason="reads process trees from /proc")
def test_ctrl_c_while_proposing_keeps_every_returned_value_and_prints_no_worker_traceback(tmp_path, storage_url):
    run = Run(tmp_path, storage_url, "process:2")

    def then(process, below, signalled_at):
        assert process.wait(timeout=60) == 130, run.stderr.read_text()
        run.check_nothing_returned_was_lost(signalled_at)
        stderr = run.stderr.read_text()
        assert "interrupted" in stderr and "Traceback" not in stderr, stderr
        assert alive_after(below, 10.0) == {}

    signalled_at = signal_while_proposing(run, ctrl_c, then)
    run.resume_and_check_nothing_is_queried_twice(signalled_at)


@pytest.mark.skipif(sys.platform != "linux", reason="reads process trees from /proc")
def test_kill_9_while_proposing_keeps_every_returned_value_and_leaves_no_process_behind(tmp_path, storage_url):
    run = Run(tmp_path, storage_url, "process:2")

    def then(process, below, signalled_at):
        assert len(below) >= 3, below  # the pool's workers (each with its oracle worker) and its resource tracker
        process.wait(timeout=10)
        run.check_nothing_returned_was_lost(signalled_at)
        left = alive_after(below, 10.0)
        assert left == {}, f"processes of the killed driver still alive 10 s later: {left}"

    signalled_at = signal_while_proposing(run, lambda process: process.send_signal(signal.SIGKILL), then)
    run.resume_and_check_nothing_is_queried_twice(signalled_at)


@pytest.mark.skipif(sys.platform != "linux", reason="reads process trees from /proc")
def test_ray_ctrl_c_while_proposing_keeps_every_returned_value(tmp_path):
    pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'oboptim[ray]'")
    run = Run(tmp_path, f"sqlite:///{tmp_path / 'runs.db'}", "ray:2")

    def then(process, below, signalled_at):
        assert process.wait(timeout=60) == 130, run.stderr.read_text()
        run.check_nothing_returned_was_lost(signalled_at)

    signalled_at = signal_while_proposing(run, ctrl_c, then)
    run.resume_and_check_nothing_is_queried_twice(signalled_at)
