"""Typed records of what a campaign stores about its proposals: each candidate's provenance and each round's
diagnostics.

Both are stored as JSON (the trial's ``provenance`` column, the round's ``diagnostics`` column) and read back with
``from_json``, which also reads what older versions wrote. Storage itself stays generic (it keeps JSON objects);
these records are the one place that names the keys.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

PRIOR = "prior"
SMC = "smc"


def _known_fields(cls: type, data: Mapping[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def _to_json(record: Any) -> dict[str, Any]:
    return {f.name: getattr(record, f.name) for f in fields(record) if getattr(record, f.name) is not None}


@dataclass(frozen=True)
class Provenance:
    """Where one candidate came from.

    Every field is optional when read back (a trial stored by hand may carry none).

    Attributes:
        source: ``"prior"`` (round 0: a prior sample) or ``"smc"`` (drawn by the sampler from the tilted prior).
        round: the round that proposed it.
        steps: reverse diffusion steps of a prior sample.
        group, particle: the sampler group and particle it was taken from.
        log_weight: its normalised log weight within its group.
        acquisition: the acquisition value at the candidate, in the oracle's units.
        predicted_mean, predicted_std: the surrogate's latent posterior at the candidate.
        predictive_std: the posterior standard deviation of an observation (latent plus observation noise).
        surrogate_version: the round whose surrogate fit proposed it.
        train_size: observations the surrogate was fitted on.
        pending: candidates pending (asked, not told) when it was proposed.
        settings: the campaign settings it was proposed with (JSON).
    """

    source: str | None = None
    round: int | None = None
    steps: int | None = None
    group: int | None = None
    particle: int | None = None
    log_weight: float | None = None
    acquisition: float | None = None
    predicted_mean: float | None = None
    predicted_std: float | None = None
    predictive_std: float | None = None
    surrogate_version: int | None = None
    train_size: int | None = None
    pending: int | None = None
    settings: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return _to_json(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Provenance:
        """The record of a stored provenance; ``sampler`` (the name before version 0.2) reads as ``settings``."""
        data = dict(data or {})
        if "sampler" in data and "settings" not in data:
            data["settings"] = data.pop("sampler")
        return cls(**_known_fields(cls, data))

    @property
    def has_prediction(self) -> bool:
        """Whether a surrogate predicted this candidate's value (so it counts in the surrogate-vs-oracle gap)."""
        return self.predicted_mean is not None


@dataclass(frozen=True)
class GapSummary:
    """Predicted against observed values of one round's completed candidates (over-optimisation shows as a gap).

    Attributes:
        gap: mean of predicted minus observed.
        gap_rmse: root mean square of predicted minus observed.
        observed_mean, predicted_mean: the two means.
        observed_count: completed candidates counted.
    """

    gap: float
    gap_rmse: float
    observed_mean: float
    predicted_mean: float
    observed_count: int

    def to_json(self) -> dict[str, Any]:
        return _to_json(self)


@dataclass(frozen=True)
class RoundDiagnostics:
    """How one round's proposal went (the sampler's traces are means over groups).

    Attributes:
        source: ``"prior"`` or ``"smc"``.
        seconds_propose: wall time of the proposal (after the fit).
        seconds_fit: wall time of the surrogate fit.
        ess: ``[K]`` effective sample size after each move, before resampling.
        ess_min: the smallest ESS of any group at any step.
        final_ess: ``[G]`` each group's ESS at the end.
        lambdas: ``[K]`` tempering weight after each move.
        log_z: ``[G]`` each group's estimate of ``log E_prior[exp(a / alpha)]``.
        reward_trace: ``[K]`` weighted mean acquisition after each move.
        resample_count: group resamplings over the run.
        alpha: the KL coefficient the sampler used, in the acquisition's units.
        alpha_scale: what the acquisition was divided by before the sampler saw it (1, or the observed values'
            standard deviation with ``alpha_units=std``).
        acquisition: the acquisition kind that drove the sampler.
        selection: the selection kind that took the batch (None: a round stored before it was recorded).
        batch_spread: mean pairwise Euclidean distance between the batch's candidates in the prior's particle space.
        manifold_dropped: final particles the manifold check excluded from the selection (0: the check was off or
            passed them all; None: a round stored before it was recorded).
        note: one line on an unusual proposal, e.g. a sequence round that found fewer new sequences than asked for
            and proposed fewer, or filled its batch beyond the sampler (None: nothing to say).
        retried_batches: batches of the round's trials that the oracle failed transiently (an exception, a crash, a
            timeout) and that were asked again, filled in as the outcomes arrive (None: none, or not recorded).
        retry_reason: the last such failure's reason.
        gap: predicted against observed values, filled in as the round's outcomes arrive.
    """

    source: str
    seconds_propose: float = 0.0
    seconds_fit: float | None = None
    ess: list[float] | None = None
    ess_min: float | None = None
    final_ess: list[float] | None = None
    lambdas: list[float] | None = None
    log_z: list[float] | None = None
    reward_trace: list[float] | None = None
    resample_count: int | None = None
    alpha: float | None = None
    alpha_scale: float | None = None
    acquisition: str | None = None
    selection: str | None = None
    batch_spread: float | None = None
    manifold_dropped: int | None = None
    note: str | None = None
    retried_batches: int | None = None
    retry_reason: str | None = None
    gap: GapSummary | None = None

    @property
    def oracle_alpha(self) -> float | None:
        """The KL coefficient in the oracle's units (``alpha * alpha_scale``), the tilt the round really had."""
        if self.alpha is None:
            return None
        return self.alpha * (1.0 if self.alpha_scale is None else self.alpha_scale)

    def to_json(self) -> dict[str, Any]:
        data = _to_json(dataclasses.replace(self, gap=None))
        if "lambdas" in data:
            data["lambda"] = data.pop("lambdas")
        if self.gap is not None:
            data.update(self.gap.to_json())
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> RoundDiagnostics:
        data = dict(data or {})
        gap = GapSummary(**_known_fields(GapSummary, data)) if "gap" in data else None
        if "lambda" in data:
            data["lambdas"] = data.pop("lambda")
        data.pop("gap", None)
        data.setdefault("source", "unknown")
        return cls(**_known_fields(cls, data), gap=gap)


__all__ = ["PRIOR", "SMC", "GapSummary", "Provenance", "RoundDiagnostics"]
