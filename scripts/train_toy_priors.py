"""Train the shipped MLP denoisers of the toy tasks and measure how good they are.

    python scripts/train_toy_priors.py                      # train both, write data/*_mlp.safetensors + eval json
    python scripts/train_toy_priors.py --tasks gmm2d        # one task
    python scripts/train_toy_priors.py --eval-only          # re-measure the shipped weights
    python scripts/train_toy_priors.py --measure-swissroll-target   # exact target mean reward (4e6 samples)

Training: epsilon-prediction MSE on fresh synthetic data every step (the data distributions are defined in
tasks/*.py), timesteps uniform over the diffusers DDPM schedule, AdamW with linear warm-up and cosine decay, and an
exponential moving average (EMA) of the weights, which is what is saved.

Evaluation: 5000 prior samples by 100-step ancestral sampling (DDIM with eta = 1 on ``DiffusionPrior.time_grid``),
W2 of 10 random 500-point subsets against fresh data, next to the data-vs-data noise floor; for gmm2d also the
fraction of samples per mode and the per-mode variance.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from oboptim import load_task
from oboptim.benchmark import noise_floor, subset_wasserstein
from oboptim.priors import DiffusionPrior, MLPDenoiser, ema_update, toy_noise_schedule, warmup_cosine_lr
from oboptim.sampling import ddim_sample
from oboptim.tasks import gmm2d
from oboptim.tasks._toy import DATA_DIR


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 3000
    batch_size: int = 1024
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup: int = 200
    ema_decay: float = 0.998
    hidden: int = 256
    depth: int = 3
    embedding_dim: int = 64
    beta_schedule: str = "linear"
    seed: int = 0


def train_denoiser(task_name: str, config: TrainConfig, log_every: int = 500) -> MLPDenoiser:
    """Fit an :class:`MLPDenoiser` to the task's data distribution; returns the EMA weights."""
    task = load_task(task_name)
    torch.manual_seed(config.seed)
    data_rng = np.random.default_rng(config.seed)
    noise_gen = torch.Generator().manual_seed(config.seed + 1)
    scheduler = toy_noise_schedule(config.beta_schedule)
    dim = task.sample_data(1, data_rng).shape[1]
    model = MLPDenoiser(dim, config.hidden, config.depth, config.embedding_dim, beta_schedule=config.beta_schedule)
    ema = copy.deepcopy(model).requires_grad_(False)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    running, start = 0.0, time.perf_counter()
    for step in range(config.steps):
        for group in optimizer.param_groups:
            group["lr"] = warmup_cosine_lr(step, config.steps, config.lr, config.warmup)
        x0 = torch.from_numpy(task.sample_data(config.batch_size, data_rng)).float()
        noise = torch.randn(x0.shape, generator=noise_gen)
        t = torch.randint(0, scheduler.config.num_train_timesteps, (config.batch_size,), generator=noise_gen)
        loss = torch.nn.functional.mse_loss(model(scheduler.add_noise(x0, noise, t), t), noise)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        ema_update(ema, model, config.ema_decay)
        running += loss.item()
        if (step + 1) % log_every == 0:
            elapsed = time.perf_counter() - start
            print(f"  [{task_name}] step {step + 1}/{config.steps}  loss {running / log_every:.4f}  {elapsed:.0f}s")
            running = 0.0
    return ema.eval()


def frozen_prior(model: MLPDenoiser) -> DiffusionPrior:
    """A trained model as a prior (the same construction as the tasks' ``load_prior``, from any path)."""
    model = model.eval().requires_grad_(False)
    return DiffusionPrior(model, model.noise_schedule().alphas_cumprod, (model.config["dim"],))


def gmm_mode_stats(samples: np.ndarray) -> dict[str, list[float]]:
    """Fraction of samples and mean per-coordinate variance around each of the 9 modes."""
    modes = gmm2d.nearest_mode(samples)
    fractions, variances = [], []
    for k, mean in enumerate(gmm2d.MODE_MEANS):
        members = samples[modes == k]
        fractions.append(len(members) / len(samples))
        variances.append(float(((members - mean) ** 2).mean()) if len(members) else float("nan"))
    return {"fractions": fractions, "variances": variances}


def swissroll_off_curve_distance(points: np.ndarray) -> float:
    """Mean distance in the (x, y) plane from each point ``[n, 3]`` to the noiseless spiral: sharpness of the roll."""
    from oboptim.tasks import swissroll3d

    t = np.linspace(*swissroll3d.T_RANGE, 20_000)
    curve = np.stack([t * np.cos(t) / 2, t * np.sin(t) / 2], axis=1)
    return float(np.mean([np.sqrt(((chunk[:, None, :2] - curve[None]) ** 2).sum(-1)).min(1).mean()
                          for chunk in np.array_split(points, 10)]))


def evaluate(task_name: str, prior: DiffusionPrior, seed: int = 123, n: int = 5000) -> dict:
    """W2 of prior samples to fresh data (10 x 500 points) and the data-vs-data noise floor."""
    task = load_task(task_name)
    rng = np.random.default_rng(seed)
    samples = ddim_sample(prior, n, 100, torch.Generator().manual_seed(seed)).double().numpy()
    data = task.sample_data(n, rng)
    wd = subset_wasserstein(samples, data, rng=rng)
    floor = noise_floor(task.sample_data, rng=rng)
    result = {"w2_prior_vs_data": [wd.mean, wd.std], "w2_noise_floor": [floor.mean, floor.std],
              "ratio": wd.mean / floor.mean}
    if task_name == "gmm2d":
        result.update(gmm_mode_stats(samples))
        # the 100-step kernel itself shrinks the modes a little: the exact mixture eps is the yardstick
        exact = ddim_sample(gmm2d.exact_mixture_prior(), n, 100, torch.Generator().manual_seed(seed))
        result["exact_eps_reference"] = gmm_mode_stats(exact.double().numpy())
        result["w2_exact_eps_vs_data"] = list(subset_wasserstein(exact, data, rng=rng)[:2])
        fine = ddim_sample(prior, n, 1000, torch.Generator().manual_seed(seed)).double().numpy()
        result["fine_grid_1000_steps"] = gmm_mode_stats(fine)
    if task_name == "swissroll3d":
        result["off_curve_distance"] = {"prior": swissroll_off_curve_distance(samples),
                                        "data": swissroll_off_curve_distance(data)}
    return result


def measure_swissroll_target(n: int = 4_000_000, seed: int = 0) -> tuple[float, float]:
    """Mean reward (and its standard error) of ``n`` exact swissroll3d target samples."""
    task = load_task("swissroll3d")
    samples = task.exact_target(n, np.random.default_rng(seed))
    rewards = task.reward(torch.from_numpy(samples)).numpy()
    return float(rewards.mean()), float(rewards.std() / math.sqrt(n))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=["gmm2d", "swissroll3d"])
    parser.add_argument("--steps", type=int, default=TrainConfig.steps)
    parser.add_argument("--eval-only", action="store_true")
    parser.add_argument("--measure-swissroll-target", action="store_true")
    parser.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    parser.add_argument("--out-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a busy 2-core box)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.measure_swissroll_target:
        mean, sem = measure_swissroll_target()
        print(f"swissroll3d exact target mean reward: {mean:.4f} ± {sem:.4f} (4e6 samples, seed 0)")
        return
    report = {}
    for name in args.tasks:
        path = args.out_dir / f"{name}_mlp.safetensors"
        if not args.eval_only:
            config = TrainConfig(steps=args.steps, batch_size=args.batch_size)
            start = time.perf_counter()
            model = train_denoiser(name, config)
            minutes = (time.perf_counter() - start) / 60
            print(f"{name}: trained {config.steps} steps in {minutes:.1f} min")
            model.save(path, metadata={"training": json.dumps(asdict(config)),
                                       "script": "scripts/train_toy_priors.py", "task": name})
        prior = frozen_prior(MLPDenoiser.load(path))
        report[name] = evaluate(name, prior)
        r = report[name]
        print(f"{name}: W2 prior-vs-data {r['w2_prior_vs_data'][0]:.3f} ± {r['w2_prior_vs_data'][1]:.3f}, "
              f"noise floor {r['w2_noise_floor'][0]:.3f} ± {r['w2_noise_floor'][1]:.3f}, ratio {r['ratio']:.2f}")
        if name == "gmm2d":
            print("  mode fractions", np.round(r["fractions"], 3), "\n  mode variances", np.round(r["variances"], 3))
            print("  exact-eps prior, same sampler: variances",
                  np.round(r["exact_eps_reference"]["variances"], 3), "W2", np.round(r["w2_exact_eps_vs_data"], 3))
            fine = r["fine_grid_1000_steps"]
            print("  1000-step sampling: fractions", np.round(fine["fractions"], 3), "variances",
                  np.round(fine["variances"], 3))
        if name == "swissroll3d":
            print("  mean off-curve distance (prior, data):", np.round(list(r["off_curve_distance"].values()), 3))
    out = args.out_dir / "toy_priors_eval.json"
    existing = json.loads(out.read_text()) if out.exists() else {}
    out.write_text(json.dumps({**existing, **report}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
