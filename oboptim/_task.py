"""Tasks: a prior, a black-box oracle, a feature map and campaign defaults, under one name.

Built-in tasks live in :mod:`oboptim.tasks` (the repository's ``tasks/`` folder). A user's own task loads from
``path/to/file.py:NAME`` or ``module:NAME``, where ``NAME`` is a :class:`Task` or a callable returning one.

Some tasks take options (``sd`` needs the folder of a local pipeline and a prompt). A built-in task module with
options defines ``make_task(**options) -> Task``; a user's callable receives them as keyword arguments. Options are
JSON scalars stored with the campaign, so a resumed campaign rebuilds the same task.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

from oboptim._registry import TASKS
from oboptim._specs import SpecError, absolute_spec, load_object, spec_file_digest

if TYPE_CHECKING:
    import numpy as np
    import torch
    from torch import Tensor

    from oboptim.priors import DiffusionPrior
    from oboptim.sequences import SequenceSpace


class TaskNotFoundError(SpecError):
    """An unknown task name or a task spec that does not load."""


def _flatten(x: Tensor) -> Tensor:
    return x.flatten(1)


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
        sequence: for a task over discrete sequences, its :class:`oboptim.sequences.SequenceSpace`. Candidates are
            then ``[B, L]`` integers (what the oracle receives and storage keeps, shown as strings), the prior's
            decoder gives per-position probabilities ``[B, L, V]`` (what ``features`` and ``reward`` see inside the
            sampler), and a stored candidate reaches ``features`` as its one-hot ``[B, L, V]``. None: the decoded
            particle is the candidate.
    """

    name: str
    description: str
    load_prior: Callable[[torch.device], DiffusionPrior]
    oracle: Callable[[np.ndarray], Sequence[float]]
    features: Callable[[Tensor], Tensor] = _flatten
    reward: Callable[[Tensor], Tensor] | None = None
    exact_target: Callable[[int, np.random.Generator], np.ndarray] | None = None
    exact_target_mean_reward: float | None = None
    sample_data: Callable[[int, np.random.Generator], np.ndarray] | None = None
    defaults: Mapping[str, Any] = field(default_factory=dict)
    named_oracles: Mapping[str, Callable[[str | None], Callable[[np.ndarray], Sequence[float]]]] = field(
        default_factory=dict
    )
    oracle_defaults: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    sequence: SequenceSpace | None = None

    def to_candidates(self, decoded: Tensor) -> Tensor:
        """Decoded particles ``[B, *domain_shape]`` -> the candidates the oracle receives (the most likely state per
        position of a sequence task; the decoded particles themselves otherwise)."""
        return decoded if self.sequence is None else self.sequence.to_tokens(decoded)

    def to_domain(self, candidates: np.ndarray | Tensor) -> Tensor:
        """Stored candidates -> what ``features`` takes, float32 (one-hots ``[B, L, V]`` for a sequence task)."""
        import torch

        if self.sequence is not None:
            return self.sequence.to_domain(candidates)
        return torch.as_tensor(candidates, dtype=torch.float32)

    def defaults_for(self, oracle: object = None) -> dict[str, Any]:
        """The task's defaults, overridden by those of the named oracle ``oracle`` (``NAME`` or ``NAME:ARG``); a
        sequence task's start from :data:`oboptim.SEQUENCE_DEFAULTS`."""
        from oboptim._settings import SEQUENCE_DEFAULTS

        name = oracle.partition(":")[0] if isinstance(oracle, str) else None
        base = SEQUENCE_DEFAULTS if self.sequence is not None else {}
        return {**base, **self.defaults, **self.oracle_defaults.get(name, {})}


def oracle_without_argument(name: str, oracle: Callable[[np.ndarray], Sequence[float]]):
    """A :attr:`Task.named_oracles` entry for an oracle that takes no ``:ARG`` (``--oracle NAME``)."""

    def build(argument: str | None):
        if argument is not None:
            raise ValueError(f"{name} takes no argument: use --oracle {name} (got {name}:{argument})")
        return oracle

    return build


def list_tasks() -> list[Task]:
    """The built-in tasks, in a stable order (this imports each task's module)."""
    return [load_task(name) for name in TASKS.names()]


def load_task(spec: str, options: Mapping[str, Any] | None = None) -> Task:
    """A task of :data:`oboptim.TASKS` by name, or a user's task from ``path/to/file.py:NAME`` or ``module:NAME``.

    Args:
        spec: the task's name or spec.
        options: keyword options for tasks that take them (``make_task(**options)`` of a built-in task module, or
            the user's callable); ``None`` or empty for a task without options.
    """
    options = dict(options or {})
    if spec in TASKS:
        registered = TASKS.get(spec)
        if isinstance(registered, ModuleType):
            if not options:
                return _as_task(registered.TASK, spec)
            make_task = getattr(registered, "make_task", None)
            if make_task is None:
                raise TaskNotFoundError(f"task {spec!r} takes no options; drop {_names(options)}")
            return _build(make_task, spec, options)
        obj = registered
    elif ":" not in spec:
        raise TaskNotFoundError(
            f"unknown task {spec!r}: use one of {', '.join(TASKS.names())}, or path/to/file.py:NAME or module:NAME"
        )
    else:
        try:
            obj = load_object(spec, what="task")
        except TaskNotFoundError:
            raise
        except SpecError as exc:
            raise TaskNotFoundError(str(exc)) from exc
    if not options:
        return _as_task(obj, spec)
    if isinstance(obj, Task) or not callable(obj):
        raise TaskNotFoundError(f"task {spec!r} takes no options (it is not a callable); drop {_names(options)}")
    return _build(obj, spec, options)


canonical_spec = absolute_spec  # a task file is stored by its absolute path: any directory can resume the campaign
task_file_digest = spec_file_digest  # a task file's SHA-256 (None for a built-in or module task)


def task_options_of(spec: str) -> tuple[list[str], list[str]]:
    """``(accepted, required)`` keyword options of a built-in task's ``make_task`` (both empty if it has none).

    Read from the task module's source, without importing it (no torch): the command line lists tasks fast.
    """
    kind = next((k for k in TASKS.kinds() if k.name == spec), None)
    if kind is None or kind.module is None:
        return [], []
    module_spec = importlib.util.find_spec(kind.module)
    if module_spec is None or module_spec.origin is None:
        return [], []
    with open(module_spec.origin, encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "make_task":
            arguments = node.args
            positional = arguments.posonlyargs + arguments.args
            first_default = len(positional) - len(arguments.defaults)
            accepted = [a.arg for a in positional] + [a.arg for a in arguments.kwonlyargs]
            required = [a.arg for i, a in enumerate(positional) if i < first_default]
            required += [a.arg for a, d in zip(arguments.kwonlyargs, arguments.kw_defaults) if d is None]
            return accepted, required
    return [], []


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
    _check_option_types(factory, spec, options)
    try:
        task = factory(**options)
    except (ValueError, OSError) as exc:  # a bad option value: the task says which and why
        raise TaskNotFoundError(f"task {spec!r}: {exc}") from exc
    if not isinstance(task, Task):
        raise TaskNotFoundError(f"task {spec!r} is not an oboptim.Task (its callable returned {type(task).__name__})")
    return task


_OPTION_TYPES: dict[str, tuple[type, ...]] = {"int": (int,), "float": (int, float), "bool": (bool,), "str": (str,)}
_LARGEST_INT = 2**63 - 1  # what torch and numpy seeds and sizes hold


def _check_option_types(factory: Callable[..., Any], spec: str, options: Mapping[str, Any]) -> None:
    """A one-line error for an option whose value does not fit the type its parameter is annotated with (``int``,
    ``float``, ``bool``, ``str``, optionally ``| None``): a task never sees ``1.5`` or ``"abc"`` for a whole number,
    nor a whole number too large for a 64-bit integer."""
    parameters = inspect.signature(factory).parameters
    for name, value in options.items():
        annotation = parameters[name].annotation if name in parameters else inspect.Parameter.empty
        if isinstance(annotation, str):  # from __future__ import annotations
            text = annotation
        else:
            text = annotation.__name__ if isinstance(annotation, type) else str(annotation).replace("NoneType", "None")
        kinds = [part.strip() for part in str(text).split("|")]
        if value is None and "None" in kinds:
            continue
        expected = [kind for kind in kinds if kind in _OPTION_TYPES]
        if not expected or len(expected) != len([k for k in kinds if k != "None"]):
            continue  # no simple annotation: the task checks its own values
        accepted = tuple(t for kind in expected for t in _OPTION_TYPES[kind])
        ok = isinstance(value, accepted) and (bool in accepted or not isinstance(value, bool))
        if ok and isinstance(value, int) and not isinstance(value, bool) and abs(value) > _LARGEST_INT:
            raise TaskNotFoundError(f"task {spec!r}: option {name}={value!r} is too large (at most {_LARGEST_INT})")
        if not ok:
            wanted = " or ".join({"int": "a whole number", "float": "a number", "bool": "true or false",
                                  "str": "text"}[kind] for kind in expected)
            raise TaskNotFoundError(f"task {spec!r}: option {name} must be {wanted}; got {value!r}")


def _names(options: Mapping[str, Any]) -> str:
    return ", ".join(sorted(options))


def _as_task(obj: Any, spec: str) -> Task:
    if isinstance(obj, Task):
        return obj
    if callable(obj):
        return _build(obj, spec, {})
    raise TaskNotFoundError(f"task {spec!r} is not an oboptim.Task (nor a callable returning one)")


__all__ = ["Task", "TaskNotFoundError", "canonical_spec", "list_tasks", "load_task", "oracle_without_argument",
           "task_file_digest", "task_options_of"]
