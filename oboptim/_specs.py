"""Loading a user's object from a spec: ``path/to/file.py:NAME`` or ``module:NAME`` (tasks, oracles).

A module spec is imported with the working directory on ``sys.path`` (a console script's own path does not hold it),
so ``--oracle my_lab:assay`` finds ``./my_lab.py`` as ``python -c`` would. A file spec is loaded by its resolved path,
once per process.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

from oboptim.errors import OboptimError


class SpecError(OboptimError, ValueError):
    """A spec that does not name an object that loads."""


def split_spec(spec: str, *, what: str) -> tuple[str, str]:
    """``(target, name)`` of ``target:NAME``; a one-line error for anything else."""
    target, _, name = spec.rpartition(":")
    if not target or not name:
        raise SpecError(f"{what} {spec!r} must look like path/to/file.py:NAME or module:NAME")
    return target, name


def absolute_spec(spec: str) -> str:
    """``spec`` with a ``file.py`` target named by its absolute path (``./lab.py:f`` and ``lab.py:f`` agree, and any
    directory or worker process finds the same file); a ``module:NAME`` spec as it is."""
    target, _, name = spec.rpartition(":")
    if target.endswith(".py") and name:
        return f"{Path(target).expanduser().resolve()}:{name}"
    return spec


def spec_file_digest(spec: str | None) -> str | None:
    """SHA-256 of the bytes of a ``file.py:NAME`` spec's file (None for a module spec, or a file that is gone)."""
    target = (spec or "").rpartition(":")[0]
    if not target.endswith(".py"):
        return None
    try:
        return hashlib.sha256(Path(target).read_bytes()).hexdigest()
    except OSError:
        return None


def load_object(spec: str, *, what: str) -> Any:
    """Load ``NAME`` from ``path/to/file.py:NAME`` or ``module:NAME``; a clear error if it does not load."""
    target, name = split_spec(spec, what=what)
    try:
        module = _load_file(target, what) if target.endswith(".py") else _import_module(target)
    except SpecError:
        raise
    except Exception as exc:  # the user's module failed to import: say which and why
        hint = ""
        if isinstance(exc, ModuleNotFoundError) and exc.name == target.split(".")[0]:
            hint = f" (looked in the working directory {os.getcwd()} and on sys.path)"
        raise SpecError(f"could not load {what} {spec!r}: {type(exc).__name__}: {exc}{hint}") from exc
    if not hasattr(module, name):
        raise SpecError(f"{what} {spec!r}: {target!r} has no attribute {name!r}")
    return getattr(module, name)


def _load_file(target: str, what: str) -> Any:
    path = Path(target).expanduser().resolve()
    if not path.is_file():
        raise SpecError(f"{what} file {target!r} does not exist")
    module_name = f"_oboptim_user_{path.stem}_{abs(hash(str(path)))}"
    module = sys.modules.get(module_name)
    if module is None:
        module_spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[module_name] = module
        try:
            module_spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[module_name]
            raise
    return module


def _import_module(name: str) -> Any:
    cwd = os.getcwd()
    added = cwd not in sys.path and "" not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(name)
    finally:
        if added:
            sys.path.remove(cwd)


__all__ = ["SpecError", "absolute_spec", "load_object", "spec_file_digest", "split_spec"]
