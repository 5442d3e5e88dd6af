"""Benchmark the surrogates: fit time and posterior (acquisition) cost against the number of observations.

    python scripts/bench_surrogates.py                        # 100 / 1000 / 3000 points, 2-D, CPU
    python scripts/bench_surrogates.py --sizes 100,1000 --dim 8 --threads 1 --device cuda

For each surrogate and training size: seconds to fit, seconds for one UCB evaluation with its gradient on
``--queries`` candidates (what the SMC sampler pays per step and chunk), the number of points the posterior
conditions on, and the test RMSE on a smooth function (a sanity check that the fit is not degenerate).
Writes ``<out>/surrogates_<device>.md`` and ``.json``. Times are medians of ``--repeats`` runs.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from oboptim.acquisition import make_acquisition
from oboptim.surrogates import EnsembleSurrogate, GPSurrogate, IdentityFeatures

ROOT = Path(__file__).resolve().parent.parent


def smooth_function(X: torch.Tensor) -> torch.Tensor:
    """``[n, d] -> [n]``: a few bumps and a trend, on the unit cube."""
    return torch.sin(5 * X[:, 0]) + (X - 0.5).square().sum(-1) - 0.5 * torch.cos(3 * X[:, -1])


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def median_seconds(fn, device: str, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_one(name: str, n: int, args: argparse.Namespace) -> dict:
    generator = torch.Generator().manual_seed(n)
    X = torch.rand(n, args.dim, generator=generator, dtype=torch.float64)
    y = smooth_function(X) + 0.05 * torch.randn(n, generator=generator, dtype=torch.float64)
    make = {"gp": GPSurrogate, "ensemble": EnsembleSurrogate}[name]

    surrogate = make()
    start = time.perf_counter()
    report = surrogate.fit(X, y, generator=torch.Generator().manual_seed(0))
    fit_seconds = time.perf_counter() - start
    surrogate.to(args.device)

    queries = torch.rand(args.queries, args.dim, generator=generator, device="cpu").to(args.device)
    acquisition = make_acquisition("ucb", surrogate, features=IdentityFeatures())

    def ucb_with_gradient():
        x = queries.clone().requires_grad_(True)
        acquisition(x).sum().backward()

    posterior_seconds = median_seconds(ucb_with_gradient, args.device, args.repeats)
    X_test = torch.rand(2000, args.dim, generator=generator, dtype=torch.float64)
    mean, _ = surrogate.posterior(X_test.to(args.device))
    rmse = float((mean.double().cpu() - smooth_function(X_test)).square().mean().sqrt())
    return {"surrogate": name, "n": n, "conditions_on": surrogate.num_train, "fit_s": fit_seconds,
            "ucb_grad_s": posterior_seconds, "rmse": rmse,
            "fallback_used": report.diagnostics.get("fallback_used", False)}


def markdown_table(rows: list[dict], args: argparse.Namespace) -> str:
    header = (f"Surrogates on {args.device} ({platform.processor() or platform.machine()}, "
              f"{torch.get_num_threads()} threads), d={args.dim}, UCB+gradient on {args.queries} candidates\n\n"
              "| surrogate | n | conditions on | fit (s) | UCB+grad (s) | test RMSE | fallback |\n"
              "|---|---:|---:|---:|---:|---:|---|\n")
    lines = [f"| {r['surrogate']} | {r['n']} | {r['conditions_on']} | {r['fit_s']:.2f} | {r['ucb_grad_s']:.3f} "
             f"| {r['rmse']:.3f} | {r['fallback_used']} |" for r in rows]
    return header + "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,3000", help="comma-separated training sizes")
    parser.add_argument("--surrogates", default="gp,ensemble")
    parser.add_argument("--dim", type=int, default=2)
    parser.add_argument("--queries", type=int, default=10_000, help="candidates per UCB evaluation")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=ROOT / "bench_results")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    rows = []
    for name in args.surrogates.split(","):
        for n in (int(size) for size in args.sizes.split(",")):
            rows.append(bench_one(name, n, args))
            print(f"{name:9s} n={n:5d}  fit {rows[-1]['fit_s']:7.2f} s  UCB+grad {rows[-1]['ucb_grad_s']:7.3f} s  "
                  f"rmse {rows[-1]['rmse']:.3f}", flush=True)
    table = markdown_table(rows, args)
    print("\n" + table)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"surrogates_{args.device.split(':')[0]}"
    stem.with_suffix(".md").write_text(table)
    stem.with_suffix(".json").write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                                     "rows": rows}, indent=2))
    print(f"wrote {stem}.md and {stem}.json")


if __name__ == "__main__":
    main()
