"""The sample-efficiency comparison: every method on every problem and regime, at the same oracle budget.

Methods (``--methods``; each name may carry oboptim settings, e.g. ``ucb[beta=4,selection=argmax]``):

- ``random``: prior samples every round;
- ``bo``: standard BO, BoTorch qLogEI over the bounding box of prior samples (no prior);
- ``turbo``: trust-region BO (TuRBO-1, Thompson sampling in a box around the incumbent) in the same box (no prior);
- ``default``: oboptim with the library's defaults only, as a user's task with no ``defaults`` gets them (the task's
  own defaults and the problem's settings are ignored; only the digits problems' cost caps on particles and steps
  apply);
- ``greedy``: oboptim, GP posterior mean as the SMC reward;
- ``seiko``: oboptim, bootstrap MLP ensemble with the maximum head as the reward (SEIKO-style optimism);
- ``ucb``: oboptim, GP + UCB;
- ``thompson``: oboptim, GP + Thompson sampling.

Every oboptim method but ``default`` starts from :data:`oboptim._settings.LEGACY_DEFAULTS` and the problem's pinned
settings (:data:`oboptim.benchmark._problems.LEGACY_SETTINGS`), so that its rows do not move when the library default
changes.

All start from the same round 0 of prior samples for a given seed. Each run is one JSON line in the results file, so
``--tasks``/``--methods``/``--seeds`` reruns add to it and runs already there are reused; the table and figure are
rendered from every matching run in the file.

Metrics, per problem and regime (over seeds):

- final simple regret: ``f* - max`` of the noise-free value over the completed queries (failed queries never count);
  ``f*`` is the optimum on the prior's support where known, else the best value any run of that problem and regime
  found;
- on-manifold rate: fraction of proposals after round 0 whose log-density is above the 1st percentile of prior
  samples (:mod:`oboptim.benchmark._problems`);
- failed fraction: fraction of queries after round 0 that failed.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shlex
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import torch

from oboptim._settings import LEGACY_DEFAULTS, CampaignSettings
from oboptim.benchmark._baselines import box_bayesopt, random_search, trust_region_bayesopt
from oboptim.benchmark._problems import (
    BENCH_OVERRIDES,
    PROBLEMS,
    REGIMES,
    Manifold,
    RegimeOracle,
    build_problem,
    measure_manifold,
)

METHODS: dict[str, dict[str, Any]] = {
    "random": {"label": "random prior samples"},
    "bo": {"label": "standard BO (qLogEI, box)"},
    "turbo": {"label": "trust-region BO (TuRBO-1, box)"},
    "default": {"label": "oboptim default (no settings)"},
    "greedy": {"label": "greedy (GP mean)", "surrogate": "gp", "acquisition": "mean"},
    # The batch by max-head value alone, as SEIKO takes it (and as the runs on record did).
    "seiko": {"label": "SEIKO-style (ensemble max-head)", "surrogate": "ensemble", "acquisition": "maxhead",
              "selection": "top"},
    "ucb": {"label": "oboptim GP+UCB", "surrogate": "gp", "acquisition": "ucb"},
    "thompson": {"label": "oboptim GP+Thompson", "surrogate": "gp", "acquisition": "thompson"},
}
OBOPTIM_KEYS = ("beta", "alpha", "particles", "steps", "selection", "tempering", "gamma", "resampling",
                "ess_threshold", "guidance", "alpha_units", "acquisition", "surrogate", "top_fraction",
                "select_acquisition", "manifold_check")
BASELINES = ("random", "bo", "turbo")  # methods that use no oboptim setting
# Settings of the research branch that were not ported (KL-budget tilt, batch Thompson, trust-region tilt, the mix and
# group_best selections): a method string naming them is refused with this hint.
NOT_PORTED = {"kl_budget", "kl_rule", "kl_samples", "trust_region"}
_METHOD_SPEC = re.compile(r"^(\w+)(?:\[(.*)\])?$")


@dataclass(frozen=True)
class CompareConfig:
    """What one comparison runs. ``rounds`` includes round 0 (``budget = batch_size * rounds``)."""

    problems: tuple[str, ...] = PROBLEMS
    methods: tuple[str, ...] = tuple(METHODS)
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    batch_size: int = 16
    rounds: int = 8
    particles: int | None = None
    steps: int | None = None
    threshold_samples: int = 2048
    bo_restarts: int = 8
    bo_raw_samples: int = 512
    bo_maxiter: int = 100
    device: str = "cpu"
    jobs: int = 1
    name: str = "sample_efficiency"
    per_problem_seeds: dict[str, tuple[int, ...]] = field(default_factory=dict)

    @property
    def budget(self) -> int:
        return self.batch_size * self.rounds

    def seeds_for(self, problem: str) -> tuple[int, ...]:
        return self.per_problem_seeds.get(problem, self.seeds)


QUICK = dict(batch_size=8, rounds=3, particles=8, steps=10, threshold_samples=256, bo_restarts=2,
             bo_raw_samples=32, bo_maxiter=20, seeds=(0,), name="quick")


def parse_method(spec: str) -> tuple[str, dict[str, Any]]:
    """``"ucb[beta=4,selection=argmax]"`` -> ``("ucb", {"beta": 4.0, "selection": "argmax"})``."""
    match = _METHOD_SPEC.match(spec.strip())
    if not match or match.group(1) not in METHODS:
        raise ValueError(f"unknown method {spec!r}: use one of {', '.join(METHODS)}, optionally with "
                         "[key=value,...] oboptim settings")
    base, extra = match.group(1), {}
    for item in filter(None, (match.group(2) or "").split(",")):
        key, _, raw = item.partition("=")
        if key in NOT_PORTED:
            raise ValueError(f"method {spec!r}: {key!r} is not supported (the KL-budget tilt and the trust-region "
                             "tilt were not ported from the defaults research)")
        if key not in OBOPTIM_KEYS or base in BASELINES:
            raise ValueError(f"method {spec!r}: {key!r} is not an oboptim setting one can vary here "
                             f"({', '.join(OBOPTIM_KEYS)})")
        extra[key] = _parse_value(raw)
    try:  # a value oboptim refuses (alpha_units=kl, selection=mix, acquisition=ts_batch) fails here, not in a worker
        CampaignSettings(**{k: v for k, v in extra.items()})
    except Exception as error:
        raise ValueError(f"method {spec!r}: {error}") from None
    return base, extra


def _parse_value(raw: str) -> Any:
    for cast in (int, float):
        try:
            return cast(raw)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(raw.lower(), raw)


# -- one run -----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    problem: str
    regime: str
    method: str
    seed: int
    config: CompareConfig
    manifold: Manifold


def run_job(job: Job) -> dict[str, Any]:
    """Run one method on one problem, regime and seed; return its per-query record (one JSON line)."""
    torch.set_num_threads(1)
    config = job.config
    problem = build_problem(job.problem, particles=config.particles, steps=config.steps)
    base, extra = parse_method(job.method)
    device = config.device
    prior = problem.task.load_prior(torch.device(device))
    oracle = RegimeOracle(problem, job.regime, job.manifold.threshold)
    steps = int({**problem.settings, **extra}.get("steps", problem.settings["steps"]))
    start = time.perf_counter()
    if base == "turbo":
        rounds = trust_region_bayesopt(prior, oracle, seed=job.seed, batch_size=config.batch_size,
                                       rounds=config.rounds, steps=steps, lower=job.manifold.lower,
                                       upper=job.manifold.upper, device=device)
    elif base == "random":
        rounds = random_search(prior, oracle, seed=job.seed, batch_size=config.batch_size, rounds=config.rounds,
                               steps=steps, device=device)
    elif base == "bo":
        rounds = box_bayesopt(prior, oracle, seed=job.seed, batch_size=config.batch_size, rounds=config.rounds,
                              steps=steps, lower=job.manifold.lower, upper=job.manifold.upper, device=device,
                              num_restarts=config.bo_restarts, raw_samples=config.bo_raw_samples,
                              maxiter=config.bo_maxiter)
    else:
        rounds = _run_campaign(problem, base, extra, oracle, job.seed, config)
    seconds = time.perf_counter() - start
    xs = np.concatenate([r[0] for r in rounds])
    observed = np.concatenate([r[1] for r in rounds])
    completed = np.isfinite(observed)
    true = observed if problem.true_value is None else np.where(completed, problem.true_value(xs), np.nan)
    on_manifold = problem.log_density(xs) >= job.manifold.threshold
    return {
        "problem": job.problem, "regime": job.regime, "method": job.method, "seed": job.seed,
        "signature": comparable(signature(problem.settings, config), job.method) if base == "default"
        else signature(problem.settings, config), "seconds": seconds,
        "round": [i for i, r in enumerate(rounds) for _ in range(len(r[1]))],
        "observed": _nan_to_none(observed), "true": _nan_to_none(true),
        "on_manifold": [bool(v) for v in on_manifold],
    }


def _run_campaign(problem, base, extra, oracle, seed, config) -> list[tuple[np.ndarray, np.ndarray]]:
    from oboptim._campaign import Campaign
    from oboptim.storage import TrialState

    settings = method_settings(problem, base, extra)
    with tempfile.TemporaryDirectory(prefix="oboptim-compare-") as tmp:
        campaign = Campaign.open(f"{base}-{seed}", storage=f"sqlite:///{tmp}/campaign.db", task=problem.task_name,
                                 seed=seed, device=config.device, batch_size=config.batch_size, budget=config.budget,
                                 **settings)
        campaign.run(budget=config.budget, oracle=oracle, max_failure_rate=1.0, progress=False, log=lambda _: None)
        trials = campaign.trials()
        campaign.storage.close()
    rounds: dict[int, list] = {}
    for trial in trials:
        value = trial.value if trial.state == TrialState.COMPLETED else math.nan
        rounds.setdefault(trial.round, []).append((trial.x, value))
    return [(np.stack([x for x, _ in rows]), np.array([v for _, v in rows], dtype=np.float64))
            for _, rows in sorted(rounds.items())]


def method_settings(problem, base: str, extra: dict[str, Any]) -> dict[str, Any]:
    """The campaign settings of oboptim method ``base`` on ``problem``: ``default`` gets the library's defaults (and
    the digits problems' cost caps); every other method :data:`LEGACY_DEFAULTS` with the problem's pinned settings,
    so that its rows do not move when the library default changes."""
    if base == "default":
        return {**library_defaults(), **BENCH_OVERRIDES.get(problem.key, {}), **extra}
    spec = METHODS[base]
    return {**LEGACY_DEFAULTS, **problem.settings, "surrogate": spec["surrogate"], "acquisition": spec["acquisition"],
            **extra}


def library_defaults() -> dict[str, Any]:
    """The library's proposal settings (:class:`CampaignSettings`' defaults without batch size and task options)."""
    return {k: v for k, v in CampaignSettings().to_json().items() if k not in ("batch_size", "task_options")}


def defaults_tag() -> str:
    """A short fingerprint of the library defaults: ``default`` runs are comparable only under the same defaults."""
    import hashlib

    return hashlib.sha1(json.dumps(library_defaults(), sort_keys=True).encode()).hexdigest()[:8]


def signature(settings: dict[str, Any], config: CompareConfig) -> str:
    """Which runs are comparable: the budget split and the problem's sampler settings."""
    parts = [f"b{config.batch_size}x{config.rounds}"] + [f"{k}={settings[k]}" for k in sorted(settings)]
    return ",".join(parts + [f"thr{config.threshold_samples}"])


def comparable(sig: str, method: str) -> str:
    """``sig`` without the settings ``method`` does not use: random sampling and box BO ignore alpha, so their runs
    stay valid when only the oboptim methods' alpha changes."""
    base = parse_method(method)[0]
    if base == "default":  # a stored run carries the defaults it ran with; a new one gets today's
        return sig if ",defaults=" in sig else sig + f",defaults={defaults_tag()}"
    if base not in BASELINES:
        return sig
    return ",".join(part for part in sig.split(",") if not part.startswith("alpha"))


def _nan_to_none(values: np.ndarray) -> list[float | None]:
    return [float(v) if math.isfinite(v) else None for v in values]


# -- running everything ------------------------------------------------------------------------------------------------


def load_results(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def run_comparison(config: CompareConfig, results_path: Path, *, fresh: bool = False,
                   log=print) -> list[dict[str, Any]]:
    """Run every missing (problem, regime, method, seed) of ``config``; append each run to ``results_path``."""
    torch.set_num_threads(1)
    for method in config.methods:
        parse_method(method)
    results_path.parent.mkdir(parents=True, exist_ok=True)
    if fresh and results_path.exists():
        results_path.unlink()
    done = {(r["problem"], r["regime"], r["method"], r["seed"], comparable(r["signature"], r["method"]))
            for r in load_results(results_path)}
    jobs = []
    manifolds: dict[tuple, Manifold] = {}  # problems sharing a task, sampler and density share the threshold
    for key in config.problems:
        problem = build_problem(key, particles=config.particles, steps=config.steps)
        sig = signature(problem.settings, config)
        todo = [(regime, method, seed) for seed in config.seeds_for(key) for regime in REGIMES
                for method in config.methods if (key, regime, method, seed, comparable(sig, method)) not in done]
        if not todo:
            continue
        start = time.perf_counter()
        cache_key = (problem.task_name, problem.settings["steps"], problem.log_density)
        if cache_key not in manifolds:
            manifolds[cache_key] = measure_manifold(problem, problem.task.load_prior(torch.device(config.device)),
                                                    config.threshold_samples, device=config.device)
        manifold = manifolds[cache_key]
        log(f"{key}: manifold threshold {manifold.threshold:.3f} from {manifold.samples} prior samples "
            f"({time.perf_counter() - start:.1f}s)")
        jobs += [Job(key, regime, method, seed, config, manifold) for regime, method, seed in todo]
    # seed-major, so that an interrupted run leaves whole seeds of every problem
    jobs.sort(key=lambda job: (job.seed, config.problems.index(job.problem)))
    log(f"{len(jobs)} runs to do")
    with results_path.open("a") as sink:
        for index, record in enumerate(_execute(jobs, config.jobs), 1):
            sink.write(json.dumps(record) + "\n")
            sink.flush()
            best = max((v for v in record["true"] if v is not None), default=float("nan"))
            failed = sum(v is None for v in record["observed"])
            log(f"[{index}/{len(jobs)}] {record['problem']} {record['regime']} {record['method']} "
                f"seed {record['seed']}: best {best:.4g}, failed {failed}, {record['seconds']:.1f}s")
    return load_results(results_path)


def _execute(jobs: Sequence[Job], workers: int):
    if workers <= 1:
        for job in jobs:
            yield run_job(job)
        return
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(run_job, job) for job in jobs]
        for future in as_completed(futures):
            yield future.result()


# -- summaries -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    """One (problem, regime, method) over seeds."""

    problem: str
    regime: str
    method: str
    seeds: int
    regret_median: float
    regret_q1: float
    regret_q3: float
    on_manifold: float
    failed: float
    seconds: float
    curves: np.ndarray  # [seeds, budget] simple regret after each query


def best_so_far(true: Sequence[float | None]) -> np.ndarray:
    """Running maximum of the completed queries' values (``-inf`` before the first): ``[n]``."""
    values = np.array([-np.inf if v is None else v for v in true], dtype=np.float64)
    return np.maximum.accumulate(values)


def summarise(results: Sequence[dict[str, Any]], config: CompareConfig) -> list[Summary]:
    """Summaries for the problems, regimes and methods of ``config`` (the latest run of each seed)."""
    latest: dict[tuple, dict] = {}
    for record in results:
        problem = build_problem(record["problem"], particles=config.particles, steps=config.steps) \
            if record["problem"] in config.problems else None
        if problem is None or (comparable(record["signature"], record["method"])
                               != comparable(signature(problem.settings, config), record["method"])):
            continue
        if record["seed"] in config.seeds_for(record["problem"]):
            latest[(record["problem"], record["regime"], record["method"], record["seed"])] = record
    summaries = []
    for key in config.problems:
        optimum = build_problem(key).optimum
        for regime in REGIMES:
            runs = {m: [r for (p, g, mm, _), r in sorted(latest.items()) if (p, g, mm) == (key, regime, m)]
                    for m in config.methods}
            if optimum is None:  # unknown: the best value any run of this problem and regime found
                found = [best_so_far(r["true"])[-1] for rs in runs.values() for r in rs]
                reference = max(found) if found else math.nan
            else:
                reference = optimum
            for method, rs in runs.items():
                if not rs:
                    continue
                curves = np.stack([reference - best_so_far(r["true"]) for r in rs])
                final = curves[:, -1]
                later = [np.array(r["round"]) > 0 for r in rs]
                proposals = sum(int(m.sum()) for m in later)
                on = sum(int(np.array(r["on_manifold"])[m].sum()) for r, m in zip(rs, later))
                failed = sum(sum(r["observed"][i] is None for i in np.flatnonzero(m)) for r, m in zip(rs, later))
                summaries.append(Summary(key, regime, method, len(rs), float(np.median(final)),
                                         float(np.percentile(final, 25)), float(np.percentile(final, 75)),
                                         on / max(proposals, 1), failed / max(proposals, 1),
                                         float(np.median([r["seconds"] for r in rs])), curves))
    return summaries


def label(method: str) -> str:
    base, extra = parse_method(method)
    suffix = f" [{', '.join(f'{k}={v}' for k, v in extra.items())}]" if extra else ""
    return METHODS[base]["label"] + suffix


def markdown_table(summaries: Sequence[Summary], config: CompareConfig, command: str) -> str:
    """The report: how to rerun it, the setup, and one table per problem and regime."""
    lines = [f"# Sample efficiency: oboptim against baselines ({config.name})", "",
             "Regenerate (all tasks, regimes, methods and seeds; runs already in the results file are reused):", "",
             "```", command, "```", "",
             f"Budget: round 0 of {config.batch_size} prior samples (shared by all methods for a seed), then "
             f"{config.rounds - 1} rounds of {config.batch_size} ({config.budget} queries). Regime A: the oracle "
             "is defined everywhere. Regime B: it returns NaN (failed trial) where the prior log-density is below "
             f"the 1st percentile of {config.threshold_samples} prior samples; standard BO scores failures as the "
             "worst value observed so far, oboptim drops them from the surrogate's data. Regret is the optimum "
             "minus the best noise-free value among completed queries (lower is better; failed queries never "
             "count); the rates are over the proposals after round 0. Median [IQR] over seeds. The `default` row is "
             "oboptim with the library's defaults and nothing else, as a user's own task without defaults gets "
             "them; the other oboptim rows are pinned to the settings before the default changed, plus each "
             "problem's settings listed below. How the default was chosen: `bench/defaults_research.md`.", ""]
    for key in config.problems:
        problem = build_problem(key, particles=config.particles, steps=config.steps)
        rows = [s for s in summaries if s.problem == key]
        if not rows:
            continue
        optimum = ("best value found by any run of this regime" if problem.optimum is None
                   else f"{problem.optimum:.4g}")
        settings = ", ".join(f"{k}={v}" for k, v in sorted(problem.settings.items()))
        lines += [f"## {key}", "", f"- oracle: {problem.oracle_label}; optimum on the support: {optimum}",
                  f"- log-density: {problem.density}",
                  f"- settings of the oboptim rows other than default: {settings}; "
                  f"seeds: {len(config.seeds_for(key))}"] + ([f"- note: {problem.note}"] if problem.note else []) + [""]
        for regime in REGIMES:
            lines += [f"### {key}, regime {regime}", "",
                      "| method | final regret, median [IQR] | on-manifold rate | failed fraction | s / run |",
                      "|---|---|---|---|---|"]
            lines += [f"| {label(s.method)} | {s.regret_median:.4g} [{s.regret_q1:.4g}, {s.regret_q3:.4g}] "
                      f"| {s.on_manifold:.2f} | {s.failed:.2f} | {s.seconds:.1f} |"
                      for s in rows if s.regime == regime]
            lines.append("")
    return "\n".join(lines)


def plot_curves(summaries: Sequence[Summary], config: CompareConfig, path: Path) -> None:
    """Best-so-far simple regret against queries (median and IQR band over seeds), one panel per problem/regime."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    problems = [p for p in config.problems if any(s.problem == p for s in summaries)]
    fig, axes = plt.subplots(len(problems), 2, figsize=(11, 3.2 * len(problems)), squeeze=False)
    colours = dict(zip(config.methods, plt.cm.tab10.colors))
    for row, key in enumerate(problems):
        for col, regime in enumerate(REGIMES):
            ax = axes[row, col]
            for s in summaries:
                if (s.problem, s.regime) != (key, regime):
                    continue
                curves = np.where(np.isfinite(s.curves), s.curves, np.nan)
                queries = np.arange(1, curves.shape[1] + 1)
                median = np.nanmedian(curves, 0)
                ax.plot(queries, median, color=colours[s.method], label=label(s.method))
                ax.fill_between(queries, np.nanpercentile(curves, 25, 0), np.nanpercentile(curves, 75, 0),
                                color=colours[s.method], alpha=0.15, linewidth=0)
            ax.set_yscale("symlog", linthresh=1e-4)  # linear below 1e-4: regret may be 0 or negative
            seeds = len(config.seeds_for(key))
            ax.set_title(f"{key}, regime {regime} (median, IQR over {seeds} seed{'s' if seeds > 1 else ''})",
                         fontsize=10)
            ax.set_xlabel("queries")
            ax.set_ylabel("simple regret")
            ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -- command line --------------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench_campaign.py --compare", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default=",".join(PROBLEMS), help=f"comma list of {', '.join(PROBLEMS)}")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma list; e.g. ucb[beta=4]")
    parser.add_argument("--seeds", default=None, help="comma list (default 0..4; quick: 0)")
    parser.add_argument("--digits-seeds", default=None, help="seeds for the digits problems (default: --seeds)")
    parser.add_argument("--quick", action="store_true", help="tiny budget and sampler, for tests")
    parser.add_argument("--particles", type=int, default=None, help="override every task's particles")
    parser.add_argument("--steps", type=int, default=None, help="override every task's steps")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (1 thread each)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--fresh", action="store_true", help="discard the results file first")
    parser.add_argument("--render-only", action="store_true", help="only rebuild the table and figure")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[2] / "bench")
    parser.add_argument("--name", default=None, help="output stem: <out>/compare_<name>.{md,png}")
    args = parser.parse_args(argv)
    options: dict[str, Any] = dict(QUICK) if args.quick else {}
    options.update(problems=tuple(_split(args.tasks)), methods=tuple(_split(args.methods)), jobs=args.jobs,
                   device=args.device)
    if args.seeds:
        options["seeds"] = tuple(int(s) for s in _split(args.seeds))
    if args.digits_seeds:
        digits = tuple(int(s) for s in _split(args.digits_seeds))
        options["per_problem_seeds"] = {p: digits for p in PROBLEMS if p.startswith("digits")}
    for key in ("particles", "steps", "name"):
        if getattr(args, key) is not None:
            options[key] = getattr(args, key)
    for key in options["problems"]:
        if key not in PROBLEMS:
            parser.error(f"unknown task {key!r}: choose from {', '.join(PROBLEMS)}")
    config = CompareConfig(**options)
    stem = args.out / f"compare_{config.name}"
    results_path = stem.with_name(stem.name + "_runs.jsonl")
    if args.render_only:
        results = load_results(results_path)
    else:
        results = run_comparison(config, results_path, fresh=args.fresh)
    summaries = summarise(results, config)
    # the command that regenerates everything: rendering only, or starting afresh, is not part of it
    arguments = [a for a in (argv if argv is not None else _argv()) if a not in ("--render-only", "--fresh")]
    command = "python scripts/bench_campaign.py --compare " + " ".join(shlex.quote(a) for a in arguments)
    stem.with_suffix(".md").write_text(markdown_table(summaries, config, command.strip()) + "\n")
    plot_curves(summaries, config, stem.with_suffix(".png"))
    print(stem.with_suffix(".md").read_text())


def _split(text: str) -> list[str]:
    return [part for part in re.split(r",(?![^\[]*\])", text) if part.strip()]


def _argv() -> list[str]:
    import sys

    return [a for a in sys.argv[1:] if a != "--compare"]


__all__ = ["CompareConfig", "METHODS", "QUICK", "Summary", "main", "markdown_table", "parse_method",
           "run_comparison", "summarise"]
