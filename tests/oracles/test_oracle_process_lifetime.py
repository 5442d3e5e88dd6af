"""``oboptim run --oracle-cmd`` leaves no oracle process behind, however the run ends: kill -9, Ctrl-C or SIGTERM.

The three runs start together (each one imports torch and proposes a round before its oracle starts, which is most
of this test's time), each with an oracle that answers one trial, starts a child and hangs; each run is then stopped
by one signal while its oracle hangs.
"""

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.process

FIXTURES = Path(__file__).parent / "fixtures"
STARTUP_TIMEOUT_S = 90.0  # imports and round 0 of three concurrent runs on a busy 2-core machine


def start_run(directory: Path) -> subprocess.Popen:
    oracle = " ".join(shlex.quote(part) for part in (sys.executable, str(FIXTURES / "hanging_oracle.py"),
                                                       str(directory / "pids")))
    command = [sys.executable, "-m", "oboptim", "run", "gmm2d", "--name", "orphans",
               "--storage", f"sqlite:///{directory / 'runs.db'}", "--budget", "2", "--batch-size", "2",
               "--steps", "2", "--particles", "2", "--quiet", "--oracle-cmd", oracle, "--oracle-timeout", "600"]
    return subprocess.Popen(command, cwd=directory, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def oracle_pids(directory: Path) -> list[int] | None:
    """The pids of the oracle command and of its child, once the oracle has written both."""
    path = directory / "pids"
    pids = path.read_text().split() if path.exists() else []
    return [int(pid) for pid in pids] if len(pids) == 2 else None


def is_gone(pid: int) -> bool:
    """True once ``pid`` no longer exists or is a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


def wait_until(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.skipif(sys.platform != "linux", reason="reads process states from /proc")
def test_no_oracle_process_outlives_a_run_stopped_by_kill_9_ctrl_c_or_sigterm(tmp_path):
    signals = {"kill-9": signal.SIGKILL, "ctrl-c": signal.SIGINT, "sigterm": signal.SIGTERM}
    directories = {name: tmp_path / name for name in signals}
    for directory in directories.values():
        directory.mkdir()
    runs = {name: start_run(directory) for name, directory in directories.items()}
    try:
        started = wait_until(lambda: all(oracle_pids(d) or run.poll() is not None
                                         for d, run in zip(directories.values(), runs.values())),
                             STARTUP_TIMEOUT_S)
        pids = {name: oracle_pids(directory) for name, directory in directories.items()}
        assert started and all(pids.values()), {name: run.poll() for name, run in runs.items()}
        for name, sig in signals.items():
            runs[name].send_signal(sig)
        outputs = {name: run.communicate(timeout=30) for name, run in runs.items()}
        left = {name: [pid for pid in pids[name] if not wait_until(lambda pid=pid: is_gone(pid), 5.0)]
                for name in signals}
        assert left == {name: [] for name in signals}, "oracle processes left running"
        assert runs["kill-9"].returncode == -signal.SIGKILL
        for name in ("ctrl-c", "sigterm"):  # both end like Ctrl-C: status 130 and the one-line note
            assert runs[name].returncode == 130, (name, outputs[name][1])
            assert "interrupted" in outputs[name][1] and "Traceback" not in outputs[name][1], outputs[name][1]
    finally:
        for name, run in runs.items():
            run.kill()
            for pid in oracle_pids(directories[name]) or []:
                if not is_gone(pid):
                    os.kill(pid, signal.SIGKILL)
