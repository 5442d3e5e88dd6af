"""``sd``: Stable Diffusion 1.x from a local diffusers folder, with a text prompt and classifier-free guidance.

Prior: the latent diffusion model of a Stable Diffusion 1.x-style pipeline folder (``--prior-path DIR``, as
``StableDiffusionPipeline.save_pretrained`` writes it or as found on disk after a download elsewhere). Each component
loads with ``from_pretrained`` from its subfolder: ``unet/`` (``UNet2DConditionModel``), ``vae/``
(``AutoencoderKL``), ``text_encoder/`` (``CLIPTextModel``), ``tokenizer/`` (``CLIPTokenizer``) and ``scheduler/``;
``safety_checker/`` and ``feature_extractor/`` are ignored and nothing is downloaded. The scheduler's noise schedule
(betas, ``steps_offset``, ``set_alpha_to_one``, prediction type) is read into a ``DDIMScheduler`` whatever class the
folder names (SD 1.x ships PNDM, whose grid repeats a timestep): the SMC sampler brings its own DDIM kernel and
needs only ``abar`` and the timestep grid.

- The prompt and the negative prompt (default ``""``) are encoded once, when the prior loads; the text encoder is
  then dropped. With ``guidance_scale != 1`` every denoiser call runs the conditional and unconditional inputs in
  one batch and returns ``eps_u + s (eps_c - eps_u)``.
- Particles are latents ``[4, H/8, W/8]``; the prior's decoder, ``vae.decode(z / scaling_factor)`` clipped to
  ``[-1, 1]``, runs inside the reward, so candidates, oracles and features all see decoded images ``[3, H, W]``.
- On CUDA the weights run in float16 (or ``dtype="bfloat16"``); the prior casts their outputs to float32, so the
  sampler's weights, kernel and gradients stay float32. On the CPU everything is float32.
- Memory: ``--particle-batch-size`` bounds how many particles go through the UNet (twice that with guidance) and
  the VAE decoder at once, forward and backward (the task's default is 4; not yet measured on real SD weights).
  Gradient-free decodes (prior samples, chosen candidates) go through the VAE at most :data:`DECODE_BATCH` at a time.

Oracles (``x [B, 3, H, W]`` numpy in ``[-1, 1]``, deterministic in ``x``):

- default and ``--oracle jpeg``: JPEG compressibility, the negative size in kB of the 8-bit RGB image saved by
  Pillow at quality 95 (Pillow's default 4:2:0 chroma subsampling), as in the published SD experiments;
- ``--oracle colorfulness``: the Hasler-Suesstrunk colourfulness of the 8-bit image, a classic no-reference
  image statistic (0 for grey images, ~100 for very colourful ones).

Features: a fixed, differentiable, 15-number summary of the decoded image (:func:`image_features`): the mean and
standard deviation of each colour channel, the mean luminance of each image quarter, the RMS luminance gradient at
scales 1, 2, 4 and 8 pixels, and the RMS chroma gradient. No pretrained image embedding (CLIP, an aesthetic head)
can be downloaded here, and the pipeline's own VAE latents would tie the surrogate's inputs to one pipeline, one
device and one dtype; these statistics are the same for every campaign, cost nothing next to a VAE decode, run
wherever the surrogate runs, and are smooth in the pixels, so the sampler's guidance flows through
``GP(features(decode(z)))`` back to the latents. They are chosen for what the oracles measure: JPEG size grows with
high-frequency energy at the 8x8 block scale and below (the gradient terms), and colour statistics cover
colourfulness and the coarse look a human rater responds to. Features of a small image use the scales it allows.
Measured on 400 random 128x128 crops of scikit-learn's two bundled photographs (JPEG 2.4 to 14 kB): a GP fitted on
64 crops ranks the other 336 with Spearman 0.996 for JPEG size and 0.98 for colourfulness (mean of 5 splits);
single features alone reach -0.97 (luminance gradient RMS at scale 2) for JPEG size.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from oboptim import TASKS, OboptimError, Task, oracle_without_argument
from oboptim.images._jpeg import BYTES_PER_KILOBYTE, JPEG_QUALITY, jpeg_bytes
from oboptim.priors import DiffusionPrior

COMPONENTS = {  # subfolder -> the file that marks it as a saved component
    "unet": "config.json",
    "vae": "config.json",
    "text_encoder": "config.json",
    "tokenizer": ("vocab.json", "tokenizer.json"),
    "scheduler": "scheduler_config.json",
}
CUDA_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}
DEFAULT_GUIDANCE_SCALE = 7.5
DECODE_BATCH = 4
DETAIL_SCALES = (1, 2, 4, 8)
NUM_FEATURES = 15
LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601, as JPEG's own colour transform
_WANTED = "it must hold unet/, vae/, text_encoder/, tokenizer/ and scheduler/ as save_pretrained writes them"
NEEDS_FOLDER = "task sd needs --prior-path DIR holding a Stable Diffusion 1.x diffusers pipeline"


class PipelineFolderError(OboptimError, ValueError):
    """``--prior-path`` is missing, is not a Stable Diffusion 1.x pipeline folder, or a component fails to load."""


# -- the pipeline folder ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SDSettings:
    """The validated options of one ``sd`` task.

    Attributes:
        prior_path: the pipeline folder.
        prompt, negative_prompt: the texts of the conditional and unconditional branches.
        guidance_scale: classifier-free guidance scale (1 = the conditional model alone).
        height, width: image size in pixels (multiples of the VAE's scale times the UNet's downsampling).
        latent_shape: ``(latent_channels, height / scale, width / scale)``, one particle.
        dtype: the weights' dtype on CUDA (the CPU always runs float32).
    """

    prior_path: Path
    prompt: str
    negative_prompt: str
    guidance_scale: float
    height: int
    width: int
    latent_shape: tuple[int, int, int]
    dtype: str


def check_pipeline_folder(prior_path: str | Path) -> Path:
    """The folder as an absolute path, or a one-line :class:`PipelineFolderError` saying what is wrong."""
    path = Path(prior_path).expanduser()
    if not path.exists():
        raise PipelineFolderError(f"--prior-path {str(path)!r} does not exist; {_WANTED}")
    if not path.is_dir():
        raise PipelineFolderError(f"--prior-path {str(path)!r} is not a folder; {_WANTED}")
    missing = [f"{sub}/" for sub, marks in COMPONENTS.items()
               if not any((path / sub / mark).is_file() for mark in ((marks,) if isinstance(marks, str) else marks))]
    if missing:
        raise PipelineFolderError(
            f"--prior-path {str(path)!r} is not a Stable Diffusion pipeline folder: no saved {', '.join(missing)}; "
            f"{_WANTED}"
        )
    return path.resolve()


def _read_config(path: Path, sub: str, name: str = "config.json") -> dict:
    try:
        return json.loads((path / sub / name).read_text())
    except (OSError, ValueError) as exc:
        raise PipelineFolderError(f"cannot read {sub}/{name} in {str(path)!r}: {exc}") from None


def resolve_settings(prior_path: str | Path, prompt: str, guidance_scale: float, negative_prompt: str,
                     height: int | None, width: int | None, dtype: str) -> SDSettings:
    """Check the folder and the options against the components' configs (no weights are read)."""
    path = check_pipeline_folder(prior_path)
    unet, vae = _read_config(path, "unet"), _read_config(path, "vae")
    text = _read_config(path, "text_encoder")
    if unet.get("_class_name", "UNet2DConditionModel") != "UNet2DConditionModel":
        raise PipelineFolderError(f"unet/ in {str(path)!r} is a {unet['_class_name']}; expected UNet2DConditionModel")
    if unet.get("addition_embed_type") is not None:
        raise PipelineFolderError(
            f"unet/ in {str(path)!r} needs added conditioning ({unet['addition_embed_type']}, e.g. SDXL); "
            "only Stable Diffusion 1.x/2.x-style pipelines are supported"
        )
    if unet.get("cross_attention_dim") != text.get("hidden_size"):
        raise PipelineFolderError(
            f"unet/ cross_attention_dim {unet.get('cross_attention_dim')} does not match text_encoder/ hidden_size "
            f"{text.get('hidden_size')} in {str(path)!r}"
        )
    if not isinstance(prompt, str) or not isinstance(negative_prompt, str):
        raise ValueError("prompt and negative_prompt must be text")
    if isinstance(guidance_scale, bool) or not isinstance(guidance_scale, (int, float)) \
            or not math.isfinite(guidance_scale) or guidance_scale < 0:
        raise ValueError(f"guidance_scale must be a number >= 0 (1 turns guidance off); got {guidance_scale!r}")
    if dtype not in CUDA_DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(CUDA_DTYPES)} (used on CUDA); got {dtype!r}")
    scale = 2 ** (len(vae.get("block_out_channels", (0,))) - 1)
    multiple = scale * 2 ** (len(unet.get("block_out_channels", (0,))) - 1)
    sample = unet.get("sample_size", 64)
    sample_h, sample_w = (sample, sample) if isinstance(sample, int) else sample
    size = {"height": height if height is not None else sample_h * scale,
            "width": width if width is not None else sample_w * scale}
    for name, value in size.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < multiple or value % multiple:
            raise ValueError(f"{name} must be a positive multiple of {multiple} pixels for this pipeline; "
                             f"got {value!r}")
    latent_shape = (int(unet.get("in_channels", 4)), size["height"] // scale, size["width"] // scale)
    return SDSettings(path, prompt, negative_prompt, float(guidance_scale), size["height"], size["width"],
                      latent_shape, dtype)


# -- loading the prior -----------------------------------------------------------------------------------------------


def _weights_variant(folder: Path) -> str | None:
    """``"fp16"`` when a component folder holds only fp16-variant weights (``*.fp16.safetensors``)."""
    names = [p.name for p in folder.iterdir() if p.suffix in (".safetensors", ".bin", ".json")]
    plain = any(".fp16." not in n and n.endswith((".safetensors", ".bin", ".index.json")) for n in names)
    return "fp16" if not plain and any(".fp16." in n for n in names) else None


def _from_pretrained(cls, path: Path, sub: str, **kwargs):
    folder = path / sub
    try:
        if sub in ("unet", "vae", "text_encoder"):
            variant = _weights_variant(folder)
            if variant is not None:
                kwargs["variant"] = variant
        if sub in ("unet", "vae"):
            kwargs.setdefault("low_cpu_mem_usage", _has_accelerate())
        return cls.from_pretrained(str(folder), **kwargs)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PipelineFolderError(f"cannot load {sub}/ of {str(path)!r} as {cls.__name__}: {reason}") from None


def _has_accelerate() -> bool:
    import importlib.util

    return importlib.util.find_spec("accelerate") is not None


def weights_dtype(device: torch.device | str, dtype: str = "float16") -> torch.dtype:
    """The dtype the weights run in: ``dtype`` on CUDA, float32 anywhere else."""
    return CUDA_DTYPES[dtype] if torch.device(device).type == "cuda" else torch.float32


def encode_prompts(tokenizer, text_encoder: torch.nn.Module, prompts: Sequence[str]) -> Tensor:
    """``[P, seq, dim]`` last hidden states of the CLIP text encoder, prompts padded (and cut) to the tokenizer's
    ``model_max_length`` as SD 1.x pipelines do."""
    max_length = min(tokenizer.model_max_length, text_encoder.config.max_position_embeddings)
    ids = tokenizer(list(prompts), padding="max_length", max_length=max_length, truncation=True,
                    return_tensors="pt").input_ids
    device = next(text_encoder.parameters()).device
    with torch.no_grad():
        return text_encoder(ids.to(device))[0]


def vae_decoder(vae: torch.nn.Module) -> Callable[[Tensor], Tensor]:
    """``z [B, 4, h, w]`` (float32, scaled latents) ``-> [B, 3, 8h, 8w]`` float32 images clipped to ``[-1, 1]``.

    Differentiable in ``z``; without gradients it decodes at most :data:`DECODE_BATCH` latents at a time.
    """
    scaling = float(vae.config.scaling_factor)
    shift = getattr(vae.config, "shift_factor", None) or 0.0
    dtype = next(vae.parameters()).dtype

    def decode(z: Tensor) -> Tensor:
        step = DECODE_BATCH if not torch.is_grad_enabled() else max(1, z.shape[0])
        images = [vae.decode((chunk / scaling + shift).to(dtype)).sample.float()
                  for chunk in z.split(step) if chunk.shape[0]]
        return torch.cat(images).clamp(-1.0, 1.0)

    return decode


def load_sd_prior(settings: SDSettings, device: torch.device | str = "cpu") -> DiffusionPrior:
    """The pipeline's UNet, VAE and schedule as a prior over latents, conditioned on the encoded prompt.

    Returns a :class:`DiffusionPrior` with ``sample_shape = settings.latent_shape``, ``conditioning [1, seq, dim]``
    (the prompt), classifier-free guidance against the negative prompt, and the VAE decoder.
    """
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTokenizer

    from oboptim.priors import prior_from_diffusers

    device = torch.device(device)
    dtype = weights_dtype(device, settings.dtype)
    path = settings.prior_path
    check_pipeline_folder(path)  # it may have moved since the campaign was created
    frozen = lambda model: model.to(device).eval().requires_grad_(False)
    tokenizer = _from_pretrained(CLIPTokenizer, path, "tokenizer")
    text_encoder = frozen(_from_pretrained(CLIPTextModel, path, "text_encoder").to(dtype))
    embeddings = encode_prompts(tokenizer, text_encoder, [settings.prompt, settings.negative_prompt])
    del text_encoder  # the prompt is encoded once; free its memory for the particles
    # diffusers casts at load time (torch_dtype), keeping any module its class marks as float32-only
    unet = frozen(_from_pretrained(UNet2DConditionModel, path, "unet", torch_dtype=dtype))
    vae = frozen(_from_pretrained(AutoencoderKL, path, "vae", torch_dtype=dtype))
    scheduler = _from_pretrained(DDIMScheduler, path, "scheduler")
    guided = settings.guidance_scale != 1.0
    return prior_from_diffusers(
        unet, scheduler, sample_shape=settings.latent_shape, conditioning=embeddings[:1],
        negative_conditioning=embeddings[1:] if guided else None, guidance_scale=settings.guidance_scale,
        decoder=vae_decoder(vae),
    )


# -- oracles ---------------------------------------------------------------------------------------------------------


def rgb_to_uint8(images: np.ndarray) -> np.ndarray:
    """``[B, 3, H, W]`` in ``[-1, 1]`` -> ``[B, H, W, 3]`` uint8 (values outside are clipped)."""
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"expected RGB images [B, 3, H, W]; got shape {images.shape}")
    scaled = np.rint((np.clip(images, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)
    return np.ascontiguousarray(scaled.transpose(0, 2, 3, 1))


def rgb_jpeg_kilobytes(images: np.ndarray, quality: int = JPEG_QUALITY) -> np.ndarray:
    """``[B]`` JPEG file sizes in kB (1 kB = 1000 bytes) of ``[B, 3, H, W]`` images in ``[-1, 1]``."""
    sizes = [jpeg_bytes(image, quality) / BYTES_PER_KILOBYTE for image in rgb_to_uint8(images)]  # [H, W, 3]: RGB
    return np.array(sizes, dtype=np.float64)


def jpeg_compressibility(x: np.ndarray) -> list[float]:
    """The default oracle: negative JPEG size in kB at quality 95, ``[B, 3, H, W] -> B floats``."""
    return [-float(size) for size in rgb_jpeg_kilobytes(x)]


def colorfulness(x: np.ndarray) -> list[float]:
    """Hasler & Suesstrunk (2003) colourfulness of the 8-bit images, ``[B, 3, H, W] -> B floats``:
    ``std(rg, yb) + 0.3 mean(rg, yb)`` (both as root sums of squares), ``rg = R - G``, ``yb = (R + G) / 2 - B``."""
    rgb = rgb_to_uint8(x).astype(np.float64)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    rg, yb = (r - g).reshape(len(rgb), -1), (0.5 * (r + g) - b).reshape(len(rgb), -1)
    spread = np.sqrt(rg.std(1) ** 2 + yb.std(1) ** 2)
    mean = np.sqrt(rg.mean(1) ** 2 + yb.mean(1) ** 2)
    return [float(v) for v in spread + 0.3 * mean]


# -- features --------------------------------------------------------------------------------------------------------


def _gradient_rms(images: Tensor) -> Tensor:
    """``[B, C, H, W] -> [B]`` RMS of horizontal and vertical finite differences."""
    dx = images[..., :, 1:] - images[..., :, :-1]
    dy = images[..., 1:, :] - images[..., :-1, :]
    return (dx.square().flatten(1).mean(-1) + dy.square().flatten(1).mean(-1) + 1e-8).sqrt()


def image_features(x: Tensor) -> Tensor:
    """``[B, 3, H, W]`` images in ``[-1, 1]`` -> ``[B, 15]`` fixed colour, layout and detail statistics.

    Columns: 3 channel means, 3 channel standard deviations, 4 quarter luminance means (top-left, top-right,
    bottom-left, bottom-right), luminance gradient RMS at scales 1, 2, 4, 8 (average-pooled), chroma gradient RMS.
    Pixels are mapped to ``[0, 1]`` first. Differentiable, in ``x``'s dtype and on its device.
    """
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"expected RGB images [B, 3, H, W]; got shape {tuple(x.shape)}")
    rgb = (x + 1) / 2
    weights = torch.tensor(LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    luma = (rgb * weights).sum(1, keepdim=True)
    means = rgb.mean((2, 3))
    stds = (rgb.var((2, 3), unbiased=False) + 1e-8).sqrt()
    quarters = F.adaptive_avg_pool2d(luma, 2).flatten(1)
    smallest = min(x.shape[2], x.shape[3])
    details = []
    for scale in DETAIL_SCALES:
        scale = max(1, min(scale, smallest // 2))
        pooled = luma if scale == 1 else F.avg_pool2d(luma, scale)
        details.append(_gradient_rms(pooled))
    chroma = _gradient_rms(rgb - luma)
    return torch.cat([means, stds, quarters, torch.stack(details, -1), chroma.unsqueeze(-1)], dim=-1)


# -- the task --------------------------------------------------------------------------------------------------------

DEFAULTS = {  # one campaign round on a GPU: 4 candidates x 8 particles x 50 steps, particles 4 at a time
    "batch_size": 4,
    "budget": 32,
    # alpha in standard deviations of the observed values, as for the toy tasks (not tuned on real SD weights)
    "alpha_units": "std",
    "alpha": 0.05,
    "particles": 8,
    "steps": 50,
    "surrogate": "gp",
    "acquisition": "ucb",
    # the manifold check scores 1,024 prior samples once per prior: far too costly for Stable Diffusion
    "manifold_check": 0.0,
    "particle_batch_size": 4,  # a runtime setting: applies when the campaign is not given one
}
NAMED_ORACLES = {
    "jpeg": oracle_without_argument("jpeg", jpeg_compressibility),
    "colorfulness": oracle_without_argument("colorfulness", colorfulness),
}
DESCRIPTION = TASKS.help("sd")  # the one line `oboptim tasks` prints, from the light name table


def _needs_folder(device: torch.device | str = "cpu") -> DiffusionPrior:
    raise ValueError(NEEDS_FOLDER)


def make_task(prior_path: str, prompt: str, guidance_scale: float = DEFAULT_GUIDANCE_SCALE, negative_prompt: str = "",
              height: int | None = None, width: int | None = None, dtype: str = "float16") -> Task:
    """The ``sd`` task on the pipeline in ``prior_path``.

    Args:
        prior_path: folder of a Stable Diffusion 1.x-style diffusers pipeline (absolute, or relative to the
            working directory).
        prompt: the text prompt.
        guidance_scale: classifier-free guidance scale (1 = off).
        negative_prompt: the unconditional branch's text.
        height, width: image size in pixels; default: the UNet's ``sample_size`` times the VAE's scale (512 for
            SD 1.5).
        dtype: weights' dtype on CUDA, ``float16``, ``bfloat16`` or ``float32`` (the CPU always runs float32).

    The folder and options are checked here, without reading weights; weights load when the campaign first needs
    the prior. A bad folder or option raises a one-line ValueError.
    """
    settings = resolve_settings(prior_path, prompt, guidance_scale, negative_prompt, height, width, dtype)
    return dataclasses.replace(TASK, load_prior=lambda device: load_sd_prior(settings, device))


TASK = Task(  # without options, for `oboptim tasks` and for checking an --oracle spec before a folder is known
    name="sd",
    description=DESCRIPTION,
    load_prior=_needs_folder,
    oracle=jpeg_compressibility,
    features=image_features,
    defaults=DEFAULTS,
    named_oracles=NAMED_ORACLES,
)
