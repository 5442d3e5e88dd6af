"""A lifeline: a process group that dies with the process that started it, however that process ends.

The starting process keeps the write end of a pipe and never writes to it; the group leader watches the read end. The
kernel closes the write end when the starter exits, normally or by ``kill -9``, and the watcher then kills its whole
process group, so no oracle command, grandchild or worker outlives the campaign that ran it. (Linux's parent-death
signal would reach the direct child only, and fires when the starting *thread* ends; the pipe has neither limit and
works on every POSIX system.)

Run as a script, this module is the wrapper that puts a shell command on a lifeline::

    python -I -S _lifeline.py FD COMMAND

It runs ``/bin/sh -c COMMAND`` in its own process group (the wrapper is the leader, started with
``start_new_session=True``), with the wrapper's standard streams, and exits as the command did (the same code, or
the same signal). It imports nothing but the standard library, so that it starts in milliseconds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time


def die_with_starter(lifeline_fd: int) -> threading.Thread:
    """Kill this process's group once ``lifeline_fd`` reads end-of-file (the starter closed it or exited)."""

    def watch() -> None:
        try:
            while os.read(lifeline_fd, 1):  # nobody writes: a byte is ignored, only EOF matters
                pass
        except OSError:  # the descriptor is broken: treat as the starter gone
            pass
        os.killpg(os.getpgrp(), signal.SIGKILL)

    thread = threading.Thread(target=watch, name="lifeline", daemon=True)
    thread.start()
    return thread


PARENT_CHECK_S = 0.5  # how often a process started without a lifeline descriptor looks for its parent


def die_with_parent(parent_pid: int, interval_s: float = PARENT_CHECK_S) -> threading.Thread:
    """Exit this process at once when its parent ``parent_pid`` is gone (it was re-parented), checked every
    ``interval_s`` seconds: the lifeline of a process whose starter cannot hand it a descriptor, such as a
    :mod:`multiprocessing` worker (spawned with only its own pipes). Its own children on a lifeline die with it."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(interval_s)
        os._exit(1)

    thread = threading.Thread(target=watch, name="lifeline", daemon=True)
    thread.start()
    return thread


def run_command(command: str) -> int:
    """Run ``command`` through ``/bin/sh`` in this process group; its exit code, or ``-signal`` if it was killed."""
    # The starter's SIGTERM to the group reaches the command directly; the wrapper waits for the command to end (it
    # may clean up during the grace period) instead of dying first. A handler, unlike SIG_IGN, is not inherited.
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    child = subprocess.Popen(command, shell=True)  # stdin, stdout, stderr inherited; other descriptors closed
    return child.wait()


def exit_like(returncode: int) -> None:
    """End this process as a child with ``returncode`` did: ``exit(code)``, or killed by the same signal."""
    if returncode >= 0:
        sys.exit(returncode)
    signal.signal(-returncode, signal.SIG_DFL)
    os.kill(os.getpid(), -returncode)
    sys.exit(128 - returncode)  # a signal whose default action is not to terminate


def main(argv: list[str]) -> None:
    if len(argv) != 3:
        sys.exit("usage: python _lifeline.py FD COMMAND")
    die_with_starter(int(argv[1]))
    exit_like(run_command(argv[2]))


if __name__ == "__main__":
    main(sys.argv)
