"""Write tests/storage/assets/campaign_schema_v1.db: a real campaign written by oboptim at storage revision 0001.

Made once, by the version just before the proposer lease (revision 0002), and committed; never regenerated. The
upgrade-then-resume test opens a copy, upgrades it and runs the campaign further. Recipe:
  campaign "asset-0001" on gmm2d, seed 3, batch 4, 8 particles x 10 steps, budget 16, typed settings (schema 2);
  rounds 0 and 1 run with the noise-free corner oracle -|x - (4, 4)|^2 / 2 (8 completed trials);
  then 2 trials asked (held by "ask:lab") and 1 trial running under worker "gone-host:1" with an expired lease.

Usage: python scripts/make_campaign_asset.py [OUT]
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import numpy as np

from oboptim import Campaign
from oboptim.storage import Storage

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "tests" / "storage" / "assets" / "campaign_schema_v1.db"


def corner(x: np.ndarray) -> list[float]:
    return list(-np.sum((np.asarray(x, dtype=np.float64) - 4.0) ** 2, axis=-1) / 2)


def write_asset(path: Path) -> None:
    path.unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    with Storage(url) as storage:
        campaign = Campaign.open("asset-0001", storage=storage, task="gmm2d", seed=3, batch_size=4, particles=8,
                                 steps=10, budget=16)
        campaign.run(budget=8, oracle=corner)
        campaign.ask(2, holder="ask:lab")
        campaign.ask(1, holder="gone-host:1", lease_seconds=0.001)
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE trial SET state = 'running' WHERE worker = 'gone-host:1'")
    connection.close()
    with sqlite3.connect(path) as connection:  # one self-contained file
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
