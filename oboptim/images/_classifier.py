"""A small frozen CNN that recognises the 16x16 digits; its log-probabilities and features drive the ``digits`` task.

Architecture (``x [B, 1, 16, 16]`` in ``[-1, 1]``)::

    conv 3x3 (1 -> c1), SiLU, 2x2 average pool      -> [B, c1, 8, 8]
    conv 3x3 (c1 -> c2), SiLU, 2x2 average pool     -> [B, c2, 4, 4]
    linear (16 c2 -> F), SiLU                       -> features [B, F]
    linear (F -> 10)                                -> logits [B, 10]

SiLU and average pooling (rather than ReLU and max pooling) keep the map smooth, so its gradients are useful to a
guided sampler and its features to a Gaussian process. Weights are saved with safetensors and the constructor
arguments travel in the file's metadata as JSON, so :meth:`DigitClassifier.load` rebuilds the network alone.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

import oboptim.data
from oboptim._weights_file import load_with_config, read_metadata, save_with_config
from oboptim.errors import OboptimError

NUM_CLASSES = 10
SHIPPED_CLASSIFIER = Path(oboptim.data.__file__).parent / "digits_classifier.safetensors"
_CONFIG_KEY = "oboptim_digit_classifier_config"


class ClassifierFileError(OboptimError):
    """A weight file that is missing or is not a saved :class:`DigitClassifier`."""


class DigitClassifier(nn.Module):
    """Logits over the ten digits for 16x16 single-channel images in ``[-1, 1]``.

    Args:
        channels: output channels of the two convolutions ``(c1, c2)``.
        feature_dim: width ``F`` of the penultimate layer returned by :meth:`features`.
        image_size: side of the square input (divisible by 4).

    Example:
        >>> model = DigitClassifier()
        >>> model(torch.zeros(3, 1, 16, 16)).shape, model.features(torch.zeros(3, 1, 16, 16)).shape
        (torch.Size([3, 10]), torch.Size([3, 32]))
    """

    def __init__(self, channels: tuple[int, int] = (16, 32), feature_dim: int = 32, image_size: int = 16) -> None:
        super().__init__()
        if image_size % 4:
            raise ValueError(f"image_size must be divisible by 4, got {image_size}")
        c1, c2 = (int(c) for c in channels)
        self.config: dict[str, Any] = {"channels": [c1, c2], "feature_dim": int(feature_dim),
                                       "image_size": int(image_size)}
        self.body = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1), nn.SiLU(), nn.AvgPool2d(2),
            nn.Conv2d(c1, c2, 3, padding=1), nn.SiLU(), nn.AvgPool2d(2),
            nn.Flatten(),
            nn.Linear(c2 * (image_size // 4) ** 2, feature_dim), nn.SiLU(),
        )
        self.head = nn.Linear(feature_dim, NUM_CLASSES)

    @property
    def feature_dim(self) -> int:
        return self.config["feature_dim"]

    def features(self, x: Tensor) -> Tensor:
        """Penultimate activations: ``[B, 1, S, S] -> [B, F]`` (float32)."""
        return self.body(x.float())

    def forward(self, x: Tensor) -> Tensor:
        """Logits: ``[B, 1, S, S] -> [B, 10]`` (float32)."""
        return self.head(self.features(x))

    def log_prob(self, x: Tensor, digit: int) -> Tensor:
        """``log p(digit | x)``: ``[B, 1, S, S] -> [B]``, differentiable in ``x``."""
        return torch.log_softmax(self(x), dim=-1)[:, digit]

    def save(self, path: str | Path, metadata: dict[str, str] | None = None) -> None:
        """Write the weights to ``path`` (safetensors), with the config (and any extra string ``metadata``)."""
        save_with_config(self, path, self.config, _CONFIG_KEY, metadata)

    @classmethod
    def load(cls, path: str | Path, device: torch.device | str | None = None) -> DigitClassifier:
        """Rebuild a saved model from ``path`` onto ``device`` (CPU by default)."""
        missing = ClassifierFileError(f"no classifier weights at {path}: run scripts/train_digits_prior.py")
        no_config = ClassifierFileError(f"{path} holds no DigitClassifier config; save it with DigitClassifier.save")
        config, state = load_with_config(path, _CONFIG_KEY, missing=missing, no_config=no_config)
        model = cls(**config)
        model.load_state_dict(state)
        return model.to(device or "cpu").eval()

    read_metadata = staticmethod(read_metadata)


@lru_cache(maxsize=4)
def shipped_classifier(device: str = "cpu") -> DigitClassifier:
    """The shipped, frozen classifier (``data/digits_classifier.safetensors``) on ``device``, loaded once."""
    return DigitClassifier.load(SHIPPED_CLASSIFIER, device=device).requires_grad_(False)


def check_digit(digit: Any) -> int:
    """``digit`` (an int, or a string such as ``"3"``) as an int in 0..9, or a ValueError that says how to pass one."""
    text = str(digit).strip() if isinstance(digit, (str, int, np.integer)) and not isinstance(digit, bool) else ""
    if len(text) != 1 or not text.isdigit():
        raise ValueError(f"classifier needs a digit 0-9, e.g. --oracle classifier:3 (got {digit!r})")
    return int(text)


def classifier_log_prob_oracle(digit: int) -> Callable[[np.ndarray], list[float]]:
    """The oracle ``x [B, 1, 16, 16] numpy -> B floats``: ``log p(digit | x)`` under the shipped classifier.

    Candidates are clipped to ``[-1, 1]`` (the image as displayed) and scored one at a time in float32 on the CPU,
    so a candidate's value never depends on the rest of its batch.
    """
    digit = check_digit(digit)
    return _per_image_oracle(lambda classifier, image: classifier.log_prob(image, digit),
                             f"classifier_log_prob_{digit}")


def classifier_margin_oracle(digit: int) -> Callable[[np.ndarray], list[float]]:
    """The oracle ``x [B, 1, 16, 16] numpy -> B floats``: the logit margin of ``digit`` over the best other digit.

    Unlike ``log p(digit | x)``, which saturates at 0 (the best of 128 prior samples is within 3e-5 of it), the
    margin keeps growing as a digit gets more typical, so optimisers that differ stay apart. Scored like
    :func:`classifier_log_prob_oracle`: clipped to ``[-1, 1]``, one candidate at a time.
    """
    digit = check_digit(digit)
    return _per_image_oracle(lambda classifier, image: logit_margin(classifier(image), digit)[0],
                             f"classifier_margin_{digit}")


def _per_image_oracle(score: Callable[[Any, Tensor], Tensor], name: str) -> Callable[[np.ndarray], list[float]]:
    """The oracle ``x [B, 1, 16, 16] (or [B, 16, 16]) numpy -> B floats`` that clips each candidate to ``[-1, 1]``
    and scores it alone, ``score(classifier, image [1, 1, 16, 16]) -> []``, in float32 on the CPU (so a candidate's
    value never depends on the rest of its batch)."""

    def oracle(x: np.ndarray) -> list[float]:
        images = torch.as_tensor(np.clip(np.asarray(x, dtype=np.float32), -1.0, 1.0))
        if images.ndim == 3:
            images = images[:, None]
        classifier = shipped_classifier("cpu")
        with torch.no_grad():
            return [float(score(classifier, image[None])) for image in images]

    oracle.__name__ = name
    return oracle


def logit_margin(logits: Tensor, digit: int) -> Tensor:
    """``logits [B, 10] -> [B]``: ``logit_digit - max_{j != digit} logit_j``."""
    others = torch.cat([logits[:, :digit], logits[:, digit + 1:]], dim=1)
    return logits[:, digit] - others.max(dim=1).values
