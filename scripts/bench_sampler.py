"""Benchmark the DAS sampler: the paper's toy table, and wall time against DDIM and guided DDIM.

    python scripts/bench_sampler.py                      # everything, CPU, paper-sized (slow: ~15-25 min)
    python scripts/bench_sampler.py --quick              # a smoke run with small sizes
    python scripts/bench_sampler.py --device cuda --parts speed,unet,sd

Parts:
    toys   mean reward and W2 to the exact target (500-point subsets, 10 repeats, with the exact-vs-exact noise floor)
           for the prior, guided DDIM (no weights) and SMC with every resampling scheme and tempering mode;
           1,000 groups x 100 particles x 100 steps, alpha = 1, gamma = 0.008, ESS threshold 0.5 (the paper's
           setup). One sample per group, drawn by weight, gives the 1,000 samples scored.
    speed  wall time of DDIM, guided DDIM and SMC at 100,000 particles x 100 steps on the gmm2d MLP prior.
    unet   the same on a randomly initialised diffusers UNet2DModel (3x32x32 images, 64 particles).
    sd     an SD-1.5-sized UNet2DConditionModel (random weights, fp16 on CUDA): SMC with 4 particles x 50 steps
           against guided sampling with the same particles and steps; seconds per image.

Writes ``<out>/sampler_<device>.md`` (tables), ``.json`` and ``.png``. Times are medians of ``--repeats`` runs
measured in one process, so ratios compare like with like.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from oboptim import load_task
from oboptim.benchmark import noise_floor, subset_wasserstein
from oboptim.sampling import (
    RESAMPLERS,
    TEMPERING_SCHEDULES,
    DiffusionPrior,
    SMCSampler,
    ddim_sample,
    guided_ddim_sample,
)

ROOT = Path(__file__).resolve().parent.parent


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn, device: str, repeats: int) -> tuple[float, object]:
    """Median wall time of ``repeats`` calls (after one warm-up call on CUDA), and the last result."""
    out = fn() if device.startswith("cuda") else None  # CUDA: lazy init, kernel selection; CPU has none to warm
    times = []
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        out = fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


# -- toys --------------------------------------------------------------------------------------------------------


def toy_rows(args, device: str) -> list[dict]:
    rows = []
    for name in ("gmm2d", "swissroll3d"):
        task = load_task(name)
        priors = [("trained MLP", task.load_prior(device))]
        if name == "gmm2d":
            from oboptim.tasks.gmm2d import exact_mixture_prior

            priors.append(("exact mixture", exact_mixture_prior(device)))
        rng = np.random.default_rng(0)
        floor = noise_floor(task.exact_target, subset=500, repeats=args.subsets, rng=rng)
        exact = task.exact_target(200_000, np.random.default_rng(1))
        exact_reward = task.exact_target_mean_reward
        if exact_reward is None:
            exact_reward = float(task.reward(torch.as_tensor(exact, dtype=torch.float32)).mean())
        rows.append(dict(task=name, prior="-", method="exact target", reward=exact_reward,
                         w2=floor.mean, w2_std=floor.std, seconds=float("nan"), noise_floor=floor.mean))
        for prior_name, prior in priors:
            for method, sampler_fn in toy_methods(args, prior, task.reward):
                generator = torch.Generator(device=device).manual_seed(0)
                start = time.perf_counter()
                samples = sampler_fn(generator)
                sync(device)
                seconds = time.perf_counter() - start
                samples = samples.float().cpu()
                finite = torch.isfinite(samples).all(-1)
                lost = int((~finite).sum())  # guided DDIM without weights can diverge on a few particles
                samples = samples[finite]
                reward = float(task.reward(samples).mean())
                w2 = subset_wasserstein(samples.numpy(), exact, subset=500, repeats=args.subsets,
                                        rng=np.random.default_rng(2))
                rows.append(dict(task=name, prior=prior_name, method=method, reward=reward, w2=w2.mean,
                                 w2_std=w2.std, seconds=seconds, noise_floor=floor.mean, exact_reward=exact_reward,
                                 nonfinite=lost))
                print(f"{name:12s} {prior_name:14s} {method:26s} reward {reward:8.3f} (exact {exact_reward:.3f}) "
                      f"W2 {w2.mean:.3f} (floor {floor.mean:.3f})  {seconds:6.1f}s"
                      + (f"  [{lost} non-finite samples dropped]" if lost else ""), flush=True)
    return rows


def toy_methods(args, prior: DiffusionPrior, reward):
    groups, particles, steps = args.groups, args.particles, args.steps
    yield "prior (DDIM)", lambda g: ddim_sample(prior, groups, steps, g)
    yield "guided DDIM (no weights)", lambda g: guided_ddim_sample(prior, reward, groups, steps, g)
    schemes = sorted(RESAMPLERS) if not args.quick else ["ssp", "systematic"]
    for tempering in TEMPERING_SCHEDULES:
        for scheme in schemes:
            sampler = SMCSampler(prior, reward, num_particles=particles, num_steps=steps, alpha=1.0,
                                 resampling=scheme, ess_threshold=0.5, tempering=tempering, gamma=0.008)

            def run(g, sampler=sampler):
                result = sampler.sample(groups, g)
                return result.resample(1, g)[:, 0]

            yield f"SMC {scheme}/{tempering}", run


# -- speed -------------------------------------------------------------------------------------------------------


def speed_rows(label: str, prior: DiffusionPrior, reward, particles: int, steps: int, device: str,
               repeats: int, groups: int, particle_batch_size: int | None = None) -> list[dict]:
    """DDIM, guided DDIM and SMC on the same prior, particles and steps; ratios against guided DDIM."""
    per_group = particles // groups
    sampler = SMCSampler(prior, reward, num_particles=per_group, num_steps=steps, resampling="ssp",
                         tempering="exp", particle_batch_size=particle_batch_size)
    runs = {
        "DDIM (no gradient)": lambda: ddim_sample(prior, particles, steps, torch.Generator(device).manual_seed(0)),
        "guided DDIM": lambda: guided_ddim_sample(prior, reward, particles, steps,
                                                  torch.Generator(device).manual_seed(0)),
        "SMC (ssp, exp)": lambda: sampler.sample(groups, torch.Generator(device).manual_seed(0)),
    }
    times = {}
    for method, fn in runs.items():
        times[method], _ = timed(fn, device, repeats)
        print(f"{label:28s} {method:20s} {times[method]:8.3f}s", flush=True)
    guided = times["guided DDIM"]
    return [dict(setting=label, method=m, seconds=t, per_guided=t / guided, particles=particles, steps=steps)
            for m, t in times.items()]


def toy_speed(args, device: str) -> list[dict]:
    task = load_task("gmm2d")
    particles = args.speed_particles
    return speed_rows(f"gmm2d MLP, {particles:,} particles", task.load_prior(device), task.reward, particles,
                      args.steps, device, args.repeats, groups=particles // 100)


def unet_speed(args, device: str) -> list[dict]:
    from diffusers import DDPMScheduler, UNet2DModel

    torch.manual_seed(0)
    model = UNet2DModel(sample_size=32, in_channels=3, out_channels=3, block_out_channels=(32, 64, 64),
                        layers_per_block=1, down_block_types=("DownBlock2D", "AttnDownBlock2D", "DownBlock2D"),
                        up_block_types=("UpBlock2D", "AttnUpBlock2D", "UpBlock2D"))
    model = model.to(device).eval().requires_grad_(False)
    prior = DiffusionPrior.from_diffusers(model, DDPMScheduler())
    reward = lambda x: -(x - 0.5).square().flatten(1).mean(-1)  # noqa: E731
    steps = args.unet_steps
    return speed_rows("UNet2DModel 3x32x32, 64 particles", prior, reward, 64, steps, device, args.repeats, groups=4)


def sd_speed(args, device: str) -> list[dict]:
    """SD-1.5-sized conditional UNet (random weights), 4x64x64 latents, fp16 on CUDA."""
    from diffusers import DDIMScheduler, UNet2DConditionModel

    dtype = torch.float16 if device.startswith("cuda") else torch.float32
    torch.manual_seed(0)
    model = UNet2DConditionModel(
        sample_size=64, in_channels=4, out_channels=4, cross_attention_dim=768, attention_head_dim=8,
        block_out_channels=(320, 640, 1280, 1280), layers_per_block=2,
    ).to(device=device, dtype=dtype).eval().requires_grad_(False)
    cond = torch.randn(1, 77, 768, device=device)
    prior = DiffusionPrior.from_diffusers(model, DDIMScheduler(), conditioning=cond)
    reward = lambda z: -(z - 0.3).square().flatten(1).mean(-1)  # noqa: E731  a latent-space stand-in reward
    rows = speed_rows("SD-1.5-sized UNet, fp16" if dtype == torch.float16 else "SD-1.5-sized UNet, fp32",
                      prior, reward, 4, 50, device, max(1, args.repeats - 1), groups=1)
    for row in rows:
        row["seconds_per_image"] = row["seconds"] / 4
    return rows


# -- output ------------------------------------------------------------------------------------------------------


def markdown(results: dict, device_name: str) -> str:
    lines = [f"# Sampler benchmark ({device_name})", ""]
    if results.get("toys"):
        lines += ["## Toy problems (docs/algorithm.md): mean reward and W2 to the exact target", "",
                  "| task | prior | method | mean reward | W2 (mean ± sd over subsets) | W2 / noise floor | seconds |"
                  " non-finite |",
                  "|---|---|---|---|---|---|---|---|"]
        for r in results["toys"]:
            lines.append(f"| {r['task']} | {r['prior']} | {r['method']} | {r['reward']:.3f} | "
                         f"{r['w2']:.3f} ± {r['w2_std']:.3f} | {r['w2'] / r['noise_floor']:.2f} | "
                         f"{r['seconds']:.1f} | {r.get('nonfinite', 0)} |")
        lines.append("")
    for part, title in (("speed", "Speed: MLP toy prior"), ("unet", "Speed: diffusers UNet2DModel"),
                        ("sd", "Speed: SD-1.5-sized UNet2DConditionModel")):
        if results.get(part):
            lines += [f"## {title}", "", "| setting | method | particles | steps | seconds (median) | × guided DDIM |",
                      "|---|---|---|---|---|---|"]
            for r in results[part]:
                extra = f" ({r['seconds_per_image']:.2f} s/image)" if "seconds_per_image" in r else ""
                lines.append(f"| {r['setting']} | {r['method']} | {r['particles']:,} | {r['steps']} | "
                             f"{r['seconds']:.3f}{extra} | {r['per_guided']:.2f} |")
            lines.append("")
    return "\n".join(lines)


def plot(results: dict, path: Path, args, device: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    toys = [r for r in results.get("toys", []) if r["prior"] != "-"]
    fig, axes = plt.subplots(1, 2, figsize=(14, 5))
    for ax, name in zip(axes, ("gmm2d", "swissroll3d")):
        rows = [r for r in toys if r["task"] == name and r["prior"] == "trained MLP"]
        if not rows:
            continue
        floor = rows[0]["noise_floor"]
        exact = rows[0]["exact_reward"]
        ax.scatter([r["reward"] for r in rows], [r["w2"] / floor for r in rows], s=16)
        for r in rows:
            if not r["method"].startswith("SMC") or r["method"].endswith("ssp/exp"):
                ax.annotate(r["method"], (r["reward"], r["w2"] / floor), fontsize=7)
        ax.axvline(exact, color="k", ls="--", lw=1, label="exact target reward")
        ax.axhline(1.5, color="r", ls=":", lw=1, label="1.5 × noise floor")
        ax.set(xlabel="mean reward", ylabel="W2 / noise floor", title=f"{name}: samples vs exact target",
               yscale="log")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--parts", default="toys,speed,unet")
    parser.add_argument("--groups", type=int, default=1000)
    parser.add_argument("--particles", type=int, default=100)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--subsets", type=int, default=10)
    parser.add_argument("--speed-particles", type=int, default=100_000)
    parser.add_argument("--unet-steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--out", type=Path, default=ROOT / "bench")
    args = parser.parse_args(argv)
    if args.quick:
        args.groups, args.particles, args.steps, args.subsets = 600, 20, 50, 3
        args.speed_particles, args.unet_steps, args.repeats = 10_000, 10, 1
    device = args.device
    cpu_name = f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
    device_name = torch.cuda.get_device_name() if device.startswith("cuda") else cpu_name
    parts = set(args.parts.split(","))
    results = {"device": device_name, "args": {k: str(v) for k, v in vars(args).items()}}
    if "toys" in parts:
        results["toys"] = toy_rows(args, device)
    if "speed" in parts:
        results["speed"] = toy_speed(args, device)
    if "unet" in parts:
        results["unet"] = unet_speed(args, device)
    if "sd" in parts:
        results["sd"] = sd_speed(args, device)
    args.out.mkdir(parents=True, exist_ok=True)
    tag = "cuda" if device.startswith("cuda") else "cpu"
    suffix = "_quick" if args.quick else ""
    (args.out / f"sampler_{tag}{suffix}.md").write_text(markdown(results, device_name))
    (args.out / f"sampler_{tag}{suffix}.json").write_text(json.dumps(results, indent=1, default=float))
    if results.get("toys"):
        plot(results, args.out / f"sampler_{tag}{suffix}.png", args, device)
    print(markdown(results, device_name))


if __name__ == "__main__":
    sys.exit(main())
