"""Fit the Markov chain prior of Ehrlich instances to their DMP (the feasible set), ship it, and measure it.

    python scripts/train_ehrlich_prior.py                       # instances a b c of tasks/ehrlich.py (INSTANCES)
    python scripts/train_ehrlich_prior.py --instances a         # one of them
    python scripts/train_ehrlich_prior.py --num-states 20 --length 64 --num-motifs 2 --motif-length 4 \\
        --quantization 4 --function-seed 3                      # any other instance
    python scripts/train_ehrlich_prior.py --eval-only           # re-measure the shipped files

Fitting: ``tasks/ehrlich.py: fit_prior_chain``, the maximum-likelihood first-order chain (counts, no smoothing) of
``PRIOR_TRAINING_SAMPLES`` sequences drawn from the function's DMP (holo's ``sample_dmp``, stationary start, seeded
by ``function_seed + PRIOR_DATA_SEED_OFFSET``), denoised exactly by :class:`oboptim.sequences.MarkovChainDenoiser` on
the cosine DDPM schedule. Saved to ``spec.prior_path`` (``data/ehrlich_<tag>_markov.safetensors``) with its
provenance in the safetensors metadata.

Evaluation: ``--eval-samples`` prior samples (``sequence_prior``) by ancestral DDIM (eta = 1) with each of
``--eval-steps``, hard decoded (argmax per position): the fraction feasible under the function's DMP, the fraction
of distinct sequences and the Ehrlich value distribution, next to as many DMP draws. Written to
``data/ehrlich_<tag>_markov_eval.json``.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import shlex
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from oboptim.sampling import ddim_sample
from oboptim.sequences import OneHotRelaxation, load_markov_denoiser, save_markov_denoiser, sequence_prior
from oboptim.tasks.ehrlich import (
    INSTANCES,
    EhrlichSpec,
    evaluate,
    fit_prior_chain,
    is_feasible,
    make_function,
    sample_feasible,
)

OPTIONS = ("num_states", "length", "num_motifs", "motif_length", "quantization", "function_seed")


def fit(spec: EhrlichSpec, function) -> tuple[Path, dict]:
    """Fit and save the chain of ``spec``; returns the file and the metadata written with it."""
    t0 = time.perf_counter()
    denoiser, metadata = fit_prior_chain(spec, function)
    seconds = time.perf_counter() - t0
    true_support = function.transition_matrix > 0
    fitted_support = denoiser.transition > 0
    metadata = {
        **metadata,
        "fit_seconds": round(seconds, 2),
        "allowed_transitions_true": int(true_support.sum()),
        "allowed_transitions_fitted": int(fitted_support.sum()),
        "fitted_outside_true_support": int((fitted_support & ~true_support).sum()),
        "model": "MarkovChainDenoiser (first-order chain, maximum likelihood, no smoothing; cosine DDPM schedule)",
        "holo": importlib.metadata.version("pytorch-holo"),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": "python " + shlex.join(["scripts/train_ehrlich_prior.py", *sys.argv[1:]]),
    }
    save_markov_denoiser(denoiser, spec.prior_path, metadata)
    return spec.prior_path, metadata


@torch.no_grad()
def measure(spec: EhrlichSpec, function, *, num_samples: int, num_steps: int, seed: int, batch_size: int) -> dict:
    """Feasibility, diversity and values of ``num_samples`` prior samples at ``num_steps`` (the shipped file)."""
    denoiser, _ = load_markov_denoiser(spec.prior_path)
    relaxation = OneHotRelaxation(spec.num_states, spec.length)
    prior = sequence_prior(denoiser, relaxation)
    t0 = time.perf_counter()
    x = ddim_sample(prior, num_samples, num_steps, torch.Generator().manual_seed(seed), batch_size=batch_size)
    seconds = time.perf_counter() - t0
    tokens = relaxation.hard_decode(x)
    feasible = is_feasible(function, tokens)
    values = evaluate(function, tokens)
    allowed = function.transition_matrix > 0
    forbidden = (~allowed[tokens[:, :-1], tokens[:, 1:]]).sum(-1).float()
    dmp = sample_feasible(function, num_samples, seed + 1)
    dmp_values = evaluate(function, dmp)
    return {
        "num_samples": num_samples, "num_steps": num_steps, "seed": seed, "sampler": "ddim_sample (eta 1)",
        "feasible_fraction": float(feasible.mean()),
        "forbidden_transitions_per_sample": float(forbidden.mean()),
        "distinct_fraction": _distinct(tokens.numpy()),
        "distinct_fraction_dmp": _distinct(dmp),
        "value_mean_prior": float(values[feasible].mean()) if feasible.any() else None,
        "value_mean_dmp": float(dmp_values.mean()),
        "value_counts_prior": _value_counts(values[feasible]),
        "value_counts_dmp": _value_counts(dmp_values),
        "sampling_seconds": round(seconds, 2),
    }


def _distinct(tokens: np.ndarray) -> float:
    return len({row.tobytes() for row in np.ascontiguousarray(tokens)}) / len(tokens)


def _value_counts(values: np.ndarray) -> dict[str, float]:
    counts = Counter(np.round(values, 4).tolist())
    return {str(value): round(count / len(values), 4) for value, count in sorted(counts.items())}


def specs_from_args(args) -> dict[str, EhrlichSpec]:
    overrides = {key: getattr(args, key) for key in OPTIONS if getattr(args, key) is not None}
    if overrides:
        spec = EhrlichSpec(**overrides)
        return {spec.tag: spec}
    unknown = sorted(set(args.instances) - set(INSTANCES))
    if unknown:
        raise SystemExit(f"unknown instances {unknown}; choose from {sorted(INSTANCES)} or give the options")
    return {name: INSTANCES[name] for name in args.instances}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", nargs="+", default=sorted(INSTANCES),
                        help="names in tasks/ehrlich.py INSTANCES (ignored when options are given)")
    for name in OPTIONS:
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, type=int, default=None,
                            help="instance option (the others default to EhrlichSpec's)")
    parser.add_argument("--eval-samples", type=int, default=2000)
    parser.add_argument("--eval-steps", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--seed", type=int, default=123, help="sampling seed of the evaluation")
    parser.add_argument("--batch-size", type=int, default=500, help="samples per denoiser call")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--eval-only", action="store_true", help="measure the saved files without refitting")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    rows = []
    for name, spec in specs_from_args(args).items():
        function = make_function(spec)
        if args.eval_only:
            _, metadata = load_markov_denoiser(spec.prior_path)
        else:
            path, metadata = fit(spec, function)
            print(f"[{name}] wrote {path} ({path.stat().st_size / 1e3:.1f} kB, fitted in {metadata['fit_seconds']} s)",
                  flush=True)
        evaluations = []
        for steps in args.eval_steps:
            result = measure(spec, function, num_samples=args.eval_samples, num_steps=steps, seed=args.seed,
                             batch_size=args.batch_size)
            evaluations.append(result)
            rows.append((name, spec.tag, result))
            print(f"[{name}] {steps} steps: {json.dumps(result)}", flush=True)
        report = {"spec": spec.to_dict(), "weights": spec.prior_path.name,
                  "weights_bytes": spec.prior_path.stat().st_size, "fit": metadata, "evaluations": evaluations}
        out = spec.prior_path.with_name(spec.prior_path.stem + "_eval.json")
        out.write_text(json.dumps(report, indent=1) + "\n")
        print(f"[{name}] wrote {out}", flush=True)

    print(f"\n{'instance':<9}{'tag':<24}{'steps':>6}{'feasible':>10}{'forbidden/seq':>15}{'distinct':>10}"
          f"{'mean value':>12}{'(DMP)':>8}{'seconds':>9}")
    for name, tag, r in rows:
        mean = "-" if r["value_mean_prior"] is None else f"{r['value_mean_prior']:.4f}"
        print(f"{name:<9}{tag:<24}{r['num_steps']:>6}{r['feasible_fraction']:>10.2%}"
              f"{r['forbidden_transitions_per_sample']:>15.3f}{r['distinct_fraction']:>10.2%}{mean:>12}"
              f"{r['value_mean_dmp']:>8.4f}{r['sampling_seconds']:>9.1f}")


if __name__ == "__main__":
    main()
