"""Benchmark one campaign round (fit + SMC proposal of 16 candidates + store) against the history size.

    python scripts/bench_campaign.py [--sizes 100,1000,3000] [--repeats 3] [--device cpu]
    python scripts/bench_campaign.py --compare [--tasks ...] [--methods ...] [--seeds ...] [--quick]

With ``--compare`` it runs the sample-efficiency benchmark instead (:mod:`oboptim.benchmark._compare`: oboptim
against random prior sampling and box-constrained BoTorch qLogEI, regimes A and B); see
``python scripts/bench_campaign.py --compare --help``.

For each size N, a fresh SQLite campaign on gmm2d is filled with N scored prior-data points (stored as real trials),
then full rounds are timed: surrogate fit on all N, SMC proposal (16 groups x 64 particles x 100 steps, GP-UCB),
and the one-transaction write of the round. Prints a markdown table and writes bench/campaign_<device>.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from oboptim import Campaign, RoundDiagnostics

ROOT = Path(__file__).resolve().parent.parent


def fill(campaign: Campaign, n: int) -> None:
    """Store n scored trials drawn from the task's data distribution, in one round."""
    rng = np.random.default_rng(0)
    xs = campaign.task.sample_data(n, rng).astype(np.float32)
    values = campaign.task.oracle(xs)
    trials = campaign.storage.add_round(campaign.id, 0, list(xs), [{"source": "bench"}] * n, b"", {"source": "bench"})
    for trial, value in zip(trials, values):
        campaign.storage.complete_trial(trial.id, float(value), campaign_id=campaign.id)


def time_rounds(n: int, repeats: int, device: str, batch: int, settings: dict) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        campaign = Campaign.open("bench", storage=f"sqlite:///{tmp}/bench.db", task="gmm2d", seed=0, device=device,
                                 **settings)
        settings = {k: getattr(campaign.settings, k) for k in ("surrogate", "particles", "steps")}
        fill(campaign, n)
        totals, fits, proposes, stores = [], [], [], []
        for _ in range(repeats):
            start = time.perf_counter()
            trials = campaign.ask(batch)
            total = time.perf_counter() - start
            diag = RoundDiagnostics.from_json(campaign.storage.get_round(campaign.id, trials[0].round).diagnostics)
            for trial, value in zip(trials, campaign.task.oracle(np.stack([t.x for t in trials]))):
                campaign.tell(trial.id, float(value))
            totals.append(total)
            fits.append(diag.seconds_fit)
            proposes.append(diag.seconds_propose)
            stores.append(total - diag.seconds_fit - diag.seconds_propose)
        campaign.storage.close()
    median = statistics.median
    return dict(n=n, total=median(totals), fit=median(fits), propose=median(proposes), store=median(stores),
                **settings)


def main() -> None:
    if "--compare" in sys.argv[1:]:
        from oboptim.benchmark import main as compare_main

        compare_main([a for a in sys.argv[1:] if a != "--compare"])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100,1000,3000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--surrogate", default=None, help="gp or ensemble (default: the task's)")
    parser.add_argument("--particles", type=int, default=None, help="per candidate (default: the task's)")
    parser.add_argument("--steps", type=int, default=None, help="default: the task's")
    parser.add_argument("--out", type=Path, default=ROOT / "bench")
    args = parser.parse_args()
    rows = []
    settings = {"surrogate": args.surrogate, "particles": args.particles, "steps": args.steps}
    for n in (int(s) for s in args.sizes.split(",")):
        rows.append(time_rounds(n, args.repeats, args.device, args.batch, settings))
        r = rows[-1]
        print(f"N={n:5d}: round {r['total']:.2f}s (fit {r['fit']:.2f}s, propose {r['propose']:.2f}s, "
              f"store+history {r['store']:.2f}s)", flush=True)
    lines = [f"# Campaign round time on gmm2d ({args.device}; medians of {args.repeats} rounds)", "",
             f"Each round: surrogate fit on all N observations, SMC proposal of {args.batch} candidates "
             f"({args.batch} groups, UCB), and the round's single write transaction.", "",
             "| observations | surrogate | particles x steps | round (s) | fit (s) | propose (s) "
             "| store + history (s) |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['n']:,} | {r['surrogate']} | {r['particles']} x {r['steps']} | {r['total']:.2f} | {r['fit']:.2f} "
              f"| {r['propose']:.2f} | {r['store']:.2f} |" for r in rows]
    args.out.mkdir(parents=True, exist_ok=True)
    tag = "_".join(f"{k}{v}" for k, v in settings.items() if v is not None)
    (args.out / f"campaign_{args.device}{'_' + tag if tag else ''}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
