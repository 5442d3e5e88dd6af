"""Tasks: a prior, a black-box oracle, a feature map and campaign defaults, under one name.

Built-in tasks live in :mod:`oboptim.tasks` (the repository's ``tasks/`` folder). A user's own task loads from
``path/to/file.py:NAME`` or ``module:NAME``, where ``NAME`` is a :class:`Task` or a callable returning one.

Some tasks take options (``sd`` needs the folder of a local pipeline and a prompt). A built-in task module with
options defines ``make_task(**options) -> Task``; a user's callable receives them as keyword arguments. Options are
JSON scalars stored with the campaign, so a resumed campaign rebuilds the same task.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from oboptim.priors.diffusion_prior import DiffusionPrior

BUILTIN_TASKS = ("gmm2d", "swissroll3d", "mixture8d", "digits", "sd")


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
        oracle_defaults: settings that suit one named oracle better than :attr:`defaults`, applied when a campaign
            is created with that oracle, e.g. ``{"jpeg": {"alpha": 0.0003}}``: alpha is in oracle units, and JPEG
            sizes differ by hundredths of a kB where a log-probability spans tens of nats.
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
    oracle_defaults: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def defaults_for(self, oracle: object = None) -> dict[str, Any]:
        """The task's defaults, overridden by those of the named oracle ``oracle`` (``NAME`` or ``NAME:ARG``)."""
        name = oracle.partition(":")[0] if isinstance(oracle, str) else None
        return {**self.defaults, **self.oracle_defaults.get(name, {})}


def oracle_without_argument(name: str, oracle: Callable[[np.ndarray], Sequence[float]]):
    """A :attr:`Task.named_oracles` entry for an oracle that takes no ``:ARG`` (``--oracle NAME``)."""

    def build(argument: str | None):
        if argument is not None:
            raise ValueError(f"{name} takes no argument: use --oracle {name} (got {name}:{argument})")
        return oracle

    return build


def list_tasks() -> list[Task]:
    """The built-in tasks, in a stable order."""
    return [load_task(name) for name in BUILTIN_TASKS]


def load_task(spec: str, options: Mapping[str, Any] | None = None) -> Task:
    """A built-in task by name, or a user's task from ``path/to/file.py:NAME`` or ``module:NAME``.

    Args:
        spec: the task's name or spec.
        options: keyword options for tasks that take them (``make_task(**options)`` of a built-in task module, or
            the user's callable); ``None`` or empty for a task without options.
    """
    options = dict(options or {})
    if spec in BUILTIN_TASKS:
        module = importlib.import_module(f"oboptim.tasks.{spec}")
        if not options:
            return _as_task(module.TASK, spec)
        make_task = getattr(module, "make_task", None)
        if make_task is None:
            raise TaskNotFoundError(f"task {spec!r} takes no options; drop {_names(options)}")
        return _build(make_task, spec, options)
    if ":" not in spec:
        raise TaskNotFoundError(
            f"unknown task {spec!r}: use one of {', '.join(BUILTIN_TASKS)}, or path/to/file.py:NAME or module:NAME"
        )
    obj = load_object(spec, what="task")
    if not options:
        return _as_task(obj, spec)
    if isinstance(obj, Task) or not callable(obj):
        raise TaskNotFoundError(f"task {spec!r} takes no options (it is not a callable); drop {_names(options)}")
    return _build(obj, spec, options)


def task_options_of(spec: str) -> tuple[list[str], list[str]]:
    """``(accepted, required)`` keyword options of a built-in task (both empty if it takes none)."""
    make_task = None
    if spec in BUILTIN_TASKS:
        make_task = getattr(importlib.import_module(f"oboptim.tasks.{spec}"), "make_task", None)
    if make_task is None:
        return [], []
    parameters = inspect.signature(make_task).parameters.values()
    return ([p.name for p in parameters],
            [p.name for p in parameters if p.default is inspect.Parameter.empty])


def _build(factory: Callable[..., Any], spec: str, options: dict[str, Any]) -> Task:
    try:
        inspect.signature(factory).bind(**options)
    except TypeError:
        parameters = inspect.signature(factory).parameters.values()
        required = [p.name for p in parameters if p.default is inspect.Parameter.empty]
        accepted = ", ".join(p.name for p in parameters) or "none"
        given = f"got options {_names(options)}" if options else "got no options"
        raise TaskNotFoundError(
            f"task {spec!r} {given}; it takes {accepted} (required: {', '.join(required) or 'none'})"
        ) from None
    try:
        task = factory(**options)
    except (ValueError, OSError) as exc:  # a bad option value: the task says which and why
        raise TaskNotFoundError(f"task {spec!r}: {exc}") from exc
    if not isinstance(task, Task):
        raise TaskNotFoundError(f"task {spec!r} is not an oboptim.Task (its callable returned {type(task).__name__})")
    return task


def _names(options: Mapping[str, Any]) -> str:
    return ", ".join(sorted(options))


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
        return _build(obj, spec, {})
    raise TaskNotFoundError(f"task {spec!r} is not an oboptim.Task (nor a callable returning one)")
