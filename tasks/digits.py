"""``digits``: 16x16 handwritten digits from a small diffusers UNet, scored by a frozen classifier or by JPEG size.

Prior: a diffusers ``UNet2DModel`` (epsilon prediction, ``DDPMScheduler``) trained by
``scripts/train_digits_prior.py`` on scikit-learn's bundled 1,797 digits, upscaled from 8x8 to 16x16 and scaled to
``[-1, 1]`` (:mod:`oboptim.images._digits_data`). Both load with ``from_pretrained`` from ``data/digits_unet/`` and
``data/digits_scheduler/``; nothing is downloaded.

Oracles (``x [B, 1, 16, 16]`` numpy in ``[-1, 1]``, deterministic in ``x``):

- default: ``log p(3 | x)`` under a frozen CNN classifier trained on the same digits
  (:func:`oboptim.images._classifier.classifier_log_prob_oracle`); ``--oracle classifier:D`` picks digit ``D``;
- ``--oracle margin:D``: the classifier's logit margin of digit ``D`` over the best other digit
  (:func:`oboptim.images._classifier.classifier_margin_oracle`); unbounded, so it does not saturate as ``log p`` does
  (the benchmark's digits oracle);
- ``--oracle jpeg``: the negative JPEG size in kB at quality 95 (:func:`oboptim.images._jpeg.jpeg_compressibility`),
  the compressibility score of the published image experiments.

Features: the surrogate does not see pixels but 35 numbers: the frozen classifier's penultimate layer (32) and three
image statistics (ink, edges, detail; :mod:`oboptim.images._statistics`). A Gaussian process needs inputs in which
nearby means similar: on 256 raw pixels a one-pixel shift of a stroke is a large Euclidean move and 64 trials cover
nothing, while the classifier's embedding is fixed (it never changes during a campaign, so the surrogate's inputs stay
comparable across rounds), low-dimensional, smooth (SiLU, average pooling) and organised by what the digit looks
like. It is built to ignore how the digit is drawn, though, which is what JPEG size depends on: fitted on 64 prior
samples, a GP ranks 960 others by JPEG size with Spearman 0.47 on the embedding alone and 0.57 with the statistics
appended, while its ranking by ``log p(3 | x)`` stays at 0.95 (``scripts/bench_digits.py --feature-check 1024``).
Everything is differentiable, so the sampler's guidance flows through ``GP(features(x))`` back to the pixels; the GP
scales each feature to the unit cube itself.

Alpha: the library's default measures alpha in standard deviations of the values observed so far, so every oracle
takes the same alpha. (In oracle units, ``log p(D | x)`` needed ``alpha = 0.1`` and ``--oracle jpeg``, whose sizes
spread by only ~0.008 kB, 0.0003: ``bench/digits_cpu.md``.) A campaign stored with those settings keeps them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from diffusers import DDPMScheduler, UNet2DModel
from torch import Tensor

import oboptim.data
from oboptim import TASKS, Task, oracle_without_argument
from oboptim.images import (
    IMAGE_SIZE,
    classifier_log_prob_oracle,
    classifier_margin_oracle,
    image_statistics,
    jpeg_compressibility,
    load_digit_images,
    shipped_classifier,
)
from oboptim.priors import DiffusionPrior

DATA_DIR = Path(oboptim.data.__file__).parent
UNET_DIR = DATA_DIR / "digits_unet"
SCHEDULER_DIR = DATA_DIR / "digits_scheduler"
SAMPLE_SHAPE = (1, IMAGE_SIZE, IMAGE_SIZE)
DEFAULT_DIGIT = 3


def prior_from_folders(unet_dir: str | Path, scheduler_dir: str | Path,
                       device: torch.device | str = "cpu") -> DiffusionPrior:
    """A saved ``UNet2DModel`` and ``DDPMScheduler`` as a frozen prior on ``device`` (gradients still reach ``x``).

    The decoder clips to ``[-1, 1]``, as the scheduler's ``clip_sample`` does: candidates are the images as
    displayed, and at high noise the reward sees a bounded image rather than Tweedie's estimate blown up by
    ``1 / sqrt(abar_t)``.
    """
    scheduler = DDPMScheduler.from_pretrained(str(scheduler_dir))
    return DiffusionPrior.from_diffusers(load_unet(unet_dir, device), scheduler, sample_shape=SAMPLE_SHAPE,
                                         decoder=clip_to_image_range)


def clip_to_image_range(x: Tensor) -> Tensor:
    """``[B, 1, 16, 16]`` clipped to ``[-1, 1]``, the pixel range the prior was trained on."""
    return x.clamp(-1.0, 1.0)


def load_unet(unet_dir: str | Path = UNET_DIR, device: torch.device | str = "cpu") -> UNet2DModel:
    """The saved ``UNet2DModel`` in eval mode with frozen weights."""
    # low_cpu_mem_usage=False: the model is 4 MB, and the default would warn that `accelerate` is missing
    model = UNet2DModel.from_pretrained(str(unet_dir), low_cpu_mem_usage=False)
    return model.to(device).eval().requires_grad_(False)


def load_prior(device: torch.device | str = "cpu") -> DiffusionPrior:
    """The shipped digits UNet and its DDPM schedule as a prior over ``[1, 16, 16]`` images."""
    return prior_from_folders(UNET_DIR, SCHEDULER_DIR, device)


def features(x: Tensor) -> Tensor:
    """Shape and ink: ``[B, 1, 16, 16] -> [B, 35]`` in ``x``'s dtype, differentiable.

    The frozen classifier's penultimate layer (32 numbers) followed by
    :func:`~oboptim.images._statistics.image_statistics` (ink, edges, detail).
    """
    embedding = shipped_classifier(str(x.device)).features(x).to(x.dtype)
    return torch.cat([embedding, image_statistics(x)], dim=-1)


def sample_data(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` real digits drawn with replacement from the bundled set: ``[n, 1, 16, 16]`` float32 in ``[-1, 1]``."""
    images, _ = load_digit_images()
    return images[rng.integers(0, len(images), size=n)].copy()


# Settings that depend on the oracle, over the task's defaults: none since alpha is measured in standard deviations
# of the observed values by default (bench/defaults_research.md).
ORACLE_DEFAULTS: dict[str, dict[str, float]] = {}

TASK = Task(
    name="digits",
    description=TASKS.help("digits"),
    load_prior=load_prior,
    oracle=classifier_log_prob_oracle(DEFAULT_DIGIT),
    features=features,
    sample_data=sample_data,
    defaults={  # cost only (the UNet is the expensive part on a CPU); every other setting is the library's
        "batch_size": 8,
        "budget": 64,
        "particles": 8,
        "steps": 30,
    },
    named_oracles={
        "jpeg": oracle_without_argument("jpeg", jpeg_compressibility),
        "classifier": classifier_log_prob_oracle,  # classifier:D, the log-probability of digit D
        "margin": classifier_margin_oracle,  # margin:D, logit of D minus the best other logit (does not saturate)
    },
    oracle_defaults=ORACLE_DEFAULTS,
)
