"""Several processes asking and telling on one campaign: wall time against one process, and discarded proposals.

4 worker processes each ask 1 candidate and tell its value, 50 times (200 trials), on one SQLite campaign
(mixture test task, 8 particles x 10 steps); against 1 process doing all 200. One worker proposes at a time (the
proposer lease), so no proposal is computed and thrown away.

Usage: python scripts/bench_workers.py [--trials 50] [--out bench/workers.md]
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TASK = f"{ROOT / 'tests' / 'campaign' / 'mixture_task.py'}:TASK"


def worker(url: str, trials: int, start_at: float) -> int:
    import torch

    from oboptim import Campaign

    torch.set_num_threads(1)
    time.sleep(max(0.0, start_at - time.time()))
    campaign = Campaign.open("bench", storage=url)
    for _ in range(trials):
        (trial,) = campaign.ask(1)
        campaign.tell(trial.id, float(-np.sum((trial.x - 4.0) ** 2)))
    return campaign.discarded_proposals


def measure(processes: int, per_worker: int, tmp: Path) -> tuple[float, int]:
    from oboptim import Campaign

    url = f"sqlite:///{tmp / f'{processes}.db'}"
    Campaign.open("bench", storage=url, task=TASK, seed=0, particles=8, steps=10).storage.close()
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(processes, mp_context=context) as pool:
        list(pool.map(time.sleep, [0.1] * processes))  # workers started and warm before the clock starts
        start_at = time.time() + 8.0
        futures = [pool.submit(worker, url, per_worker, start_at) for _ in range(processes)]
        discarded = sum(f.result() for f in futures)
    return time.time() - start_at, discarded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=50, help="ask/tell per worker of the 4")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "workers.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        four = measure(4, args.trials, Path(tmp))
        one = measure(1, 4 * args.trials, Path(tmp))
    lines = ["# Several workers on one campaign", "",
             f"`python scripts/bench_workers.py --trials {args.trials}`: 4 processes x {args.trials} ask/tell of one "
             f"candidate, against 1 process x {4 * args.trials}, on one SQLite campaign (2 CPU cores).", "",
             "| workers | trials | wall s | discarded proposals |", "|---|---|---|---|",
             f"| 4 | {4 * args.trials} | {four[0]:.1f} | {four[1]} |",
             f"| 1 | {4 * args.trials} | {one[0]:.1f} | {one[1]} |"]
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
