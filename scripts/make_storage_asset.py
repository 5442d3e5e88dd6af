"""Write tests/storage/assets/schema_v{N}.db: a small campaign at the current storage schema version N.

The file is committed and never regenerated once a newer schema exists: tests open it to check that every upgrade
path keeps old campaigns readable and resumable. Recipe (tests rely on it):
  campaign "asset-v1" (task gmm2d, seed 0, config {"alpha": 0.1, "particles": 64});
  candidates: numpy default_rng(0).standard_normal((7, 2)).astype(float32), trials 0-3 in round 0, 4-6 in round 1;
  round 0: trial 0 -> 1.5, trial 1 -> -0.25 (sem 0.1, rater "lab"), trial 2 failed "instrument error",
           trial 3 abandoned "stopped";
  round 1 (surrogate snapshot, train_size 2): trial 4 -> 2.0, trial 5 running (worker "w1"), trial 6 waiting.

Usage: python scripts/make_storage_asset.py [OUT]
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import numpy as np

from oboptim.storage import CURRENT_SCHEMA_VERSION, Storage

ASSETS = Path(__file__).resolve().parents[1] / "tests" / "storage" / "assets"
DEFAULT_OUT = ASSETS / f"schema_v{CURRENT_SCHEMA_VERSION}.db"


def write_asset(path: Path) -> None:
    path.unlink(missing_ok=True)
    candidates = np.random.default_rng(0).standard_normal((7, 2)).astype(np.float32)
    with Storage(f"sqlite:///{path}") as storage:
        campaign, _ = storage.get_or_create_campaign(
            "asset-v1", task="gmm2d", config={"alpha": 0.1, "particles": 64}, seed=0
        )
        first = storage.add_round(
            campaign.id,
            0,
            list(candidates[:4]),
            [{"log_weight": -1.0 * i, "acquisition": float("nan")} for i in range(4)],
            rng_state=b"round-0-state",
            diagnostics={"ess": [64.0, 31.5], "log_z": [0.0, -0.5]},
        )
        storage.complete_trial(first[0].id, 1.5)
        storage.complete_trial(first[1].id, -0.25, sem=0.1, rater="lab")
        storage.fail_trial(first[2].id, "instrument error")
        storage.abandon_trial(first[3].id, "stopped")
        second = storage.add_round(
            campaign.id,
            1,
            list(candidates[4:]),
            [{"predicted_mean": 0.5, "predicted_std": 0.2} for _ in range(3)],
            rng_state=b"round-1-state",
            diagnostics={"ess": [64.0]},
            surrogate={"train_size": 2, "hyperparameters": {"lengthscale": [0.3, 0.4]}, "diagnostics": {"mll": -1.2}},
        )
        storage.complete_trial(second[0].id, 2.0)
        storage.claim_trials(campaign.id, "w1", lease_seconds=3600.0, limit=1)
    # One self-contained file: fold the WAL back in and leave rollback-journal mode.
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.execute("PRAGMA journal_mode=DELETE")
    connection.close()
    with sqlite3.connect(path) as connection:
        connection.execute("VACUUM")
    connection.close()


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT
    write_asset(out)
    print(f"wrote {out} ({out.stat().st_size} bytes)")
