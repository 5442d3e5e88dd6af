"""Does a ``digits`` campaign beat sampling the prior, and do its proposals stay digit-like?

    python scripts/bench_digits.py                                  # classifier:3 and jpeg, seeds 0 1 2
    python scripts/bench_digits.py --oracles jpeg --seeds 0 --particles 8 --steps 30
    python scripts/bench_digits.py --alpha-sweep 0.03 0.1 0.3 1     # SMC on the classifier reward alone
    python scripts/bench_digits.py --feature-check 1024             # which features let a GP predict each oracle

Campaigns: for each oracle and seed, a fresh SQLite campaign runs ``budget`` trials exactly as
``python -m oboptim run digits --oracle ORACLE --seed S`` does (round 0 from the prior, then GP-UCB on the task's
features, sampled with DAS), at the task's defaults overridden by its per-oracle settings
(``tasks/digits.py: ORACLE_DEFAULTS``, e.g. jpeg's alpha) and then by the options given here.
Baseline: the best of ``budget`` prior samples (100-step ancestral DDIM, eta = 1, clipped to [-1, 1]) under the same
oracle, seeded alike. Besides the best value, each side reports how digit-like its candidates are: the classifier's
mean max-class probability and the mean distance to the nearest real digit.

Alpha sweep: SMC straight on ``log p(3 | x)`` (the scale the campaign's GP-UCB reward has), one candidate per group;
the oracle value improves as alpha falls, and digit-likeness tells where the proposals leave the prior.

Feature check: prior samples scored by both oracles; a GP fitted on ``--budget`` of them with each feature set
ranks the rest (Spearman correlation of its posterior mean with the oracle, and the oracle's mean over its top 8).

Prints markdown tables and writes them, with the raw numbers, to ``--out`` (a .md and a .json next to it).
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

from oboptim import Campaign, load_task
from oboptim.images import (
    classifier_log_prob_oracle,
    image_statistics,
    jpeg_compressibility,
    load_digit_images,
    shipped_classifier,
)
from oboptim.oracles import OracleContext, resolve_oracle
from oboptim.sampling import SMCSampler, ddim_sample
from oboptim.surrogates import GPSurrogate

ROOT = Path(__file__).resolve().parent.parent


def digit_likeness(xs: np.ndarray) -> dict[str, float]:
    """Mean max-class probability and mean distance to the nearest real digit of ``xs [n, 1, 16, 16]``."""
    images = torch.from_numpy(np.clip(np.asarray(xs, dtype=np.float32), -1, 1))
    real = torch.from_numpy(load_digit_images()[0].copy())
    with torch.no_grad():
        confidence = torch.softmax(shipped_classifier()(images), -1).max(-1).values.mean()
    distance = torch.cdist(images.flatten(1), real.flatten(1)).min(-1).values.mean()
    return {"confidence": float(confidence), "nearest_real": float(distance)}


def oracle_function(spec: str, task):
    oracle = resolve_oracle(spec, OracleContext(task=task))
    return lambda xs: [o.value for o in oracle.evaluate(list(range(len(xs))), xs)]


@functools.cache
def prior_samples(prior, budget: int, seed: int) -> np.ndarray:
    """``budget`` prior samples (100-step ancestral DDIM) for ``seed``, shared by every oracle's baseline."""
    return prior.decode(ddim_sample(prior, budget, 100, torch.Generator().manual_seed(10_000 + seed))).numpy()


def prior_baseline(task, prior, spec: str, budget: int, seed: int) -> tuple[dict, tuple]:
    """Summary of ``budget`` prior samples under ``spec``, and their top candidates (see :func:`top_candidates`)."""
    xs = prior_samples(prior, budget, seed)
    values = np.array(oracle_function(spec, task)(xs))
    summary = {"best": float(values.max()), "mean": float(np.mean(values)), **digit_likeness(xs)}
    return summary, top_candidates(xs, values)


def top_candidates(xs: np.ndarray, values: np.ndarray, k: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best of ``xs [n, 1, 16, 16]`` by ``values [n]``, best first."""
    order = np.argsort(-values, kind="stable")[:k]
    return xs[order], values[order]


def save_grid(path: Path, spec: str, seed: int, rows: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    """One row of top candidates per source, each titled with its oracle value and the classifier's verdict."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = max(len(values) for _, values in rows.values())
    figure, axes = plt.subplots(len(rows), columns, figsize=(1.3 * columns, 0.4 + 1.9 * len(rows)), squeeze=False)
    for axes_row, (label, (xs, values)) in zip(axes, rows.items()):
        with torch.no_grad():
            probabilities = torch.softmax(shipped_classifier()(torch.from_numpy(np.clip(xs, -1, 1))), -1)
        for column, axis in enumerate(axes_row):
            axis.set_xticks([]), axis.set_yticks([])
            if column >= len(values):
                axis.axis("off")
                continue
            axis.imshow(xs[column, 0], cmap="gray_r", vmin=-1, vmax=1)
            confidence, digit = probabilities[column].max(-1)
            axis.set_title(f"{values[column]:.3g}\n{int(digit)} ({float(confidence):.2f})", fontsize=7)
        axes_row[0].set_ylabel(label, fontsize=8)
    figure.suptitle(f"oracle {spec}, seed {seed}: best 8 (value; classifier's digit and confidence)", fontsize=9)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)


def campaign_run(spec: str, seed: int, budget: int, settings: dict, workdir: Path) -> tuple[dict, tuple]:
    """Summary of one campaign's trials, and its top candidates (see :func:`top_candidates`)."""
    storage = f"sqlite:///{workdir}/digits-{spec.replace(':', '')}-{seed}.db"
    start = time.perf_counter()
    campaign = Campaign.open("bench", storage=storage, task="digits", seed=seed, oracle=spec, **settings)
    campaign.run(budget=budget, oracle=spec, progress=False)
    seconds = time.perf_counter() - start
    trials = [t for t in campaign.trials() if t.value is not None]
    xs = np.stack([t.x for t in trials])
    values = np.array([t.value for t in trials])
    later = np.array([t.round > 0 for t in trials])
    summary = {"best": float(values.max()), "mean": float(values.mean()),
               "mean_smc_rounds": float(values[later].mean()), "seconds": seconds, **digit_likeness(xs),
               **{f"{k}_smc_rounds": v for k, v in digit_likeness(xs[later]).items()}}
    return summary, top_candidates(xs, values)


def alpha_sweep(task, prior, alphas: list[float], particles: int, steps: int, groups: int, seed: int) -> list[dict]:
    """SMC on ``log p(3 | x)`` at each alpha: oracle value and digit-likeness of one draw per group."""
    classifier = shipped_classifier()
    oracle = classifier_log_prob_oracle(3)
    rows = []
    for alpha in alphas:
        sampler = SMCSampler(prior, lambda x: classifier.log_prob(x, 3), num_particles=particles, num_steps=steps,
                             alpha=alpha)
        generator = torch.Generator().manual_seed(seed)
        result = sampler.sample(groups, generator)
        picks = result.resample_indices(1, generator)[:, 0]
        xs = prior.decode(result.particles[torch.arange(groups), picks]).detach().numpy()
        rows.append({"alpha": alpha, "mean_log_p3": float(np.mean(oracle(xs))),
                     "fraction_argmax_3": float(np.mean(classifier(torch.from_numpy(xs)).argmax(-1).numpy() == 3)),
                     **digit_likeness(xs)})
    baseline = prior.decode(ddim_sample(prior, groups, steps, torch.Generator().manual_seed(seed))).numpy()
    rows.append({"alpha": "prior", "mean_log_p3": float(np.mean(oracle(baseline))),
                 "fraction_argmax_3": float(np.mean(classifier(torch.from_numpy(baseline)).argmax(-1).numpy() == 3)),
                 **digit_likeness(baseline)})
    return rows


def feature_check(prior, samples: int, train: int, repeats: int, seed: int) -> list[dict]:
    """How well a GP fitted on ``train`` prior samples ranks the other ones, per feature set and oracle.

    Spearman correlation between the GP's posterior mean and the oracle on the held-out samples, and the oracle's
    mean over the 8 the GP ranks highest, averaged over ``repeats`` random splits.
    """
    xs = prior.decode(ddim_sample(prior, samples, 30, torch.Generator().manual_seed(seed))).float()
    classifier = shipped_classifier()
    with torch.no_grad():
        embedding, statistics_ = classifier.features(xs), image_statistics(xs)
    feature_sets = {"classifier embedding (32)": embedding, "image statistics (3)": statistics_,
                    "embedding + statistics (35)": torch.cat([embedding, statistics_], -1)}
    targets = {"jpeg": np.array(jpeg_compressibility(xs.numpy())),
               "classifier:3": np.array(classifier_log_prob_oracle(3)(xs.numpy()))}
    rng, rows = np.random.default_rng(seed), []
    for oracle_name, y in targets.items():
        for name, F in feature_sets.items():
            ranks, tops = [], []
            for repeat in range(repeats):
                order = rng.permutation(samples)
                fit, rest = order[:train], order[train:]
                gp = GPSurrogate()
                gp.fit(F[fit].double(), torch.from_numpy(y[fit]), generator=torch.Generator().manual_seed(repeat))
                with torch.no_grad():
                    mean = gp.posterior(F[rest].double())[0].numpy()
                ranks.append(spearmanr(mean, y[rest]).correlation)
                tops.append(float(y[rest][np.argsort(-mean)[:8]].mean()))
            rows.append({"oracle": oracle_name, "features": name, "spearman": float(np.mean(ranks)),
                         "top8_mean": float(np.mean(tops)), "all_mean": float(y.mean()), "all_best": float(y.max())})
    return rows


def table(rows: list[dict], keys: list[str]) -> str:
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for row in rows:
        # 4 significant digits: classifier log-probabilities of confident digits are of order -1e-6
        lines.append("| " + " | ".join(f"{row[k]:.4g}" if isinstance(row[k], float) else str(row[k]) for k in keys)
                     + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--oracles", nargs="+", default=["classifier:3", "jpeg"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--budget", type=int, default=64)
    parser.add_argument("--particles", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--alpha", type=float, default=None)
    parser.add_argument("--acquisition", default=None)
    parser.add_argument("--selection", default=None)
    parser.add_argument("--beta", type=float, default=None)
    parser.add_argument("--alpha-sweep", nargs="+", type=float, default=None)
    parser.add_argument("--feature-check", type=int, default=None, metavar="N",
                        help="fit GPs on --budget of N prior samples with each feature set; no campaign")
    parser.add_argument("--grid", type=Path, default=None, metavar="PNG",
                        help="save the first seed's best candidates, campaign and prior, to PNG (one per oracle)")
    parser.add_argument("--groups", type=int, default=16, help="SMC groups of the alpha sweep")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "digits_cpu.md")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    task = load_task("digits")
    prior = task.load_prior("cpu")
    if args.feature_check:
        rows = feature_check(prior, args.feature_check, train=args.budget, repeats=4, seed=0)
        text = (f"## GP on {args.budget} of {args.feature_check} prior samples, ranking the rest (4 splits)\n\n"
                + table(rows, list(rows[0])))
        report = {"feature_check": rows}
    elif args.alpha_sweep:
        defaults = task.defaults
        rows = alpha_sweep(task, prior, args.alpha_sweep, args.particles or defaults["particles"],
                           args.steps or defaults["steps"], groups=args.groups, seed=0)
        text = f"## SMC on log p(3 | x), {args.groups} groups\n\n" + table(rows, list(rows[0]))
        report = {"alpha_sweep": rows}
    else:
        chosen = {"particles": args.particles, "steps": args.steps, "alpha": args.alpha,
                  "acquisition": args.acquisition, "selection": args.selection, "beta": args.beta}
        settings = {k: v for k, v in chosen.items() if v is not None}
        report, sections = {}, []
        with tempfile.TemporaryDirectory() as tmp:
            for spec in args.oracles:
                rows = []
                for seed in args.seeds:
                    run, run_top = campaign_run(spec, seed, args.budget, settings, Path(tmp))
                    base, base_top = prior_baseline(task, prior, spec, args.budget, seed)
                    if args.grid and seed == args.seeds[0]:
                        grid = args.grid.with_name(f"{args.grid.stem}_{spec.replace(':', '')}{args.grid.suffix}")
                        save_grid(grid, spec, seed, {"campaign": run_top, "prior": base_top})
                    rows.append({"seed": seed, **{f"campaign_{k}": v for k, v in run.items()},
                                 **{f"prior_{k}": v for k, v in base.items()}})
                    print(json.dumps(rows[-1]), flush=True)
                wins = sum(r["campaign_best"] > r["prior_best"] for r in rows)
                median = {k: statistics.median(r[k] for r in rows) for k in rows[0] if k != "seed"}
                rows.append({"seed": "median", **median})
                report[spec] = rows
                keys = ["seed", "campaign_best", "prior_best", "campaign_mean_smc_rounds", "prior_mean",
                        "campaign_confidence_smc_rounds", "prior_confidence", "campaign_nearest_real_smc_rounds",
                        "prior_nearest_real", "campaign_seconds"]
                report[f"{spec} settings"] = {**task.defaults_for(spec), **settings, "budget": args.budget}
                sections.append(f"## oracle {spec}\n\nsettings: {json.dumps(report[f'{spec} settings'])}\n\n"
                                + table(rows, keys)
                                + f"\n\ncampaign best > prior best on {wins} of {len(rows) - 1} seeds")
        text = "\n\n".join(sections)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
