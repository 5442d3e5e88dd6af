"""Asynchronous evaluation against the blocking loop, with a slow, uneven oracle.

The oracle (scripts/simulated_lab.py) takes 1 to 10 s per candidate. 64 trials on gmm2d (toy defaults, batch 8):
- blocking: the loop asks a batch of 8, the lab scores it on 4 parallel slots, then the loop proposes again;
- process:4: 4 worker processes, each trial submitted as proposed, up to 8 unfinished (the default: 4 running, 4
  queued so that a freed slot never waits for the proposer);
- process:4@4: the same with at most 4 unfinished (nothing queued: each freed slot waits for a proposal);
- ray:4: the default on a local Ray with 4 CPUs.
Utilisation = the lab's busy slot-seconds / (4 slots x wall time).

Usage: python scripts/bench_executors.py [--trials 64] [--out bench/executors.md]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from oboptim import Campaign  # noqa: E402

LAB = ROOT / "scripts" / "simulated_lab.py"


def run_one(mode: str, trials: int, tmp: Path) -> tuple[float, float]:
    log = tmp / f"{mode.replace(':', '_').replace('@', '_')}.log"
    executor, _, pending = mode.partition("@")
    os.environ["LAB_LOG"] = str(log)
    campaign = Campaign.open(log.stem, storage=f"sqlite:///{tmp / 'bench.db'}", task="gmm2d", seed=0, batch_size=8,
                             budget=trials)
    started = time.perf_counter()
    if mode == "blocking":
        campaign.run(oracle=f"{LAB}:four_slots", oracle_timeout=600)
    else:
        campaign.run(oracle=f"{LAB}:one_at_a_time", oracle_timeout=600, executor=executor,
                     max_pending=int(pending) if pending else None)
    wall = time.perf_counter() - started
    busy = sum(float(line) for line in log.read_text().split())
    return wall, busy / (4 * wall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=64)
    parser.add_argument("--modes", default="blocking,process:4,process:4@4,ray:4")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "executors.md")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for mode in args.modes.split(","):
            wall, utilisation = run_one(mode, args.trials, Path(tmp))
            rows.append((mode, wall, utilisation))
            print(f"{mode:12s} wall {wall:7.1f} s  utilisation {utilisation:.0%}", flush=True)
    lines = ["# Asynchronous evaluation: wall time and oracle-slot utilisation", "",
             f"`python scripts/bench_executors.py --trials {args.trials}` on this machine (2 CPU cores). The oracle "
             "takes 1-10 s per candidate (uniform, deterministic in x), the lab has 4 slots; gmm2d with its "
             "defaults (32 particles x 50 steps), batch 8. `@4`: at most 4 unfinished trials instead of the default "
             "twice the slots. One run each.",
             "", "| mode | wall s | slot utilisation |", "|---|---|---|"]
    lines += [f"| {mode} | {wall:.1f} | {utilisation:.0%} |" for mode, wall, utilisation in rows]
    args.out.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
