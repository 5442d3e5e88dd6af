"""Campaign history as CSV or JSON: one row per trial."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable
from typing import Any

from oboptim._records import Provenance
from oboptim.sequences._space import SequenceSpace
from oboptim.storage._records import TrialRecord

COLUMNS = ("trial_id", "number", "round", "state", "value", "error", "x", "predicted_mean", "predicted_std",
           "acquisition", "log_weight", "source", "worker", "created_at", "finished_at")


def trial_row(trial, sequence: SequenceSpace | None = None) -> dict[str, Any]:
    """The exported fields of one trial; ``x`` as a JSON list, or a string over a ``sequence`` space's alphabet."""
    prov = Provenance.from_json(trial.provenance)
    return {
        "trial_id": trial.id,
        "number": trial.number,
        "round": trial.round,
        "state": str(trial.state),
        "value": trial.value,
        "error": trial.error,
        "x": json.dumps(trial.x_list()) if sequence is None else sequence.format(trial.x),
        "predicted_mean": prov.predicted_mean,
        "predicted_std": prov.predicted_std,
        "acquisition": prov.acquisition,
        "log_weight": prov.log_weight,
        "source": prov.source,
        "worker": trial.worker,
        "created_at": trial.created_at.isoformat() if trial.created_at else None,
        "finished_at": trial.finished_at.isoformat() if trial.finished_at else None,
    }


def export_trials(trials: Iterable[TrialRecord], fmt: str = "csv", *, sequence: SequenceSpace | None = None) -> str:
    """``trials`` (e.g. ``campaign.trials()``) as ``"csv"`` or ``"json"`` text, one row per trial; the candidates of
    a ``sequence`` campaign (``campaign.sequence``) as strings over its alphabet."""
    rows = [trial_row(t, sequence) for t in trials]
    if fmt == "json":
        for row in rows:
            if sequence is None:
                row["x"] = json.loads(row["x"])
            row["provenance"] = None
        return json.dumps([_json_safe(r) for r in rows], indent=1) + "\n"
    if fmt != "csv":
        raise ValueError(f"format must be csv or json, got {fmt!r}")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row[k] is None else row[k] for k in COLUMNS})
    return buffer.getvalue()


def _json_safe(row: dict[str, Any]) -> dict[str, Any]:
    row.pop("provenance", None)
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}


__all__ = ["COLUMNS", "export_trials", "trial_row"]
