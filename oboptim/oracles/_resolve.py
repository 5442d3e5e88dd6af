"""From what a user typed (``--oracle``, ``--oracle-cmd``) or passed (a callable) to an :class:`Oracle`.

Accepted forms:

- nothing: the task's own oracle;
- a Python callable ``f(x [B, *shape]) -> B values``, or an :class:`Oracle` instance;
- ``module:function`` or ``path/to/file.py:function`` (the function may also be an Oracle instance or subclass);
- an oracle kind of :data:`oboptim.oracles.ORACLE_KINDS`: ``human`` (terminal) or ``human-web`` (the page of
  ``oboptim serve``);
- a name the task offers (``Task.named_oracles``), e.g. ``jpeg`` or ``classifier:3``;
- ``command="shell command"``: a :class:`ShellOracle` speaking JSON lines.

The context's timeout (``--oracle-timeout``) covers what runs outside this process: a shell command, and a function
named by ``module:function`` or ``path/to/file.py:function``, which runs in a worker process for it. It does not
cover a task's own oracles, the human oracles (a person takes the time they need), an :class:`Oracle` instance, or a
callable passed in Python, which run in this process; wrap such a function in ``CallableOracle(fn, timeout=...)``.

What an oracle kind needs from its campaign comes in an explicit :class:`OracleContext`. A new kind is one function
``factory(context) -> Oracle`` registered under a name::

    ORACLE_KINDS.register("my-lab", lambda context: MyLabOracle(...), help="my lab's robot")
"""

from __future__ import annotations

from typing import Any

from oboptim._registry import ORACLE_KINDS
from oboptim._specs import SpecError, absolute_spec, load_object
from oboptim.errors import OboptimError
from oboptim.oracles._base import Oracle
from oboptim.oracles._callable import CallableOracle
from oboptim.oracles._context import OracleContext
from oboptim.oracles._shell import ShellOracle


class OracleSpecError(OboptimError):
    """An oracle spec that names no oracle we can build."""


def resolve_oracle(spec: Any = None, context: OracleContext | None = None, *, command: str | None = None) -> Oracle:
    """The oracle a campaign should query.

    Args:
        spec: ``None`` (the task's own oracle), a callable, an :class:`Oracle`, an oracle kind's name (``"human"``),
            a task's named oracle (``"jpeg"``), or ``"module:function"`` / ``"path/to/file.py:function"``.
        context: the campaign the oracle is for (its task, storage, name and oracle timeout).
        command: a shell command line; gives a :class:`ShellOracle` (exclusive with ``spec``).

    Raises:
        OracleSpecError: the spec names no oracle; the message lists the accepted forms.
    """
    context = context or OracleContext()
    task = context.task
    if command is not None:
        if spec is not None:
            raise OracleSpecError("give either an oracle (--oracle) or a shell command (--oracle-cmd), not both")
        if not command.strip():
            raise OracleSpecError("the oracle command (--oracle-cmd) is empty: give a shell command line")
        return ShellOracle(command, timeout=context.timeout, sequence=getattr(task, "sequence", None))
    if spec is None:
        if task is None:
            raise OracleSpecError(f"no oracle given and no task to take it from: {_accepted_forms(task)}")
        return CallableOracle(task.oracle, name=f"task:{task.name}")
    if isinstance(spec, Oracle):
        return spec
    if isinstance(spec, str):
        return _oracle_from_string(spec, context)
    if callable(spec):
        return CallableOracle(spec)
    raise OracleSpecError(f"oracle {spec!r} is neither a callable nor a string: {_accepted_forms(task)}")


def _oracle_from_string(spec: str, context: OracleContext) -> Oracle:
    task = context.task
    name, _, argument = spec.partition(":")
    if task is not None and name in task.named_oracles:
        try:
            fn = task.named_oracles[name](argument or None)
        except (ValueError, TypeError) as exc:
            raise OracleSpecError(f"oracle {spec!r} of task {task.name}: {exc}") from exc
        return CallableOracle(fn, name=f"task:{task.name}:{spec}")
    if spec in ORACLE_KINDS:
        return ORACLE_KINDS.get(spec)(context)
    if ":" not in spec:
        raise OracleSpecError(f"unknown oracle {spec!r}: {_accepted_forms(task)}")
    try:
        loaded = load_object(spec, what="oracle")
    except SpecError as exc:
        raise OracleSpecError(f"{exc}; {_accepted_forms(task)}") from exc
    if isinstance(loaded, Oracle):
        return loaded
    if isinstance(loaded, type) and issubclass(loaded, Oracle):
        return loaded()
    if callable(loaded):  # user code named by a spec: run in a worker process that the timeout can stop
        return CallableOracle(loaded, name=spec, timeout=context.timeout, spec=absolute_spec(spec))
    raise OracleSpecError(f"oracle {spec!r} is a {type(loaded).__name__}, not a function: {_accepted_forms(task)}")


def _accepted_forms(task: Any = None) -> str:
    named = "".join(f"--oracle {name}, " for name in ORACLE_KINDS.names())
    own = "".join(f"--oracle {name}, " for name in sorted(getattr(task, "named_oracles", {}) or {}))
    return (f"use --oracle module:function, --oracle path/to/file.py:function, {own}{named}"
            "or --oracle-cmd 'shell command'")


__all__ = ["OracleSpecError", "resolve_oracle"]
