"""A child process leading its own process group, which never outlives this process.

The oracles that run programs (a shell command per batch, a Python function in a worker process) start them through
:class:`ProcessGroup`: the child gets a new session, so that a timeout or an interrupt can kill it together with
every process it started, and a lifeline (:mod:`oboptim.oracles._lifeline`), so that the group dies with this
process even when nothing here runs any more (``kill -9``).
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable
from typing import Any

REAP_TIMEOUT_S = 5.0  # after SIGKILL, for the kernel to take the leader down


class ProcessGroup:
    """Starts ``argv_for(lifeline_fd)`` as the leader of a new process group, on a lifeline to this process.

    The child must call :func:`oboptim.oracles._lifeline.die_with_starter` on the descriptor it is given (the
    lifeline wrapper script and the function worker do).

    Args:
        argv_for: the child's command line, given the number of the lifeline descriptor it inherits.
        popen_kwargs: passed to :class:`subprocess.Popen` (streams, ``cwd``, ``env``).

    Raises:
        OSError: the child could not be started (e.g. a missing working directory).
    """

    def __init__(self, argv_for: Callable[[int], list[str]], **popen_kwargs: Any) -> None:
        lifeline_read, self._lifeline = os.pipe()
        try:
            self.process = subprocess.Popen(argv_for(lifeline_read), pass_fds=(lifeline_read,),
                                            start_new_session=True, **popen_kwargs)
        except BaseException:
            os.close(self._lifeline)
            raise
        finally:
            os.close(lifeline_read)

    @property
    def pid(self) -> int:
        """The leader's pid, which is also the group's id."""
        return self.process.pid

    def terminate(self, grace_s: float) -> None:
        """SIGTERM the group; SIGKILL it if the leader is still there after ``grace_s`` seconds."""
        self.signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            pass
        self.kill()

    def kill(self) -> None:
        """SIGKILL every process left in the group, reap the leader and cut the lifeline; safe to call again."""
        self.signal(signal.SIGKILL)
        try:
            self.process.wait(timeout=REAP_TIMEOUT_S)
        except subprocess.TimeoutExpired:  # not seen in practice: a process in uninterruptible sleep
            pass
        if self._lifeline >= 0:
            os.close(self._lifeline)
            self._lifeline = -1

    def signal(self, sig: signal.Signals) -> None:
        """Send ``sig`` to every process of the group (none left: nothing happens)."""
        try:
            os.killpg(self.process.pid, sig)
        except (ProcessLookupError, PermissionError):  # the group is already gone
            pass


def describe_exit(returncode: int | None) -> str:
    """``"exited with code 3"``, ``"was killed by SIGKILL"``: how a child ended, for a failed trial's reason."""
    if returncode is None:
        return "is still running"
    if returncode >= 0:
        return f"exited with code {returncode}"
    try:
        return f"was killed by {signal.Signals(-returncode).name}"
    except ValueError:
        return f"was killed by signal {-returncode}"
