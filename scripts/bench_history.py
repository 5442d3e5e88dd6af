"""A campaign round against the size of its history: surrogate fit, one proposal, and calibration.

    python scripts/bench_history.py                                  # gmm2d and mixture8d, 100 / 1,000 / 10,000
    python scripts/bench_history.py --sizes 1000 --candidates gp,gp-m256 --repeats 1

For each task, history size ``n`` and surrogate candidate: ``n`` draws of the task's data with realistic noisy oracle
values (gmm2d's oracle carries noise 0.1; mixture8d's is noise free, so Gaussian noise of sd ``--noise`` is added),
then

- fit (s): ``oboptim._proposal.fit_surrogate``, the round's first step;
- propose (s): the rest of ``oboptim._proposal.propose`` with the task's toy settings (16 candidates x 32 particles
  x 50 steps, UCB): the SMC sampler evaluates the acquisition and its gradient on every particle at every step;
- CPU (s): the process's CPU time for fit + propose (all threads), which other work on a shared machine inflates
  far less than the wall time when torch runs one thread (``--threads 1``);
- pending (s): ``condition_on_pending`` with 16 pending candidates (what a round costs more with asynchronous
  oracles);
- calibration on 2,000 held-out noisy observations of the same distribution: the fraction within 2 predictive
  standard deviations (``sqrt(var + noise_variance)``, nominally 0.95), Spearman's rho and the RMSE of the mean.

Times and scores are medians over ``--repeats`` histories (fresh data each). Writes ``--out`` (markdown) and the
same rows as JSON next to it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

from oboptim import CampaignSettings, load_task
from oboptim._proposal import History, features_of, fit_surrogate, propose
from oboptim.surrogates import SURROGATES, EnsembleSurrogate, GPSurrogate

ROOT = Path(__file__).resolve().parents[1]
HELD_OUT = 2000
PENDING = 16

# Candidates beside the registered kinds ("gp", "ensemble"): name -> (factory, what it is).
CANDIDATES = {
    "gp-exact2000": (partial(GPSurrogate, max_exact=2000, num_inducing=None),
                     "the previous default: exact GP on at most 2,000 observations (a random subset beyond)"),
    "gp-subset500": (partial(GPSurrogate, max_exact=500, num_inducing=None),
                     "exact GP on a random subset of 500 observations that keeps the best"),
    "gp-m128": (partial(GPSurrogate, num_inducing=128), "the default GP with 128 inducing inputs instead of 256"),
    "gp-m512": (partial(GPSurrogate, num_inducing=512), "the default GP with 512 inducing inputs instead of 256"),
    "ensemble-fast": (partial(EnsembleSurrogate, steps=200), "the ensemble with 200 AdamW steps instead of 500"),
}


def history_and_test(task, n: int, seed: int, noise: float) -> tuple[History, np.ndarray, np.ndarray]:
    """``n`` scored draws of the task's data as a History, and held-out ``X [HELD_OUT, d]``, ``y [HELD_OUT]``."""
    rng = np.random.default_rng(seed)
    X = task.sample_data(n + HELD_OUT, rng)
    y = np.asarray(task.oracle(X), dtype=np.float64)
    if noise > 0:
        y = y + noise * rng.standard_normal(y.shape)
    pending = np.zeros((0, *X.shape[1:]), dtype=np.float32)
    history = History(X[:n].astype(np.float32), y[:n], pending)
    return history, X[n:].astype(np.float32), y[n:]


def calibration(surrogate, task, X_test: np.ndarray, y_test: np.ndarray) -> dict:
    """Held-out coverage of +-2 predictive sd, Spearman's rho and RMSE of the posterior mean."""
    with torch.no_grad():
        mean, variance = surrogate.posterior(features_of(task, X_test))
    mean, variance = mean.double().numpy(), variance.double().numpy()
    predictive_sd = np.sqrt(np.clip(variance, 0, None) + surrogate.noise_variance())
    return {"coverage": float(np.mean(np.abs(y_test - mean) <= 2 * predictive_sd)),
            "spearman": float(spearmanr(y_test, mean).statistic),
            "rmse": float(np.sqrt(np.mean((y_test - mean) ** 2)))}


def bench_once(task, prior, candidate: str, n: int, seed: int, noise: float) -> dict:
    """One history: fit, calibration, pending and a timed proposal."""
    history, X_test, y_test = history_and_test(task, n, seed, noise)
    settings = CampaignSettings.resolve(task.defaults, {"surrogate": candidate})
    cpu_started = time.process_time()
    fitted = fit_surrogate(task, settings, history, torch.Generator().manual_seed(seed))
    fit_cpu = time.process_time() - cpu_started
    scores = calibration(fitted.surrogate, task, X_test, y_test)
    started = time.perf_counter()
    fitted.surrogate.condition_on_pending(features_of(task, X_test[:PENDING]))
    pending_seconds = time.perf_counter() - started
    cpu_started = time.process_time()
    proposal = propose(task, prior, settings, history, settings.batch_size, torch.Generator().manual_seed(seed),
                       round_index=1)
    round_cpu = time.process_time() - cpu_started
    diagnostics = fitted.report.diagnostics
    return {"fit_s": proposal.diagnostics.seconds_fit, "propose_s": proposal.diagnostics.seconds_propose,
            "fit_cpu_s": fit_cpu, "round_cpu_s": round_cpu, "pending_s": pending_seconds,
            "conditions_on": fitted.surrogate.num_train,
            "posterior": diagnostics.get("posterior", "-"), "inducing": diagnostics.get("num_inducing") or "-",
            **scores}


def bench(task_name: str, candidate: str, n: int, args: argparse.Namespace) -> dict:
    """Medians over ``args.repeats`` histories of :func:`bench_once`."""
    task = load_task(task_name)
    prior = task.load_prior(torch.device("cpu"))
    noise = args.noise if task_name == "mixture8d" else 0.0
    runs = [bench_once(task, prior, candidate, n, 1000 * repeat + n, noise) for repeat in range(args.repeats)]
    row = {"task": task_name, "n": n, "surrogate": candidate, "posterior": runs[0]["posterior"],
           "inducing": runs[0]["inducing"], "conditions_on": runs[0]["conditions_on"]}
    for key in ("fit_s", "propose_s", "fit_cpu_s", "round_cpu_s", "pending_s", "coverage", "spearman", "rmse"):
        row[key] = statistics.median(run[key] for run in runs)
    row["round_s"] = row["fit_s"] + row["propose_s"]
    return row


def markdown(rows: list[dict], args: argparse.Namespace, load: tuple[float, float]) -> str:
    helps = {name: SURROGATES.help(name) for name in SURROGATES.names()}
    helps.update({name: text for name, (_, text) in CANDIDATES.items()})
    lines = [
        f"# A round against its history, CPU ({platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, {torch.get_num_threads()} torch threads"
        f"{' (set by --threads)' if args.threads else ', torch default'})",
        "",
        f"`python scripts/bench_history.py {' '.join(args.argv)}`".replace(" `", "`"),
        "",
        f"Medians of {args.repeats} histories of `n` draws of the task's data with noisy oracle values (mixture8d: "
        f"noise sd {args.noise} added). fit + propose = `oboptim._proposal.propose` with the toy settings "
        "(16 candidates x 32 particles x 50 steps, UCB, alpha 0.05 std); pending: `condition_on_pending` with 16 "
        f"points; calibration on {HELD_OUT} held-out noisy observations: coverage of +-2 predictive sd (nominal "
        f"0.95), Spearman's rho and RMSE of the mean. Load average during the run: {load[0]:.1f} at the start, "
        f"{load[1]:.1f} at the end (2 cores shared with other work).",
        "",
        "| task | n | surrogate | posterior | inducing | fit (s) | propose (s) | **fit + propose (s)** "
        "| fit CPU (s) | fit + propose CPU (s) | pending (s) | coverage 2sd | Spearman | RMSE |",
        "|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [f"| {r['task']} | {r['n']:,} | {r['surrogate']} | {r['posterior']} | {r['inducing']} | "
              f"{r['fit_s']:.2f} | {r['propose_s']:.2f} | **{r['round_s']:.2f}** | {r['fit_cpu_s']:.2f} | "
              f"{r['round_cpu_s']:.2f} | {r['pending_s']:.2f} | {r['coverage']:.3f} | {r['spearman']:.3f} | "
              f"{r['rmse']:.3f} |" for r in rows]
    used = dict.fromkeys(r["surrogate"] for r in rows)
    lines += ["", "Surrogates:", ""] + [f"- `{name}`: {helps[name]}" for name in used]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="gmm2d,mixture8d")
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--candidates", default="gp,gp-exact2000,ensemble",
                        help=f"comma-separated: {', '.join([*SURROGATES.names(), *CANDIDATES])}")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--noise", type=float, default=0.1, help="oracle noise sd added for mixture8d")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch.set_num_threads for a reference run (default: torch's own choice)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "history_cpu.md")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    args.argv = sys.argv[1:]
    for name in args.candidates.split(","):
        if name in CANDIDATES and name not in SURROGATES:
            SURROGATES.register(name, CANDIDATES[name][0], help=CANDIDATES[name][1])
    load_start = os.getloadavg()[0]
    rows = []
    for task_name in args.tasks.split(","):
        for n in (int(size) for size in args.sizes.split(",")):
            for candidate in args.candidates.split(","):
                rows.append(bench(task_name, candidate, n, args))
                r = rows[-1]
                print(f"{task_name:9s} n={n:6d} {candidate:13s} fit {r['fit_s']:5.2f} s propose {r['propose_s']:5.2f} s"
                      f" (CPU {r['round_cpu_s']:5.2f} s) pending {r['pending_s']:5.2f} s"
                      f"  coverage {r['coverage']:.3f} rho {r['spearman']:.3f}"
                      f" rmse {r['rmse']:.3f}", flush=True)
    table = markdown(rows, args, (load_start, os.getloadavg()[0]))
    print("\n" + table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(table)
    args.out.with_suffix(".json").write_text(json.dumps(rows, indent=2))
    print(f"wrote {args.out} and {args.out.with_suffix('.json')}")


if __name__ == "__main__":
    main()
