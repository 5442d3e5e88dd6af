"""A tiny, randomly initialised Stable Diffusion 1.x pipeline folder, written in code (nothing is downloaded).

The layout is that of ``runwayml/stable-diffusion-v1-5`` on disk: ``model_index.json`` naming the pipeline's
classes, ``unet/``, ``vae/``, ``text_encoder/`` saved with ``save_pretrained``, a ``scheduler/`` holding SD 1.5's
PNDM configuration, and a classic ``tokenizer/`` of ``vocab.json`` + ``merges.txt``; the safety checker and feature
extractor it names are absent, as after a download without them. The sizes are SD's shapes shrunk: 4 latent
channels, a VAE with 4 blocks (8x downsampling, as SD), 8x8 latents, 64x64 RGB images, 77-token prompts, and a CLIP
text encoder whose hidden size matches the UNet's ``cross_attention_dim``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

TINY_LATENT = (4, 8, 8)
TINY_IMAGE = (3, 64, 64)
MODEL_INDEX = {  # runwayml/stable-diffusion-v1-5's model_index.json
    "_class_name": "StableDiffusionPipeline",
    "_diffusers_version": "0.6.0",
    "feature_extractor": ["transformers", "CLIPImageProcessor"],
    "safety_checker": ["stable_diffusion", "StableDiffusionSafetyChecker"],
    "scheduler": ["diffusers", "PNDMScheduler"],
    "text_encoder": ["transformers", "CLIPTextModel"],
    "tokenizer": ["transformers", "CLIPTokenizer"],
    "unet": ["diffusers", "UNet2DConditionModel"],
    "vae": ["diffusers", "AutoencoderKL"],
}
SCHEDULER_CONFIG = {  # runwayml/stable-diffusion-v1-5's scheduler/scheduler_config.json
    "_class_name": "PNDMScheduler",
    "_diffusers_version": "0.6.0",
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "num_train_timesteps": 1000,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "trained_betas": None,
    "clip_sample": False,
}
SPECIAL_TOKENS = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>",
                  "unk_token": "<|endoftext|>"}
MERGES = ["a t</w>", "c a", "ca t</w>", "o g</w>", "d og</w>", "r e", "re d</w>"]


def _bytes_to_unicode() -> list[str]:
    """The 256 printable stand-ins for bytes that byte-level BPE (GPT-2, CLIP) uses, in byte order."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    extra = iter(range(256, 512))
    return [chr(b) if b in printable else chr(next(extra)) for b in range(256)]


def write_tokenizer(folder: Path) -> int:
    """A CLIP BPE tokenizer with every byte, its word-final form, a few merges and the special tokens; returns the
    vocabulary size."""
    folder.mkdir(parents=True)
    chars = _bytes_to_unicode()
    tokens = chars + [c + "</w>" for c in chars] + [m.replace(" ", "") for m in MERGES]
    tokens += [SPECIAL_TOKENS["bos_token"], SPECIAL_TOKENS["eos_token"]]
    vocab = {token: index for index, token in enumerate(dict.fromkeys(tokens))}
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(MERGES) + "\n")
    (folder / "special_tokens_map.json").write_text(json.dumps(SPECIAL_TOKENS))
    (folder / "tokenizer_config.json").write_text(json.dumps(
        {"model_max_length": 77, "tokenizer_class": "CLIPTokenizer", "do_lower_case": True, **SPECIAL_TOKENS}))
    return len(vocab)


def write_tiny_sd_pipeline(root: Path, *, seed: int = 0) -> Path:
    """Write the tiny pipeline folder under ``root`` and return it."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    root.mkdir(parents=True, exist_ok=True)
    vocab_size = write_tokenizer(root / "tokenizer")
    torch.manual_seed(seed)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2, projection_dim=32,
        vocab_size=vocab_size, max_position_embeddings=77, bos_token_id=vocab_size - 2, eos_token_id=vocab_size - 1,
        pad_token_id=vocab_size - 1,
    ))
    unet = UNet2DConditionModel(
        sample_size=TINY_LATENT[1], in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(16, 32),
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=32, attention_head_dim=8, norm_num_groups=8,
    )
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, layers_per_block=1, norm_num_groups=8,
        block_out_channels=(8, 8, 16, 16), down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4, sample_size=TINY_IMAGE[1],
    )
    text_encoder.save_pretrained(root / "text_encoder")
    unet.save_pretrained(root / "unet")
    vae.save_pretrained(root / "vae")
    (root / "scheduler").mkdir()
    (root / "scheduler" / "scheduler_config.json").write_text(json.dumps(SCHEDULER_CONFIG, indent=2))
    (root / "model_index.json").write_text(json.dumps(MODEL_INDEX, indent=2))
    return root


@pytest.fixture(scope="session")
def tiny_sd_path(tmp_path_factory) -> Path:
    """The folder of a tiny random Stable Diffusion 1.x pipeline (built once per test session)."""
    return write_tiny_sd_pipeline(tmp_path_factory.mktemp("tiny_sd") / "pipeline")
