"""Registries: one per extension point, the one place that says which kinds exist.

oboptim grows by kinds: a new resampling scheme, tempering schedule, batch selection, surrogate, acquisition, oracle
kind or task. Each extension point has a :class:`Registry`. A built-in kind is declared here, in the light name table
below (its name, the module that implements it and one line of help), and bound where it is defined::

    @RESAMPLERS.implements("ssp")
    def ssp(log_weights, num_samples, generator): ...

The table is what keeps the command line fast: the CLI's choices and help, the campaign settings' validation and the
docs (``docs/extension-points.md``) all read it without importing torch. The implementation is imported the first
time a kind is used (:meth:`Registry.get`). Declaring a built-in here without binding it, or binding one that is not
declared, fails the registry tests (``tests/test_registry.py``), which print the missing line.

A user adds a kind at run time, without touching this file::

    from oboptim.acquisition import ACQUISITIONS

    @ACQUISITIONS.register("mine", help="my acquisition")
    def my_acquisition(surrogate, options): ...

and then uses it by name (``CampaignSettings(acquisition="mine")``) in the same process.

This module imports nothing heavy (no torch, numpy or SQLAlchemy).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from oboptim.errors import UnknownKindError

T = TypeVar("T")


@dataclass(frozen=True)
class Kind:
    """One kind of an extension point.

    Attributes:
        name: what users type (``--acquisition ucb``) and what is stored with a campaign.
        help: one line for the CLI's help and the docs.
        module: the module that implements a built-in kind (imported on first use); None for a kind registered at
            run time.
    """

    name: str
    help: str
    module: str | None = None


class Registry(Generic[T]):
    """The kinds of one extension point: ``name -> implementation``, with one line of help each.

    Args:
        setting: the setting or option that chooses among them (``"resampling"``), used in messages.
        what: what one kind is, in words (``"resampling scheme"``).
        kinds: the built-in kinds, in the order the CLI and the docs list them.
        binds_modules: a built-in kind is its module itself (tasks: a module holding ``TASK`` and optionally
            ``make_task``), bound when first imported rather than by a decorator.
    """

    def __init__(self, setting: str, what: str, kinds: list[Kind], *, binds_modules: bool = False) -> None:
        self.setting = setting
        self.what = what
        self.binds_modules = binds_modules
        self._kinds: dict[str, Kind] = {}
        self._objects: dict[str, T] = {}
        for kind in kinds:
            if kind.name in self._kinds:
                raise ValueError(f"{setting}: kind {kind.name!r} is declared twice")
            self._kinds[kind.name] = kind

    # -- reading (cheap: never imports an implementation) --------------------------------------------------------

    def names(self) -> tuple[str, ...]:
        """Every kind's name, built-ins first in their declared order."""
        return tuple(self._kinds)

    def kinds(self) -> tuple[Kind, ...]:
        return tuple(self._kinds.values())

    def help(self, name: str) -> str:
        return self._kind(name).help

    def __contains__(self, name: object) -> bool:
        return name in self._kinds

    def __iter__(self) -> Iterator[str]:
        return iter(self._kinds)

    def __len__(self) -> int:
        return len(self._kinds)

    def check(self, name: object) -> str:
        """``name`` if it names a kind, else :class:`~oboptim.errors.UnknownKindError` listing the choices."""
        if isinstance(name, str) and name in self._kinds:
            return name
        raise UnknownKindError(f"{self.setting} must be one of {', '.join(self._kinds)}; got {name!r}")

    def describe(self) -> str:
        """``name: help`` for every kind, one per line (the CLI's help and the docs)."""
        return "\n".join(f"{kind.name}: {kind.help}" for kind in self._kinds.values())

    # -- using -----------------------------------------------------------------------------------------------------

    def get(self, name: str) -> T:
        """The implementation of kind ``name``, importing its module the first time."""
        kind = self._kind(name)
        if kind.name not in self._objects and kind.module is not None:
            module = importlib.import_module(kind.module)
            if self.binds_modules:
                self._objects[kind.name] = module
        try:
            return self._objects[kind.name]
        except KeyError:
            raise RuntimeError(
                f"{self.setting} {name!r} is declared in oboptim/_registry.py to live in {kind.module}, which does "
                f"not bind it: decorate it there with @{self._constant()}.implements({name!r})"
            ) from None

    # -- adding kinds ----------------------------------------------------------------------------------------------

    def implements(self, name: str) -> Callable[[T], T]:
        """Decorator binding the implementation of built-in kind ``name`` (declared in the table of this module)."""

        def bind(obj: T) -> T:
            kind = self._kinds.get(name)
            if kind is None or kind.module is None:
                raise RuntimeError(
                    f"{self.setting} {name!r} is not declared: add Kind({name!r}, '<one line of help>', "
                    f"{getattr(obj, '__module__', '?')!r}) to {self._constant()} in oboptim/_registry.py"
                )
            self._objects[name] = obj
            return obj

        return bind

    def register(self, name: str, obj: T | None = None, *, help: str) -> Any:
        """Add a kind at run time: ``register(name, obj, help=...)``, or as a decorator ``@register(name, help=...)``.

        A name that is already taken is refused (built-in kinds cannot be replaced).
        """
        if not isinstance(name, str) or not name.strip() or name != name.strip():
            raise ValueError(f"a {self.what}'s name must be a non-empty word; got {name!r}")
        if name in self._kinds:
            raise ValueError(f"{self.setting} {name!r} exists already: choose another name")

        def add(target: T) -> T:
            self._kinds[name] = Kind(name, " ".join(str(help).split()), None)
            self._objects[name] = target
            return target

        return add if obj is None else add(obj)

    def unregister(self, name: str) -> None:
        """Remove a kind added with :meth:`register` (built-ins stay)."""
        kind = self._kind(name)
        if kind.module is not None:
            raise ValueError(f"{self.setting} {name!r} is built in and cannot be removed")
        del self._kinds[name]
        self._objects.pop(name, None)

    # -- internals -------------------------------------------------------------------------------------------------

    def _kind(self, name: str) -> Kind:
        return self._kinds[self.check(name)]

    def _constant(self) -> str:
        for constant, registry in REGISTRIES.items():
            if registry is self:
                return constant
        return "the registry"

    def __repr__(self) -> str:
        return f"Registry({self.setting!r}: {', '.join(self._kinds)})"


# -- the light name table ----------------------------------------------------------------------------------------------
# One line per built-in kind. The modules named here bind their kinds with `@REGISTRY.implements(name)`.

_RESAMPLING = "oboptim.sampling._resampling"
RESAMPLERS: Registry[Callable[..., Any]] = Registry("resampling", "resampling scheme", [
    Kind("multinomial", "M independent draws by weight; the noisiest", _RESAMPLING),
    Kind("stratified", "one uniform draw in each of M equal strata", _RESAMPLING),
    Kind("systematic", "one uniform shared by all M strata", _RESAMPLING),
    Kind("residual", "floor(M w) copies, the rest drawn multinomially", _RESAMPLING),
    Kind("ssp", "Srinivasan sampling process: counts in {floor(M w), ceil(M w)}, negatively associated",
         _RESAMPLING),
])

_TEMPERING = "oboptim.sampling._tempering"
TEMPERING_SCHEDULES: Registry[Any] = Registry("tempering", "tempering schedule", [
    Kind("exp", "lambda = (1 + gamma)^i - 1, capped at 1 (DAS default)", _TEMPERING),
    Kind("poly", "lambda = (gamma i)^power, capped at 1", _TEMPERING),
    Kind("adaptive", "the largest lambda above the exp schedule that keeps the ESS above the threshold", _TEMPERING),
    Kind("none", "lambda = 1 from the first step", _TEMPERING),
])

_SELECTION = "oboptim.sampling._selection"
SELECTIONS: Registry[Callable[..., Any]] = Registry("selection", "batch selection", [
    Kind("resample", "one particle per sampler group, drawn by weight (a draw from the tilted target)", _SELECTION),
    Kind("argmax", "each group's heaviest particle (a group with none left to take borrows the best spare one)",
         _SELECTION),
    Kind("top", "the best distinct particles of all groups by acquisition value (most greedy)", _SELECTION),
    Kind("sequential", "the best top_fraction by acquisition, then one at a time by select_acquisition on the "
                       "surrogate told of earlier picks as pending (a spread batch)", _SELECTION),
])

SURROGATES: Registry[Any] = Registry("surrogate", "surrogate model", [
    Kind("gp", "Gaussian process (BoTorch SingleTaskGP, RBF kernel with ARD); exact up to 512 observations, sparse "
         "(SGPR, up to 256 greedy inducing inputs) beyond", "oboptim.surrogates._gp"),
    Kind("ensemble", "bootstrap ensemble of small MLPs, for many observations or features",
         "oboptim.surrogates._ensemble"),
    Kind("hamming-gp", "Gaussian process with one lengthscale for all features: on one-hot sequences the "
         "exponentiated Hamming kernel exp(-H / l^2); exact or sparse like gp", "oboptim.surrogates._gp"),
])

_ACQUISITION = "oboptim.acquisition._builtins"
ACQUISITIONS: Registry[Callable[..., Any]] = Registry("acquisition", "acquisition", [
    Kind("ucb", "posterior mean + beta * std: optimism under uncertainty", _ACQUISITION),
    Kind("mean", "the posterior mean: pure exploitation (greedy)", _ACQUISITION),
    Kind("thompson", "one posterior sample path, drawn once per round", _ACQUISITION),
    Kind("logei", "log expected improvement over the best value (BoTorch's stable log-EI)", _ACQUISITION),
    Kind("maxhead", "the largest prediction over an ensemble's heads (SEIKO-style optimism)", _ACQUISITION),
])

ORACLE_KINDS: Registry[Callable[..., Any]] = Registry("oracle", "oracle kind", [
    Kind("human", "a person types each score in the terminal", "oboptim.oracles._human"),
    Kind("human-web", "a person rates on the page of `oboptim serve NAME`", "oboptim.oracles._human_web"),
])

TASKS: Registry[Any] = Registry("task", "task", [
    Kind("gmm2d", "2-D mixture of 9 Gaussians; reward -x1^2/100 - x2^2 (+ noise 0.1); exact target known",
         "oboptim.tasks.gmm2d"),
    Kind("swissroll3d", "3-D Swiss roll; reward -x^2/100 - y^2/100 - z^2 (+ noise 0.1); exact target by rejection",
         "oboptim.tasks.swissroll3d"),
    Kind("mixture8d", "exact 8-D mixture of 8 Gaussians (closed-form eps); shifted Ackley oracle, optimum 0 on mode 5",
         "oboptim.tasks.mixture8d"),
    Kind("hartmann6d", "BoTorch Hartmann-6 on an exact 8-mode 6-D Gaussian mixture; optimum 3.32237 on mode 0; "
                       "noise 0.02", "oboptim.tasks.hartmann6d"),
    Kind("levy12d", "BoTorch Levy-12 on an exact 12-mode 12-D Gaussian mixture; optimum 0 on mode 0; noise free",
         "oboptim.tasks.levy12d"),
    Kind("necklace10d", "held-out: 10-D necklace of 64 Gaussians along a closed curve; Styblinski-Tang in user "
                        "units", "oboptim.tasks.necklace10d"),
    Kind("digits", "16x16 digits from a diffusers UNet; oracle log p(3|x) of a frozen classifier "
                   "(or classifier:D, margin:D, jpeg)", "oboptim.tasks.digits"),
    Kind("sd", "Stable Diffusion 1.x from a local diffusers folder; oracle JPEG compressibility (or colorfulness)",
         "oboptim.tasks.sd"),
    Kind("ehrlich", "holo-bench's Ehrlich function over sequences (32 states, length 32, 2 motifs of 4 by default); "
                    "optimum 1.0, infeasible sequences fail; needs pytorch-holo", "oboptim.tasks.ehrlich"),
], binds_modules=True)

EXECUTORS: Registry[Callable[..., Any]] = Registry("executor", "executor", [
    Kind("process", "process:N, N local worker processes (default 4)", "oboptim.executors._process"),
    Kind("ray", "Ray tasks: ray (a local Ray), ray:N (N local CPUs) or ray://HOST:PORT (a cluster)",
         "oboptim.executors._ray"),
])

REGISTRIES: dict[str, Registry[Any]] = {
    "RESAMPLERS": RESAMPLERS,
    "TEMPERING_SCHEDULES": TEMPERING_SCHEDULES,
    "SELECTIONS": SELECTIONS,
    "SURROGATES": SURROGATES,
    "ACQUISITIONS": ACQUISITIONS,
    "ORACLE_KINDS": ORACLE_KINDS,
    "TASKS": TASKS,
    "EXECUTORS": EXECUTORS,
}

_HOW_TO_ADD = {
    "RESAMPLERS": "a function `(log_weights [G, N], M, generator) -> indices [G, M]`",
    "TEMPERING_SCHEDULES": "a `TemperingSchedule(levels, adaptive)`",
    "SELECTIONS": "a function `(result, generator, context: SelectionContext) -> (groups [B], picks [B])`",
    "SURROGATES": "a subclass of `oboptim.surrogates.Surrogate`, built with no arguments",
    "ACQUISITIONS": "a builder `(surrogate, options) -> score`, `score(features [B, F]) -> [B]`",
    "ORACLE_KINDS": "a factory `(context: OracleContext) -> Oracle`",
    "TASKS": "a module holding `TASK` (and `make_task(**options)` if it takes options)",
    "EXECUTORS": "a factory `(argument after the colon, or None) -> Executor`",
}

_PUBLIC_HOME = {
    "RESAMPLERS": "oboptim.sampling",
    "TEMPERING_SCHEDULES": "oboptim.sampling",
    "SELECTIONS": "oboptim.sampling",
    "SURROGATES": "oboptim.surrogates",
    "ACQUISITIONS": "oboptim.acquisition",
    "ORACLE_KINDS": "oboptim.oracles",
    "TASKS": "oboptim",
    "EXECUTORS": "oboptim.executors",
}


def extension_points_markdown() -> str:
    """The docs page of every extension point and its kinds (``docs/extension-points.md``), from the registries."""
    lines = [
        "# Extension points",
        "",
        "Generated from the registries (`oboptim/_registry.py`) by `python scripts/write_docs.py`; a test checks that",
        "this page matches them.",
        "",
        "A built-in kind is one implementation bound with `@REGISTRY.implements(name)` in its module, plus its line in",
        "the light name table of `oboptim/_registry.py` (name, module, one line of help), which the command line reads",
        "without importing torch. Your own kind needs no change to oboptim: register it at run time,",
        "`REGISTRY.register(name, implementation, help=...)`, and use its name in the settings.",
        "",
    ]
    for constant, registry in REGISTRIES.items():
        lines += [f"## `{_PUBLIC_HOME[constant]}.{constant}`: the setting `{registry.setting}`", "",
                  f"Each kind is {_HOW_TO_ADD[constant]}.", "", "| kind | what it does | module |", "|---|---|---|"]
        lines += [f"| `{kind.name}` | {kind.help} | `{kind.module}` |" for kind in registry.kinds()
                  if kind.module is not None]
        lines.append("")
    return "\n".join(lines)


__all__ = ["ACQUISITIONS", "EXECUTORS", "ORACLE_KINDS", "REGISTRIES", "RESAMPLERS", "SELECTIONS", "SURROGATES", "TASKS",
           "TEMPERING_SCHEDULES", "Kind", "Registry", "extension_points_markdown"]
