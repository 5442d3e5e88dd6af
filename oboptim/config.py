"""Campaign settings: library defaults, overridden by the task's defaults, overridden by the user's choices.

The resolved settings are stored with the campaign. Reopening it with different values for any setting that shapes
the proposals is an error naming the keys, so that a resumed campaign is the same campaign.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from oboptim.errors import OboptimError

DEFAULTS: dict[str, Any] = {
    "batch_size": 16,
    "surrogate": "gp",
    "acquisition": "ucb",
    "beta": 2.0,
    "alpha": 1.0,
    # "oracle": alpha is in the oracle's units (the paper's); "std": in units of the standard deviation of the values
    # observed so far, so that one alpha tilts every oracle alike (bench/compare_tuning.md)
    "alpha_units": "oracle",
    "particles": 64,
    "steps": 100,
    "resampling": "ssp",
    "ess_threshold": 0.5,
    "tempering": "exp",
    "gamma": 0.008,
    "guidance": True,
    "selection": "resample",
    "task_options": {},  # keyword options of the task (e.g. sd's prior_path and prompt); they shape the prior
}

# Settings that may differ between sessions of one campaign: they change where or how long it runs, not what it
# proposes.
RUNTIME_KEYS = frozenset({"budget", "device", "retries", "max_failure_rate", "oracle_timeout", "lease_seconds",
                          "particle_batch_size"})

CHOICES: dict[str, tuple[str, ...]] = {
    "surrogate": ("gp", "ensemble"),
    "acquisition": ("ucb", "mean", "thompson", "logei", "maxhead"),
    "resampling": ("multinomial", "stratified", "systematic", "residual", "ssp"),
    "tempering": ("exp", "poly", "adaptive", "none"),
    "selection": ("resample", "argmax", "top"),
    "alpha_units": ("oracle", "std"),
}

POSITIVE_INTS = ("batch_size", "particles", "steps")
POSITIVE_FLOATS = ("alpha", "gamma")


class ConfigError(OboptimError):
    """A setting with a bad value, or a resumed campaign opened with different settings."""


def resolve_config(task_defaults: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Library defaults < task defaults < overrides (``None`` values are ignored), validated."""
    config = dict(DEFAULTS)
    config.update({k: v for k, v in task_defaults.items() if k in DEFAULTS})
    config.update({k: v for k, v in overrides.items() if v is not None and k not in RUNTIME_KEYS})
    validate_config(config)
    return config


def validate_config(config: Mapping[str, Any]) -> None:
    unknown = sorted(set(config) - set(DEFAULTS))
    if unknown:
        raise ConfigError(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(DEFAULTS))}")
    for key, choices in CHOICES.items():
        if config[key] not in choices:
            raise ConfigError(f"{key} must be one of {', '.join(choices)}; got {config[key]!r}")
    for key in POSITIVE_INTS:
        if not isinstance(config[key], int) or isinstance(config[key], bool) or config[key] < 1:
            raise ConfigError(f"{key} must be a positive integer; got {config[key]!r}")
    for key in POSITIVE_FLOATS:
        if not isinstance(config[key], (int, float)) or not config[key] > 0:
            raise ConfigError(f"{key} must be a positive number; got {config[key]!r}")
    options = config["task_options"]
    if not isinstance(options, Mapping) or not all(
        isinstance(k, str) and (v is None or isinstance(v, (str, int, float, bool))) for k, v in options.items()
    ):
        raise ConfigError(f"task_options must map names to numbers, strings or booleans; got {options!r}")
    if not 0 <= config["ess_threshold"] <= 1:
        raise ConfigError(f"ess_threshold must lie in [0, 1]; got {config['ess_threshold']!r}")
    if config["beta"] < 0:
        raise ConfigError(f"beta must be >= 0; got {config['beta']!r}")


def check_resume(name: str, stored: Mapping[str, Any], overrides: Mapping[str, Any]) -> None:
    """Raise naming every key whose explicitly passed value differs from the stored campaign's."""
    changed = [
        key for key, value in overrides.items()
        if value is not None and key not in RUNTIME_KEYS and key in stored and stored[key] != value
    ]
    if changed:
        details = "; ".join(f"{k}={stored[k]!r} (you passed {overrides[k]!r})" for k in sorted(changed))
        raise ConfigError(
            f"campaign {name!r} was created with {details}: drop these options to resume it, "
            "or use --name to start a new campaign"
        )
