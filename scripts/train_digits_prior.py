"""Train the ``digits`` task's diffusion prior and frozen classifier, and measure the prior's sample quality.

    python scripts/train_digits_prior.py                 # train both, write data/digits_* and data/digits_eval.json
    python scripts/train_digits_prior.py --eval-only     # re-measure the shipped weights
    python scripts/train_digits_prior.py --skip-classifier   # retrain only the prior

Data: scikit-learn's bundled 1,797 8x8 digits (no download), upscaled bilinearly to 16x16 and scaled to [-1, 1]
(:mod:`oboptim.images._digits_data`).

Prior: a diffusers ``UNet2DModel`` (epsilon prediction) with a diffusers ``DDPMScheduler``; epsilon MSE with noise
added by ``scheduler.add_noise`` at uniform timesteps, AdamW with linear warm-up and cosine decay, and an exponential
moving average (EMA) of the weights, which is what ``save_pretrained`` writes.

Classifier: :class:`oboptim.images._classifier.DigitClassifier` on a fixed 80% split, with one-pixel random shifts and
light Gaussian noise as augmentation; accuracy is reported on the other 20%.

Evaluation: 1000 prior samples by 100-step ancestral sampling (``oboptim.sampling.ddim_sample``, eta = 1); the
classifier's max-class confidence on them versus on the held-out real digits, the predicted-class histogram, and the
mean distance to the nearest training digit; a grid of 64 samples as a PNG.
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
from diffusers import DDPMScheduler, UNet2DModel
from PIL import Image

from oboptim.images import DigitClassifier, held_out_split, load_digit_images, to_uint8
from oboptim.priors import ema_update, warmup_cosine_lr
from oboptim.sampling import ddim_sample
from oboptim.tasks.digits import DATA_DIR, prior_from_folders

CLASSIFIER_FILE = "digits_classifier.safetensors"
UNET_FOLDER = "digits_unet"
SCHEDULER_FOLDER = "digits_scheduler"
EVAL_FILE = "digits_eval.json"
GRID_FILE = "digits_samples.png"


@dataclass(frozen=True)
class PriorConfig:
    steps: int = 600
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup: int = 50
    ema_decay: float = 0.99
    block_out_channels: tuple[int, ...] = (32, 64, 64)
    layers_per_block: int = 1
    norm_num_groups: int = 8
    beta_schedule: str = "squaredcos_cap_v2"
    num_train_timesteps: int = 1000
    seed: int = 0


@dataclass(frozen=True)
class ClassifierConfig:
    epochs: int = 40
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-4
    noise_std: float = 0.1
    channels: tuple[int, int] = (16, 32)
    feature_dim: int = 32
    seed: int = 0


def random_shift(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Shift each image ``[B, 1, S, S]`` by -1, 0 or +1 pixels in each direction (background fills the border)."""
    padded = torch.nn.functional.pad(images, (1, 1, 1, 1), value=-1.0)
    offsets = torch.randint(0, 3, (images.shape[0], 2), generator=generator)
    size = images.shape[-1]
    return torch.stack([padded[i, :, dy:dy + size, dx:dx + size] for i, (dy, dx) in enumerate(offsets.tolist())])


def make_unet(config: PriorConfig) -> UNet2DModel:
    levels = len(config.block_out_channels)
    return UNet2DModel(
        sample_size=16, in_channels=1, out_channels=1,
        block_out_channels=config.block_out_channels, layers_per_block=config.layers_per_block,
        down_block_types=("DownBlock2D",) * levels, up_block_types=("UpBlock2D",) * levels,
        norm_num_groups=config.norm_num_groups,
    )


def make_scheduler(config: PriorConfig) -> DDPMScheduler:
    return DDPMScheduler(num_train_timesteps=config.num_train_timesteps, beta_schedule=config.beta_schedule,
                         prediction_type="epsilon", clip_sample=True)


def train_prior(images: torch.Tensor, config: PriorConfig, log_every: int = 200) -> UNet2DModel:
    """Fit a UNet to ``images [N, 1, 16, 16]``; returns the EMA weights in eval mode."""
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed + 1)
    model, scheduler = make_unet(config), make_scheduler(config)
    ema = copy.deepcopy(model).requires_grad_(False)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    running, start = 0.0, time.perf_counter()
    for step in range(config.steps):
        for group in optimizer.param_groups:
            group["lr"] = warmup_cosine_lr(step, config.steps, config.lr, config.warmup)
        x0 = images[torch.randint(0, len(images), (config.batch_size,), generator=generator)]
        noise = torch.randn(x0.shape, generator=generator)
        t = torch.randint(0, config.num_train_timesteps, (config.batch_size,), generator=generator)
        loss = torch.nn.functional.mse_loss(model(scheduler.add_noise(x0, noise, t), t).sample, noise)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        ema_update(ema, model, config.ema_decay)
        running += loss.item()
        if (step + 1) % log_every == 0:
            print(f"  prior step {step + 1}/{config.steps}  loss {running / log_every:.4f}  "
                  f"{time.perf_counter() - start:.0f}s", flush=True)
            running = 0.0
    return ema.eval()


def train_classifier(images: torch.Tensor, labels: torch.Tensor, config: ClassifierConfig) -> DigitClassifier:
    """Fit a :class:`DigitClassifier` to ``images [N, 1, 16, 16]``, ``labels [N]`` with shift and noise augmentation."""
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed + 1)
    model = DigitClassifier(config.channels, config.feature_dim)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    batches_per_epoch = math.ceil(len(images) / config.batch_size)
    total = config.epochs * batches_per_epoch
    step = 0
    for _ in range(config.epochs):
        order = torch.randperm(len(images), generator=generator)
        for batch in order.split(config.batch_size):
            for group in optimizer.param_groups:
                group["lr"] = warmup_cosine_lr(step, total, config.lr, warmup=batches_per_epoch)
            x = random_shift(images[batch], generator)
            x = x + config.noise_std * torch.randn(x.shape, generator=generator)
            loss = torch.nn.functional.cross_entropy(model(x), labels[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
    return model.eval().requires_grad_(False)


@torch.no_grad()
def accuracy(model: DigitClassifier, images: torch.Tensor, labels: torch.Tensor) -> float:
    return float((model(images).argmax(-1) == labels).float().mean())


@torch.no_grad()
def confidence_summary(model: DigitClassifier, images: torch.Tensor) -> dict:
    """Max-class probability (mean, median, fraction above 0.9) and the predicted-class histogram of ``images``."""
    probs = torch.softmax(model(images.clamp(-1, 1)), dim=-1)
    top = probs.max(-1).values
    return {"mean_max_prob": float(top.mean()), "median_max_prob": float(top.median()),
            "fraction_above_0.9": float((top > 0.9).float().mean()),
            "class_histogram": torch.bincount(probs.argmax(-1), minlength=10).tolist()}


def nearest_distance(samples: torch.Tensor, reference: torch.Tensor) -> float:
    """Mean Euclidean distance from each sample ``[n, 1, 16, 16]`` to its nearest reference image."""
    return float(torch.cdist(samples.flatten(1), reference.flatten(1)).min(-1).values.mean())


def save_grid(samples: torch.Tensor, path: Path, columns: int = 8, scale: int = 4, gap: int = 2) -> None:
    """Write ``samples [n, 1, S, S]`` in ``[-1, 1]`` as one grayscale PNG, ``scale`` x enlarged."""
    pixels = to_uint8(samples.numpy())  # [n, S, S]
    size = pixels.shape[-1] * scale
    rows = math.ceil(len(pixels) / columns)
    canvas = np.full((rows * (size + gap) + gap, columns * (size + gap) + gap), 128, dtype=np.uint8)
    for k, image in enumerate(pixels):
        top, left = (gap + i * (size + gap) for i in divmod(k, columns))
        canvas[top:top + size, left:left + size] = np.kron(image, np.ones((scale, scale), dtype=np.uint8))
    Image.fromarray(canvas).save(path)


def evaluate(out_dir: Path, num_samples: int = 1000, num_steps: int = 100, seed: int = 123) -> dict:
    """Prior sample quality under the saved classifier, next to the held-out real digits."""
    images, labels = (torch.from_numpy(a.copy()) for a in load_digit_images())
    train_idx, held_idx = held_out_split(len(images))
    classifier = DigitClassifier.load(out_dir / CLASSIFIER_FILE)
    prior = prior_from_folders(out_dir / UNET_FOLDER, out_dir / SCHEDULER_FOLDER)
    generator = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    samples = torch.cat([ddim_sample(prior, 250, num_steps, generator) for _ in range(num_samples // 250)])
    seconds = time.perf_counter() - start
    save_grid(samples[:64], out_dir / GRID_FILE)
    held = images[torch.from_numpy(held_idx)]
    return {
        "classifier_held_out_accuracy": accuracy(classifier, held, labels[torch.from_numpy(held_idx)]),
        "classifier_train_accuracy": accuracy(classifier, images[torch.from_numpy(train_idx)],
                                              labels[torch.from_numpy(train_idx)]),
        "prior_samples": {"count": len(samples), "steps": num_steps, "seed": seed, "seconds": seconds,
                          "pixel_range": [float(samples.min()), float(samples.max())],
                          **confidence_summary(classifier, samples),
                          "mean_nearest_training_distance": nearest_distance(samples.clamp(-1, 1), images)},
        "held_out_real_digits": {"count": len(held), **confidence_summary(classifier, held),
                                 "mean_nearest_training_distance": nearest_distance(
                                     held, images[torch.from_numpy(train_idx)])},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=PriorConfig.steps, help="prior training steps")
    parser.add_argument("--classifier-epochs", type=int, default=ClassifierConfig.epochs)
    parser.add_argument("--eval-samples", type=int, default=1000, help="prior samples to measure (multiple of 250)")
    parser.add_argument("--eval-steps", type=int, default=100, help="sampling steps of the measured samples")
    parser.add_argument("--eval-only", action="store_true")
    parser.add_argument("--skip-classifier", action="store_true", help="keep the saved classifier")
    parser.add_argument("--out-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a busy 2-core box)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    images, labels = (torch.from_numpy(a.copy()) for a in load_digit_images())
    provenance = {"script": "scripts/train_digits_prior.py", "data": "sklearn.datasets.load_digits, 16x16 bilinear"}
    timings = {}
    if not args.eval_only and not args.skip_classifier:
        config = ClassifierConfig(epochs=args.classifier_epochs)
        train_idx, _ = held_out_split(len(images))
        start = time.perf_counter()
        classifier = train_classifier(images[train_idx], labels[train_idx], config)
        timings["classifier_seconds"] = time.perf_counter() - start
        classifier.save(args.out_dir / CLASSIFIER_FILE, metadata={**provenance, "training": json.dumps(asdict(config))})
        print(f"classifier: trained in {timings['classifier_seconds']:.0f}s")
    if not args.eval_only:
        config = PriorConfig(steps=args.steps)
        start = time.perf_counter()
        unet = train_prior(images, config)
        timings["prior_seconds"] = time.perf_counter() - start
        unet.save_pretrained(args.out_dir / UNET_FOLDER)
        make_scheduler(config).save_pretrained(args.out_dir / SCHEDULER_FOLDER)
        training = json.dumps({**provenance, **asdict(config)}, indent=2)
        (args.out_dir / UNET_FOLDER / "training.json").write_text(training + "\n")
        print(f"prior: trained {config.steps} steps in {timings['prior_seconds'] / 60:.1f} min")
    eval_path = args.out_dir / EVAL_FILE
    if eval_path.is_file():  # keep the training times of whatever was not retrained
        timings = {**json.loads(eval_path.read_text()).get("timings", {}), **timings}
    report = {**evaluate(args.out_dir, args.eval_samples, args.eval_steps), "timings": timings}
    eval_path.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
