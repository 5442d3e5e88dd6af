"""Small modules saved as safetensors, with their constructor config in the file's metadata (never pickle)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from oboptim.errors import OboptimError


def save_with_config(module: torch.nn.Module, path: str | Path, config: dict[str, Any], config_key: str,
                     metadata: dict[str, str] | None = None) -> None:
    """Write ``module``'s weights to ``path`` with ``config`` (JSON under ``config_key``) and extra string metadata."""
    tensors = {name: p.detach().cpu().contiguous() for name, p in module.state_dict().items()}
    save_file(tensors, str(path), metadata={**(metadata or {}), config_key: json.dumps(config, sort_keys=True)})


def load_with_config(path: str | Path, config_key: str, *, missing: OboptimError,
                     no_config: OboptimError) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The ``(config, state_dict)`` saved by :func:`save_with_config`; raises ``missing`` or ``no_config``."""
    path = Path(path)
    if not path.is_file():
        raise missing
    with safe_open(str(path), framework="pt", device="cpu") as handle:
        metadata = handle.metadata() or {}
        if config_key not in metadata:
            raise no_config
        state = {name: handle.get_tensor(name) for name in handle.keys()}
    return json.loads(metadata[config_key]), state


def read_metadata(path: str | Path) -> dict[str, str]:
    """The string metadata stored next to the weights (training provenance, config)."""
    with safe_open(str(path), framework="pt", device="cpu") as handle:
        return dict(handle.metadata() or {})
