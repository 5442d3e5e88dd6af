"""Tasks: a prior, a black-box oracle, a feature map and campaign defaults, under one name.

Built-in tasks live in :mod:`oboptim.tasks` (the repository's ``tasks/`` folder). A user's own task loads from
``path/to/file.py:NAME`` or ``module:NAME``, where ``NAME`` is a :class:`Task` or a zero-argument callable
returning one.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from oboptim.priors.diffusion_prior import DiffusionPrior

BUILTIN_TASKS = ("gmm2d", "swissroll3d", "digits")


class TaskNotFoundError(ValueError):
    """An unknown task name or a task spec that does not load."""


@dataclass(frozen=True)
class Task:
    """Everything a campaign needs to know about one problem.

    Attributes:
        name: short identifier, e.g. ``"gmm2d"``.
        description: one line for ``oboptim tasks``.
        load_prior: ``device -> DiffusionPrior``; loads weights lazily.
        oracle: the task's own black box, ``x [B, *domain_shape] numpy -> sequence of B floats`` (NaN marks a
            failed trial). Deterministic for a given ``x`` so that a resumed campaign replays exactly.
        features: differentiable ``x [B, *domain_shape] -> [B, F]`` fed to the surrogate (identity for toys).
        reward: optional differentiable noise-free reward ``x [B, *domain_shape] -> [B]``, for benchmarks.
        exact_target: optional ``(n, numpy Generator) -> [n, *domain_shape]`` exact samples from
            ``p(x) exp(reward(x) / alpha)`` with ``alpha = 1``.
        exact_target_mean_reward: the exact target's mean reward, where known in closed form.
        sample_data: optional ``(n, numpy Generator) -> [n, *domain_shape]`` fresh samples of the prior's data.
        defaults: campaign defaults (``batch_size``, ``budget``, ``alpha``, ``particles``, ``steps``, ...).
        named_oracles: other oracles of the task, chosen with ``--oracle NAME`` or ``--oracle NAME:ARG``:
            ``NAME -> (ARG or None) -> oracle function``, e.g. ``{"jpeg": ..., "classifier": ...}`` so that
            ``--oracle classifier:3`` scores digit 3. A bad ARG raises ValueError with a one-line message.
    """

    name: str
    description: str
    load_prior: Callable[[torch.device], DiffusionPrior]
    oracle: Callable[[np.ndarray], Sequence[float]]
    features: Callable[[Tensor], Tensor] = lambda x: x.flatten(1)
    reward: Callable[[Tensor], Tensor] | None = None
    exact_target: Callable[[int, np.random.Generator], np.ndarray] | None = None
    exact_target_mean_reward: float | None = None
    sample_data: Callable[[int, np.random.Generator], np.ndarray] | None = None
    defaults: Mapping[str, Any] = field(default_factory=dict)
    named_oracles: Mapping[str, Callable[[str | None], Callable[[np.ndarray], Sequence[float]]]] = field(
        default_factory=dict
    )


def list_tasks() -> list[Task]:
    """The built-in tasks, in a stable order."""
    return [load_task(name) for name in BUILTIN_TASKS]


def load_task(spec: str) -> Task:
    """A built-in task by name, or a user's task from ``path/to/file.py:NAME`` or ``module:NAME``."""
    if spec in BUILTIN_TASKS:
        module = importlib.import_module(f"oboptim.tasks.{spec}")
        return _as_task(getattr(module, "TASK"), spec)
    if ":" not in spec:
        raise TaskNotFoundError(
            f"unknown task {spec!r}: use one of {', '.join(BUILTIN_TASKS)}, or path/to/file.py:NAME or module:NAME"
        )
    return _as_task(load_object(spec, what="task"), spec)


def load_object(spec: str, *, what: str) -> Any:
    """Load ``NAME`` from ``path/to/file.py:NAME`` or ``module:NAME``; a clear error if it does not load."""
    target, _, name = spec.rpartition(":")
    if not target or not name:
        raise TaskNotFoundError(f"{what} {spec!r} must look like path/to/file.py:NAME or module:NAME")
    try:
        if target.endswith(".py"):
            path = Path(target).expanduser().resolve()
            if not path.is_file():
                raise TaskNotFoundError(f"{what} file {target!r} does not exist")
            module_name = f"_oboptim_user_{path.stem}_{abs(hash(str(path)))}"
            module = sys.modules.get(module_name)
            if module is None:
                module_spec = importlib.util.spec_from_file_location(module_name, path)
                module = importlib.util.module_from_spec(module_spec)
                sys.modules[module_name] = module
                module_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(target)
    except TaskNotFoundError:
        raise
    except Exception as exc:  # the user's module failed to import: say which and why
        raise TaskNotFoundError(f"could not load {what} {spec!r}: {type(exc).__name__}: {exc}") from exc
    if not hasattr(module, name):
        raise TaskNotFoundError(f"{what} {spec!r}: {target!r} has no attribute {name!r}")
    return getattr(module, name)


def _as_task(obj: Any, spec: str) -> Task:
    if isinstance(obj, Task):
        return obj
    if callable(obj):
        obj = obj()
        if isinstance(obj, Task):
            return obj
    raise TaskNotFoundError(f"task {spec!r} is not an oboptim.Task (nor a callable returning one)")
