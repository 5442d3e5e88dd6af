"""From what a user typed (``--oracle``, ``--oracle-cmd``) or passed (a callable) to an :class:`Oracle`.

Accepted forms:

- nothing: the task's own oracle;
- a Python callable ``f(x [B, *shape]) -> B values``, or an :class:`Oracle` instance;
- ``module:function`` or ``path/to/file.py:function`` (the function may also be an Oracle instance or subclass);
- a registered name from :data:`ORACLE_FACTORIES`: ``human`` (terminal) or ``human-web`` (the `oboptim serve` page);
- a name the task offers (``Task.named_oracles``), e.g. ``jpeg`` or ``classifier:3``;
- ``command="shell command"``: a :class:`ShellOracle` speaking JSON lines.

A new kind of oracle plugs in with one line::

    ORACLE_FACTORIES["my-lab"] = lambda *, task, timeout: MyLabOracle(...)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from oboptim.errors import OboptimError
from oboptim.oracles.base import Oracle
from oboptim.oracles.callable import CallableOracle
from oboptim.oracles.human import TerminalHumanOracle
from oboptim.oracles.human_web import web_oracle_factory
from oboptim.oracles.shell import ShellOracle
from oboptim.task import Task, TaskNotFoundError, load_object


class OracleSpecError(OboptimError):
    """An oracle spec that names no oracle we can build."""


OracleFactory = Callable[..., Oracle]
"""Called as ``factory(task=Task | None, timeout=float)``; returns a ready oracle."""

ORACLE_FACTORIES: dict[str, OracleFactory] = {
    "human": lambda *, task=None, timeout=None: TerminalHumanOracle(),
    "human-web": web_oracle_factory,
}


def resolve_oracle(
    spec: Any = None,
    *,
    task: Task | None = None,
    command: str | None = None,
    timeout: float = 60.0,
) -> Oracle:
    """The oracle a campaign should query.

    Args:
        spec: ``None`` (the task's own oracle), a callable, an :class:`Oracle`, a registered name (``"human"``), or
            ``"module:function"`` / ``"path/to/file.py:function"``.
        task: the campaign's task, whose ``oracle`` is the default.
        command: a shell command line; gives a :class:`ShellOracle` (exclusive with ``spec``).
        timeout: seconds per batch for oracles that have a timeout (shell command).

    Raises:
        OracleSpecError: the spec names no oracle; the message lists the accepted forms.
    """
    if command is not None:
        if spec is not None:
            raise OracleSpecError("give either an oracle (--oracle) or a shell command (--oracle-cmd), not both")
        if not command.strip():
            raise OracleSpecError("the oracle command (--oracle-cmd) is empty: give a shell command line")
        return ShellOracle(command, timeout=timeout)
    if spec is None:
        if task is None:
            raise OracleSpecError(f"no oracle given and no task to take it from: {_accepted_forms()}")
        return CallableOracle(task.oracle, name=f"task:{task.name}")
    if isinstance(spec, Oracle):
        return spec
    if isinstance(spec, str):
        return _oracle_from_string(spec, task=task, timeout=timeout)
    if callable(spec):
        return CallableOracle(spec)
    raise OracleSpecError(f"oracle {spec!r} is neither a callable nor a string: {_accepted_forms()}")


def _oracle_from_string(spec: str, *, task: Task | None, timeout: float) -> Oracle:
    name, _, argument = spec.partition(":")
    if task is not None and name in task.named_oracles:
        try:
            fn = task.named_oracles[name](argument or None)
        except (ValueError, TypeError) as exc:
            raise OracleSpecError(f"oracle {spec!r} of task {task.name}: {exc}") from exc
        return CallableOracle(fn, name=f"task:{task.name}:{spec}")
    if spec in ORACLE_FACTORIES:
        return ORACLE_FACTORIES[spec](task=task, timeout=timeout)
    if ":" not in spec:
        raise OracleSpecError(f"unknown oracle {spec!r}: {_accepted_forms()}")
    try:
        loaded = load_object(spec, what="oracle")
    except TaskNotFoundError as exc:
        raise OracleSpecError(f"{exc}; {_accepted_forms()}") from exc
    if isinstance(loaded, Oracle):
        return loaded
    if isinstance(loaded, type) and issubclass(loaded, Oracle):
        return loaded()
    if callable(loaded):
        return CallableOracle(loaded, name=spec)
    raise OracleSpecError(f"oracle {spec!r} is a {type(loaded).__name__}, not a function: {_accepted_forms()}")


def _accepted_forms() -> str:
    named = "".join(f"--oracle {name}, " for name in sorted(ORACLE_FACTORIES))
    return f"use --oracle module:function, --oracle path/to/file.py:function, {named}or --oracle-cmd 'shell command'"
