"""Campaign settings: what shapes a campaign's proposals, typed, validated once and stored with the campaign.

:class:`CampaignSettings` holds every choice that changes *what* a campaign proposes (the surrogate, the acquisition,
the sampler). It is resolved once, when a campaign is created, from three layers: the library's defaults (the field
defaults below), the task's ``defaults`` (and those of a named oracle), and the user's choices. It is stored as JSON
with its schema version; reopening the campaign with a different value for any of them is an error naming the keys,
so that a resumed campaign is the same campaign.

What changes only *where or how long* a campaign runs (budget, device, retries, lease, particles per denoiser call)
is not a setting: those are arguments of :meth:`oboptim.Campaign.open` and :meth:`oboptim.Campaign.run`.

The sampler's :class:`~oboptim.sampling.SMCConfig` is derived from the settings (:meth:`CampaignSettings.smc_config`),
so a sampler setting is named once.

Example:
    >>> settings = CampaignSettings.resolve({"alpha": 0.05}, {"particles": 16})
    >>> settings.particles, settings.alpha, settings.acquisition, settings.selection
    (16, 0.05, 'mean', 'sequential')
    >>> CampaignSettings.from_stored(settings.to_stored()) == settings
    True

This module imports nothing heavy: the command line validates settings without loading torch.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from oboptim._registry import ACQUISITIONS, RESAMPLERS, SELECTIONS, SURROGATES, TEMPERING_SCHEDULES
from oboptim.errors import ConfigError
from oboptim.sampling._config import SMCConfig

SETTINGS_SCHEMA = 4
"""Version of the stored form: 1 was a flat dict of settings with the budget mixed in (before typed settings); 2 had
no ``select_acquisition``, ``top_fraction`` or ``manifold_check``, and other library defaults
(:data:`LEGACY_DEFAULTS`); 3 had no ``warm_start`` or ``warm_start_seeds`` (their defaults, off, are what it did)."""

ALPHA_UNITS = ("oracle", "std")

# Keys a task's ``defaults`` may hold besides settings: how long and in what chunks a campaign runs by default.
TASK_RUN_DEFAULTS = frozenset({"budget", "particle_batch_size"})

# Keys of a stored campaign's config that are not settings: the oracle it is scored by, and its changes.
CAMPAIGN_ORACLE_KEYS = frozenset({"oracle", "oracle_changes"})

LEGACY_DEFAULTS: dict[str, Any] = {
    "acquisition": "ucb", "alpha": 1.0, "alpha_units": "oracle", "particles": 64, "steps": 100,
    "selection": "resample", "select_acquisition": "", "top_fraction": 0.5, "manifold_check": 0.0,
}
"""The library defaults before settings schema 3 wherever they differ from today's (and the settings schema 3 added,
switched off). A stored campaign of schema 1 or 2 fills a key it lacks from here, so it resumes as it was created;
the benchmark pins its baseline rows to them."""

SEQUENCE_DEFAULTS: dict[str, Any] = {
    "surrogate": "hamming-gp", "acquisition": "ucb", "alpha": 0.05, "particles": 4, "steps": 10, "gamma": 0.09,
    "selection": "argmax", "select_acquisition": "", "manifold_check": 0.0, "warm_start": 0.5,
    "warm_start_seeds": 10, "batch_size": 100,
}
"""The defaults for a task over sequences (``Task.sequence`` set), where they differ from the library's
(bench/ehrlich.md, "How the sequence defaults were chosen"): the exponentiated Hamming kernel; each group of 4
particles warm-started from one of the 10 best sequences, noised to half the diffusion time, for 10 steps, with the
tempering reaching 1 at about 80% of them (``gamma`` 0.09); the sampler tilted by UCB with alpha 0.05 standard
deviations; each group's heaviest new sequence taken; no manifold check (the prior's samples are all feasible); 100
candidates a round. A task's own defaults override these."""

TaskOptionValue = str | int | float | bool | None

_KIND_REGISTRIES = (SURROGATES, ACQUISITIONS, RESAMPLERS, TEMPERING_SCHEDULES, SELECTIONS)


@dataclass(frozen=True)
class CampaignSettings:
    """The settings that shape a campaign's proposals (validated on construction; immutable).

    Attributes:
        batch_size: candidates per round.
        surrogate: a kind of :data:`oboptim.surrogates.SURROGATES` (``gp``, ``ensemble``).
        acquisition: a kind of :data:`oboptim.acquisition.ACQUISITIONS` (``ucb``, ``mean``, ``thompson``, ...).
        beta: UCB's exploration weight on the posterior standard deviation (>= 0).
        alpha: the KL coefficient of the target ``p(x) exp(a(x) / alpha)``; smaller trusts the acquisition more.
        alpha_units: ``oracle`` (alpha in the oracle's units, as in the DAS paper) or ``std`` (in standard deviations
            of the values observed so far, so one alpha suits any oracle's scale).
        particles: SMC particles per candidate (N).
        steps: reverse diffusion steps (K).
        resampling: a kind of :data:`oboptim.sampling.RESAMPLERS`.
        ess_threshold: resample a group when its ESS falls below this fraction of N, in [0, 1].
        tempering: a kind of :data:`oboptim.sampling.TEMPERING_SCHEDULES`.
        gamma: tempering rate (> 0).
        guidance: shift proposals along the acquisition's gradient; False is the derivative-free mode.
        selection: a kind of :data:`oboptim.sampling.SELECTIONS`: how the batch is taken from the particles.
        select_acquisition: with ``selection=sequential``, the acquisition kind that ranks the later picks, each
            with the surrogate conditioned on the earlier ones as pending points; the first
            ``round(batch_size * top_fraction)`` are the best by the sampler's own acquisition. ``""``: the sampler's
            acquisition ranks every pick.
        top_fraction: the share of a ``sequential`` batch taken best-first by the sampler's acquisition, in [0, 1].
        manifold_check: a percentile in [0, 100): drop the final particles whose denoising error exceeds that of the
            worst ``manifold_check`` % of prior samples before selecting (:class:`oboptim.sampling.ManifoldCheck`);
            0 turns the check off.
        warm_start: a fraction of the diffusion time in [0, 1): each group's particles start from a copy of one of
            the ``warm_start_seeds`` best candidates so far, noised to that time, and run ``steps`` reverse steps
            from there (local edits that the prior keeps on its support, steered by the acquisition). 0 starts from
            pure noise (the whole target ``p(x) exp(a(x) / alpha)``). Sequence tasks default to 0.5.
        warm_start_seeds: how many of the best candidates the warm start spreads the groups over.
        task_options: keyword options of a task that takes them (``sd``: ``prior_path``, ``prompt``, ...); they
            shape the prior, so they are settings too.
    """

    # The default (bench/defaults_research.md): tilt the prior by the posterior mean with alpha 0.02 standard
    # deviations of the values observed so far, drop the particles off the prior's manifold, then take the best half
    # of the batch by posterior mean and the other half one at a time by UCB on the surrogate told of earlier picks.
    batch_size: int = 16
    surrogate: str = "gp"
    acquisition: str = "mean"
    beta: float = 2.0
    alpha: float = 0.02
    alpha_units: str = "std"
    particles: int = 32
    steps: int = 50
    resampling: str = "ssp"
    ess_threshold: float = 0.5
    tempering: str = "exp"
    gamma: float = 0.008
    guidance: bool = True
    selection: str = "sequential"
    select_acquisition: str = "ucb"
    top_fraction: float = 0.5
    manifold_check: float = 2.0
    warm_start: float = 0.0
    warm_start_seeds: int = 10
    task_options: Mapping[str, TaskOptionValue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "task_options", dict(self.task_options) if isinstance(self.task_options, Mapping)
                           else self.task_options)
        for name in ("batch_size", "particles", "steps", "warm_start_seeds"):
            _check(_is_int(getattr(self, name)) and getattr(self, name) >= 1, name, "a positive integer", self)
        for name in ("alpha", "gamma"):
            value = getattr(self, name)
            _check(_is_number(value) and math.isfinite(value) and value > 0, name, "a positive number", self)
        _check(_is_number(self.beta) and math.isfinite(self.beta) and self.beta >= 0, "beta", "a number >= 0", self)
        _check(_is_number(self.ess_threshold) and 0 <= self.ess_threshold <= 1, "ess_threshold",
               "a number in [0, 1]", self)
        _check(isinstance(self.guidance, bool), "guidance", "true or false", self)
        _check(_is_number(self.top_fraction) and 0 <= self.top_fraction <= 1, "top_fraction", "a number in [0, 1]",
               self)
        _check(_is_number(self.manifold_check) and 0 <= self.manifold_check < 100, "manifold_check",
               "a percentile in [0, 100) (0: off)", self)
        _check(_is_number(self.warm_start) and 0 <= self.warm_start < 1, "warm_start",
               "a fraction of the diffusion time in [0, 1) (0: off)", self)
        _check(self.select_acquisition == "" or self.select_acquisition in ACQUISITIONS, "select_acquisition",
               f"one of {', '.join(ACQUISITIONS.names())} or \"\" (the sampler's)", self)
        if self.alpha_units not in ALPHA_UNITS:
            raise ConfigError(f"alpha_units must be one of {', '.join(ALPHA_UNITS)}; got {self.alpha_units!r}")
        for registry in _KIND_REGISTRIES:
            registry.check(getattr(self, registry.setting))
        options = self.task_options
        if not isinstance(options, Mapping) or not all(
            isinstance(k, str) and (v is None or isinstance(v, (str, int, float, bool))) for k, v in options.items()
        ):
            raise ConfigError(f"task_options must map names to numbers, strings or booleans; got {options!r}")
        # 1 and 1.0 are the same setting
        for name in ("beta", "alpha", "gamma", "ess_threshold", "top_fraction", "manifold_check", "warm_start"):
            object.__setattr__(self, name, float(getattr(self, name)))

    # -- building ----------------------------------------------------------------------------------------------------

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """Every setting's name, in declaration order."""
        return tuple(f.name for f in fields(cls))

    @classmethod
    def resolve(cls, task_defaults: Mapping[str, Any] | None = None,
                overrides: Mapping[str, Any] | None = None) -> CampaignSettings:
        """Library defaults < ``task_defaults`` < ``overrides`` (``None`` values are ignored).

        ``task_defaults`` may also hold :data:`TASK_RUN_DEFAULTS` (ignored here); any other unknown key, in either
        layer, is an error naming it.
        """
        task_defaults = dict(task_defaults or {})
        overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
        _refuse_unknown(set(task_defaults) - TASK_RUN_DEFAULTS, "the task's defaults")
        _refuse_unknown(set(overrides), "the settings")
        values = {k: v for k, v in task_defaults.items() if k not in TASK_RUN_DEFAULTS}
        values.update(overrides)
        return cls(**values)

    def replace(self, **changes: Any) -> CampaignSettings:
        """A copy with ``changes`` applied (validated again)."""
        _refuse_unknown(set(changes), "the settings")
        return dataclasses.replace(self, **changes)

    # -- storing -----------------------------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The settings as a plain JSON object (``task_options`` a plain dict)."""
        return {f.name: (dict(getattr(self, f.name)) if f.name == "task_options" else getattr(self, f.name))
                for f in fields(self)}

    def to_stored(self, **campaign_fields: Any) -> dict[str, Any]:
        """The campaign's stored config: ``{"schema": 4, "settings": {...}, **campaign_fields}`` (e.g. budget)."""
        return {"schema": SETTINGS_SCHEMA, "settings": self.to_json(), **campaign_fields}

    @classmethod
    def from_stored(cls, config: Mapping[str, Any], *, check_kinds: bool = True) -> CampaignSettings:
        """The settings of a stored campaign config, of this schema or an older one: schema 3 (without the warm
        start, whose default is off), 2 (settings without the
        keys schema 3 added) or 1 (a flat dict, budget included). An older campaign's missing keys take
        :data:`LEGACY_DEFAULTS`, so that it resumes with the behaviour it was created with.

        ``check_kinds=False`` reads settings whose kinds are not registered in this process (a campaign run with a
        plug-in acquisition, read by ``oboptim status``): what only reads a campaign never proposes with them."""
        schema = config.get("schema", 1)
        if schema in (SETTINGS_SCHEMA, 3):  # schema 3 lacks only keys whose defaults are what it did
            values = dict(config.get("settings") or {})
        elif schema == 2:
            values = {**LEGACY_DEFAULTS, **(config.get("settings") or {})}
        elif schema == 1:
            values = {**LEGACY_DEFAULTS, **{k: v for k, v in config.items()
                                         if k not in TASK_RUN_DEFAULTS | CAMPAIGN_ORACLE_KEYS}}
        else:
            raise ConfigError(f"this campaign's settings have schema {schema!r}, newer than this oboptim reads "
                              f"({SETTINGS_SCHEMA}): upgrade oboptim")
        return cls.from_json(values, check_kinds=check_kinds)

    @classmethod
    def from_json(cls, values: Mapping[str, Any], *, check_kinds: bool = True) -> CampaignSettings:
        """Settings from :meth:`to_json`'s output; a key this version does not know is an error (``check_kinds`` as
        for :meth:`from_stored`)."""
        unknown = sorted(set(values) - set(cls.names()))
        if unknown:
            raise ConfigError(f"these stored settings hold {', '.join(unknown)}, which this oboptim does not know: "
                              "upgrade oboptim")
        if check_kinds:
            return cls(**values)
        # each kind not registered in this process is validated as its default, then put back
        kinds = {registry.setting: registry for registry in _KIND_REGISTRIES}
        kinds["select_acquisition"] = ACQUISITIONS
        unregistered = {name: values[name] for name, registry in kinds.items()
                        if values.get(name) and values[name] not in registry}
        defaults = {f.name: f.default for f in fields(cls) if f.name in unregistered}
        settings = cls(**{**values, **defaults})
        for name, value in unregistered.items():
            object.__setattr__(settings, name, value)
        return settings

    def differences(self, overrides: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
        """``{key: (stored, given)}`` for every explicitly given (not None) value that differs from these settings."""
        _refuse_unknown({k for k, v in overrides.items() if v is not None}, "the settings")
        given = {k: v for k, v in overrides.items() if v is not None}
        probe = self.replace(**given) if given else self  # validates and normalises (2 == 2.0) the given values
        return {k: (getattr(self, k), given[k]) for k in given if getattr(probe, k) != getattr(self, k)}

    # -- what the settings decide ----------------------------------------------------------------------------------

    def smc_config(self, *, alpha: float | None = None, particle_batch_size: int | None = None) -> SMCConfig:
        """The sampler's settings; ``alpha`` overrides the KL coefficient (e.g. after scaling to the oracle's units)."""
        return SMCConfig(
            num_particles=self.particles, num_steps=self.steps, alpha=self.alpha if alpha is None else alpha,
            resampling=self.resampling, ess_threshold=self.ess_threshold, tempering=self.tempering,
            gamma=self.gamma, guidance=self.guidance, particle_batch_size=particle_batch_size,
        )


def stored_budget(config: Mapping[str, Any], default: int) -> int:
    """The budget stored with a campaign (``default`` if none was stored)."""
    budget = config.get("budget")
    return default if budget is None else int(budget)


def _check(ok: bool, name: str, expected: str, settings: CampaignSettings) -> None:
    if not ok:
        raise ConfigError(f"{name} must be {expected}; got {getattr(settings, name)!r}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _refuse_unknown(keys: set[str], where: str) -> None:
    unknown = sorted(keys - set(CampaignSettings.names()))
    if unknown:
        raise ConfigError(f"unknown setting(s) {', '.join(unknown)} in {where}; known: "
                          f"{', '.join(CampaignSettings.names())}")


__all__ = ["ALPHA_UNITS", "LEGACY_DEFAULTS", "SEQUENCE_DEFAULTS", "SETTINGS_SCHEMA", "TASK_RUN_DEFAULTS",
           "CampaignSettings", "stored_budget"]
