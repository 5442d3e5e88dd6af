"""Does a ``digits`` campaign beat sampling the prior, and do its proposals stay digit-like?

    python scripts/bench_digits.py                                  # classifier:3 and jpeg, seeds 0 1 2
    python scripts/bench_digits.py --oracles jpeg --seeds 0 --particles 8 --steps 30
    python scripts/bench_digits.py --alpha-sweep 0.03 0.1 0.3 1     # SMC on the classifier reward alone

Campaigns: for each oracle and seed, a fresh SQLite campaign runs ``budget`` trials exactly as
``python -m oboptim run digits --oracle ORACLE --seed S`` does (round 0 from the prior, then GP-UCB on the
classifier features, sampled with DAS). Baseline: the best of ``budget`` prior samples (100-step ancestral DDIM,
eta = 1, clipped to [-1, 1]) under the same oracle, seeded alike. Besides the best value, each side reports how
digit-like its candidates are: the classifier's mean max-class probability and the mean distance to the nearest real
digit.

Alpha sweep: SMC straight on ``log p(3 | x)`` (the scale the campaign's GP-UCB reward has), one candidate per group;
the oracle value improves as alpha falls, and digit-likeness tells where the proposals leave the prior.

Prints markdown tables and writes them, with the raw numbers, to ``--out`` (a .md and a .json next to it).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from oboptim.campaign import Campaign
from oboptim.images.classifier import classifier_log_prob_oracle, shipped_classifier
from oboptim.images.digits_data import load_digit_images
from oboptim.oracles.resolve import resolve_oracle
from oboptim.sampling import SMCSampler, ddim_sample
from oboptim.task import load_task

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
    oracle = resolve_oracle(spec, task=task)
    return lambda xs: [o.value for o in oracle.evaluate(list(range(len(xs))), xs)]


def prior_baseline(task, prior, spec: str, budget: int, seed: int) -> dict:
    xs = prior.decode(ddim_sample(prior, budget, 100, torch.Generator().manual_seed(10_000 + seed))).numpy()
    values = oracle_function(spec, task)(xs)
    return {"best": max(values), "mean": float(np.mean(values)), **digit_likeness(xs)}


def campaign_run(spec: str, seed: int, budget: int, settings: dict, workdir: Path) -> dict:
    storage = f"sqlite:///{workdir}/digits-{spec.replace(':', '')}-{seed}.db"
    start = time.perf_counter()
    campaign = Campaign.open("bench", storage=storage, task="digits", seed=seed, **settings)
    campaign.run(budget=budget, oracle=spec, progress=False)
    seconds = time.perf_counter() - start
    trials = [t for t in campaign.trials() if t.value is not None]
    xs = np.stack([t.x for t in trials])
    values = np.array([t.value for t in trials])
    later = np.array([t.round > 0 for t in trials])
    return {"best": float(values.max()), "mean": float(values.mean()), "mean_smc_rounds": float(values[later].mean()),
            "seconds": seconds, **digit_likeness(xs),
            **{f"{k}_smc_rounds": v for k, v in digit_likeness(xs[later]).items()}}


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


def table(rows: list[dict], keys: list[str]) -> str:
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for row in rows:
        lines.append("| " + " | ".join(f"{row[k]:.3f}" if isinstance(row[k], float) else str(row[k]) for k in keys)
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
    parser.add_argument("--alpha-sweep", nargs="+", type=float, default=None)
    parser.add_argument("--groups", type=int, default=16, help="SMC groups of the alpha sweep")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "digits_cpu.md")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    task = load_task("digits")
    prior = task.load_prior("cpu")
    if args.alpha_sweep:
        defaults = task.defaults
        rows = alpha_sweep(task, prior, args.alpha_sweep, args.particles or defaults["particles"],
                           args.steps or defaults["steps"], groups=args.groups, seed=0)
        text = f"## SMC on log p(3 | x), {args.groups} groups\n\n" + table(rows, list(rows[0]))
        report = {"alpha_sweep": rows}
    else:
        settings = {k: v for k, v in {"particles": args.particles, "steps": args.steps, "alpha": args.alpha}.items()
                    if v is not None}
        report, sections = {"settings": {**task.defaults, **settings, "budget": args.budget}}, []
        with tempfile.TemporaryDirectory() as tmp:
            for spec in args.oracles:
                rows = []
                for seed in args.seeds:
                    run = campaign_run(spec, seed, args.budget, settings, Path(tmp))
                    base = prior_baseline(task, prior, spec, args.budget, seed)
                    rows.append({"seed": seed, **{f"campaign_{k}": v for k, v in run.items()},
                                 **{f"prior_{k}": v for k, v in base.items()}})
                    print(json.dumps(rows[-1]), flush=True)
                median = {k: statistics.median(r[k] for r in rows) for k in rows[0] if k != "seed"}
                rows.append({"seed": "median", **median})
                report[spec] = rows
                keys = ["seed", "campaign_best", "prior_best", "campaign_mean_smc_rounds", "prior_mean",
                        "campaign_confidence_smc_rounds", "prior_confidence", "campaign_nearest_real_smc_rounds",
                        "prior_nearest_real", "campaign_seconds"]
                sections.append(f"## oracle {spec}\n\n" + table(rows, keys))
        text = f"settings: {json.dumps(report['settings'])}\n\n" + "\n\n".join(sections)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
