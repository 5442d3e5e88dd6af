"""Which oracle scores a campaign, remembered with it, so that a resumed run or a worker scores with the same one.

A campaign stores the identity of its oracle (config key ``oracle``) when it is created with one, or else on its
first run. Later runs and workers given no oracle use that one; a run given another oracle is refused unless the
user says so (``--oracle-change``, ``Campaign.run(oracle_change=True)``), and the change is recorded in the config's
``oracle_changes`` list (from, to, when, after how many finished trials). A file oracle is remembered with the
SHA-256 of its bytes: an edited file is another oracle.

The identities, by ``kind``:

- ``task``: the task's own oracle (no ``--oracle``);
- ``named``: an oracle the task offers (``jpeg``, ``classifier:3``);
- ``kind``: an oracle kind of :data:`oboptim.oracles.ORACLE_KINDS` (``human``, ``human-web``);
- ``file``: ``/absolute/path/file.py:function``, with its SHA-256;
- ``function``: ``module:function``;
- ``command``: an ``--oracle-cmd`` shell command;
- ``python``: a callable or :class:`Oracle` passed in Python, known by ``module:qualified_name`` (rebuilt from that
  when it is importable, e.g. a module-level function).

Example:
    >>> identify("lab.py:assay").describe()
    '--oracle /home/me/lab.py:assay'
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from oboptim._registry import ORACLE_KINDS
from oboptim._specs import SpecError, absolute_spec, load_object, spec_file_digest, split_spec
from oboptim.errors import ConfigError

ORACLE_KEY = "oracle"
ORACLE_CHANGES_KEY = "oracle_changes"
KINDS = ("task", "named", "kind", "file", "function", "command", "python")


@dataclass(frozen=True)
class OracleIdentity:
    """What a campaign remembers of its oracle.

    Attributes:
        kind: one of :data:`KINDS` (see the module docstring).
        spec: what rebuilds it: the ``--oracle`` text (a file by its absolute path), the shell command, or
            ``module:qualified_name`` of a Python callable; None for the task's own oracle.
        sha256: a file oracle's SHA-256 when it was remembered (None for other kinds, or a file that was gone).
    """

    kind: str
    spec: str | None = None
    sha256: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value is not None}

    @classmethod
    def from_json(cls, data: Any) -> OracleIdentity | None:
        """The identity stored as :meth:`to_json`, or None when none was (a campaign of an earlier version)."""
        if not isinstance(data, dict) or data.get("kind") not in KINDS:
            return None
        return cls(kind=data["kind"], spec=data.get("spec"), sha256=data.get("sha256"))

    def describe(self) -> str:
        """How a person would name it: ``--oracle lab.py:assay``, ``--oracle-cmd 'python sim.py'``, ..."""
        if self.kind == "task":
            return "the task's own oracle (no --oracle)"
        if self.kind == "command":
            return f"--oracle-cmd {self.spec!r}"
        if self.kind == "python":
            return f"the Python oracle {self.spec}"
        return f"--oracle {self.spec}"

    def same_oracle(self, other: OracleIdentity) -> bool:
        """Whether ``other`` names the same oracle (a file's contents are compared separately)."""
        return (self.kind, self.spec) == (other.kind, other.spec)

    def with_current_file(self) -> OracleIdentity:
        """This identity with the file's SHA-256 as it is now (a file oracle); other kinds unchanged."""
        return OracleIdentity(self.kind, self.spec, spec_file_digest(self.spec)) if self.kind == "file" else self

    def arguments(self) -> tuple[Any, str | None]:
        """``(oracle, oracle_command)`` for :meth:`oboptim.Campaign.run` that rebuild this oracle.

        Raises:
            ConfigError: a Python callable that cannot be imported again (a lambda, a function of ``__main__`` or
                defined inside another one).
        """
        if self.kind == "task":
            return None, None
        if self.kind == "command":
            return None, self.spec
        if self.kind == "python":
            module, _, name = (self.spec or "").partition(":")
            if module in ("", "__main__") or "<" in name or "." in name:
                raise ConfigError(f"this campaign is scored by {self.describe()}, which cannot be found again "
                                  "from its name: pass it again (run(oracle=...)), or pass oracle_change=True to "
                                  "score the rest with another oracle")
            try:
                return load_object(f"{module}:{name}", what="oracle"), None
            except SpecError as exc:
                raise ConfigError(f"this campaign is scored by {self.describe()}, which does not load ({exc}): "
                                  "pass it again, or pass oracle_change=True") from None
        return self.spec, None


def identify(oracle: Any = None, command: str | None = None, task: Any = None) -> OracleIdentity:
    """The identity of the oracle that ``Campaign.run(oracle=..., oracle_command=...)`` would build.

    Args:
        oracle: what ``--oracle`` said, a callable or an :class:`~oboptim.oracles.Oracle`, or None.
        command: the ``--oracle-cmd`` shell command, or None.
        task: the campaign's task (to tell its named oracles from ``module:function`` specs).
    """
    if command is not None:
        return OracleIdentity("command", command.strip())
    if oracle is None:
        return OracleIdentity("task")
    if isinstance(oracle, str):
        name = oracle.partition(":")[0]
        if task is not None and name in (getattr(task, "named_oracles", None) or {}):
            return OracleIdentity("named", oracle)
        if oracle in ORACLE_KINDS:
            return OracleIdentity("kind", oracle)
        try:
            target, _ = split_spec(oracle, what="oracle")
        except SpecError:
            return OracleIdentity("function", oracle)  # resolve_oracle gives the one-line error
        if target.endswith(".py"):
            spec = absolute_spec(oracle)
            return OracleIdentity("file", spec, spec_file_digest(spec))
        return OracleIdentity("function", oracle)
    target = oracle if callable(oracle) and hasattr(oracle, "__qualname__") else type(oracle)
    module = getattr(target, "__module__", None) or ""
    return OracleIdentity("python", f"{module}:{getattr(target, '__qualname__', type(oracle).__name__)}")


__all__ = ["ORACLE_CHANGES_KEY", "ORACLE_KEY", "OracleIdentity", "identify"]
