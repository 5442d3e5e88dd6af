"""Compare candidate defaults against every baseline, per problem and regime, from benchmark result files.

    python scripts/defaults_table.py bench/compare_sample_efficiency_runs.jsonl [more.jsonl ...] [--seeds 0,1,2]
        [--candidates "ucb[...]" ...] [--baselines random,bo,turbo,greedy,seiko,ucb,thompson] [--markdown]

For every (problem, regime) it prints each method's median final regret [IQR], on-manifold rate and failed
fraction over the chosen seeds, and for every candidate the ratio of its median regret to the best baseline's
(regime A bar: <= 1.5 everywhere and < 1 where the dimension is >= 6; regime B bar: < 1). The screening score of a
candidate is the geometric mean of these ratios over all problems and regimes (lower is better). Regret uses the
problem's certified optimum, or, where there is none (digits), the best value any run in the files found.
"""

from __future__ import annotations

import argparse
import json
import math
import re
from collections import defaultdict
from pathlib import Path

import numpy as np

from oboptim.benchmark import build_problem

DIMENSIONS = {"gmm2d": 2, "swissroll3d": 3, "mixture8d": 8, "hartmann6d": 6, "levy12d": 12, "necklace10d": 10,
              "digits-jpeg": 256, "digits-margin": 256}
DEFAULT_BASELINES = ("random", "bo", "turbo", "greedy", "seiko", "ucb", "thompson", "ucb[selection=top]")
FLOOR = 1e-6  # regrets below this are treated as equal (noise level of the comparisons)


def load(paths: list[Path]) -> list[dict]:
    runs = []
    for path in paths:
        runs += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return runs


def final_regrets(runs: list[dict], seeds: set[int] | None) -> dict[tuple, dict]:
    """``(problem, regime, method) -> {"regret": [...], "on": rate, "failed": rate, "seeds": [...]}`` (latest run of
    each seed wins)."""
    latest: dict[tuple, dict] = {}
    for run in runs:
        if seeds is None or run["seed"] in seeds:
            latest[(run["problem"], run["regime"], run["method"], run["seed"])] = run
    best_found: dict[tuple, float] = defaultdict(lambda: -math.inf)
    for (problem, regime, _, _), run in latest.items():
        values = [v for v in run["true"] if v is not None]
        if values:
            best_found[(problem, regime)] = max(best_found[(problem, regime)], max(values))
    optimum = {}
    out: dict[tuple, dict] = defaultdict(lambda: {"regret": [], "on": [0, 0], "failed": [0, 0], "seeds": []})
    for (problem, regime, method, seed), run in sorted(latest.items()):
        if problem not in optimum:
            optimum[problem] = build_problem(problem).optimum
        reference = optimum[problem] if optimum[problem] is not None else best_found[(problem, regime)]
        values = [v for v in run["true"] if v is not None]
        entry = out[(problem, regime, method)]
        entry["regret"].append(reference - (max(values) if values else -math.inf))
        later = np.array(run["round"]) > 0
        entry["on"][0] += int(np.array(run["on_manifold"])[later].sum())
        entry["on"][1] += int(later.sum())
        entry["failed"][0] += sum(run["observed"][i] is None for i in np.flatnonzero(later))
        entry["failed"][1] += int(later.sum())
        entry["seeds"].append(seed)
    return out


def summary(entry: dict) -> tuple[float, float, float, float, float, int]:
    r = np.array(entry["regret"])
    return (float(np.median(r)), float(np.percentile(r, 25)), float(np.percentile(r, 75)),
            entry["on"][0] / max(entry["on"][1], 1), entry["failed"][0] / max(entry["failed"][1], 1), len(r))


def ratio(candidate: float, best: float) -> float:
    return max(candidate, FLOOR) / max(best, FLOOR)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--seeds", default=None)
    parser.add_argument("--baselines", default=",".join(DEFAULT_BASELINES))
    parser.add_argument("--candidates", nargs="*", default=None, help="default: every non-baseline method")
    parser.add_argument("--problems", default=None)
    parser.add_argument("--markdown", action="store_true", help="full per-problem tables")
    parser.add_argument("--matrix", action="store_true", help="one markdown row per candidate (for the report)")
    args = parser.parse_args()
    seeds = {int(s) for s in args.seeds.split(",")} if args.seeds else None
    table = final_regrets(load(args.files), seeds)
    baselines = [b for b in re.split(r",(?![^\[]*\])", args.baselines) if b]
    methods = sorted({m for (_, _, m) in table})
    candidates = args.candidates if args.candidates is not None else [m for m in methods if m not in baselines]
    problems = [p for p in (args.problems.split(",") if args.problems else DIMENSIONS) if
                any(k[0] == p for k in table)]
    scores = {}
    matrix = {}
    for candidate in candidates:
        ratios, cells, row = [], [], []
        for problem in problems:
            for regime in "AB":
                if (problem, regime, candidate) not in table:
                    continue
                base = [summary(table[(problem, regime, b)])[0] for b in baselines if (problem, regime, b) in table]
                med, q1, q3, on, failed, n = summary(table[(problem, regime, candidate)])
                if not base:
                    continue
                rho = ratio(med, min(base))
                ratios.append(rho)
                bar = (rho < 1.0) if (regime == "B" or DIMENSIONS[problem] >= 6) else (rho <= 1.5)
                flag = "" if bar else "!"
                cells.append(f"{problem}/{regime} {med:.3g} x{rho:.2f}{flag} on{on:.2f} f{failed:.2f} n{n}")
                row.append((f"{med:.2g} ({rho:.2f}{flag})", on, failed))
        if ratios:
            scores[candidate] = (float(np.exp(np.mean(np.log(ratios)))), sum("!" in c for c in cells), cells)
            matrix[candidate] = row
    for candidate, (score, misses, cells) in sorted(scores.items(), key=lambda kv: kv[1][0]):
        print(f"{score:7.3f} misses {misses:2d}  {candidate}")
        for i in range(0, len(cells), 2):
            print("          " + " | ".join(cells[i:i + 2]))
    if args.matrix:
        heads = [f"{p} {g}" for p in problems for g in "AB"]
        print("\n| configuration | score | misses | " + " | ".join(heads) + " | min on | max failed |")
        print("|---" * (len(heads) + 5) + "|")
        for candidate, (score, misses, _) in sorted(scores.items(), key=lambda kv: kv[1][0]):
            row = matrix[candidate]
            print(f"| `{candidate}` | {score:.2f} | {misses} | " + " | ".join(c[0] for c in row)
                  + f" | {min(c[1] for c in row):.2f} | {max(c[2] for c in row):.2f} |")
    if args.markdown:
        for problem in problems:
            for regime in "AB":
                print(f"\n### {problem}, regime {regime}\n")
                print("| method | median regret [IQR] | on-manifold | failed | seeds |\n|---|---|---|---|---|")
                for method in dict.fromkeys([*baselines, *candidates]):
                    if (problem, regime, method) in table:
                        med, q1, q3, on, failed, n = summary(table[(problem, regime, method)])
                        print(f"| {method} | {med:.3g} [{q1:.3g}, {q3:.3g}] | {on:.2f} | {failed:.2f} | {n} |")


if __name__ == "__main__":
    main()
