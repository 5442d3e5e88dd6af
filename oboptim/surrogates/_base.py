"""The surrogate protocol: a probabilistic model of the black-box score on candidate features.

Each round the campaign fits a surrogate to the features ``X [n, F]`` of every scored candidate and their values
``y [n]``, and turns its posterior into an acquisition that the SMC sampler uses as its reward (docs/algorithm.md,
"The online loop"). The sampler backpropagates through the acquisition to the candidates, so everything a surrogate
returns must be differentiable in ``X``. It works in float32 and may evaluate ~100k particles per step, so
implementations keep their own precision internally and cache whatever does not depend on ``X``.

Contract (checked by ``oboptim.testing._surrogate_suite.SurrogateConformance``):

- ``fit(X, y, generator=g)`` returns a ``FitReport``; the same data and generator state give the same fit.
- ``posterior(X [..., F])`` returns ``(mean [...], variance [...])`` of the latent score in the units of ``y``,
  as float32, differentiable in ``X``.
- ``sample_path(g)`` returns one posterior sample function (Thompson sampling), fixed once drawn.
- ``condition_on_pending(X_pending)`` returns a new surrogate that knows candidates were asked but not yet told,
  so that a batch does not pile onto one spot.
- ``noise_variance()`` is the observation noise the model assumes (0 for a model without a noise term).
- ``to(device)`` moves every cached tensor, so that the posterior runs where the particles are; a dtype given to
  ``to`` is ignored (each surrogate keeps its own precision). ``posterior`` and sample paths accept inputs on any
  device and answer on the inputs' device; inputs already on the surrogate's device are never copied.

A new kind is a subclass bound with ``@SURROGATES.implements(name)`` (declared in ``oboptim/_registry.py``), or
registered at run time with ``SURROGATES.register(name, cls, help=...)``; it is built with no arguments.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from oboptim.errors import OboptimError

SamplePath = Callable[[Tensor], Tensor]


class SurrogateDataError(OboptimError):
    """Training data a surrogate cannot use (wrong shape, non-finite values, nothing to fit)."""


class SurrogateNotFittedError(OboptimError):
    """A surrogate was asked for predictions before ``fit`` was called."""


class SurrogateFitWarning(UserWarning):
    """Hyperparameter fitting failed and the surrogate fell back to fixed hyperparameters."""


def to_json_safe(value: Any) -> Any:
    """Plain-Python, strict-JSON copy of ``value``: tensors become lists, non-finite floats become strings."""
    if isinstance(value, Tensor):
        value = value.detach().cpu().tolist()
    if isinstance(value, dict):
        return {str(key): to_json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_safe(item) for item in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if hasattr(value, "item"):  # numpy scalars
        return to_json_safe(value.item())
    return str(value)


@dataclass(frozen=True)
class FitReport:
    """What a fit chose and how it went; JSON-serializable as stored in surrogate snapshots.

    Attributes:
        hyperparameters: the fitted values (plain floats and lists).
        diagnostics: e.g. ``mll``, ``attempts``, ``fallback_used``, ``seconds``.
    """

    hyperparameters: dict = field(default_factory=dict)
    diagnostics: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "hyperparameters", to_json_safe(dict(self.hyperparameters)))
        object.__setattr__(self, "diagnostics", to_json_safe(dict(self.diagnostics)))

    def to_dict(self) -> dict:
        return {"hyperparameters": dict(self.hyperparameters), "diagnostics": dict(self.diagnostics)}


def validate_training_data(X: Tensor, y: Tensor) -> None:
    """Raise ``SurrogateDataError`` unless ``X [n, F]`` and ``y [n]`` are finite, matching and non-empty."""
    if X.dim() != 2:
        raise SurrogateDataError(f"surrogate inputs must be [n, F] features; got shape {tuple(X.shape)}: "
                                 "apply the task's feature map first")
    if y.dim() != 1 or y.shape[0] != X.shape[0]:
        raise SurrogateDataError(f"surrogate targets must be [n] with n={X.shape[0]}; got shape {tuple(y.shape)}")
    if X.shape[0] == 0:
        raise SurrogateDataError("cannot fit a surrogate on zero observations: score some candidates first")
    if not torch.isfinite(X).all() or not torch.isfinite(y).all():
        raise SurrogateDataError("surrogate training data contains NaN or inf: leave failed trials out of the fit")


class Surrogate(nn.Module, ABC):
    """A probabilistic model of the score on features ``[..., F]``; see the module docstring for the contract.

    Subclasses set ``kind`` (a short name stored in snapshots) and implement the abstract methods. Training data
    are kept as ``train_X [n, F]`` and ``train_y [n]`` (float64, after any subsampling the surrogate does).
    """

    kind: str = "surrogate"

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("_train_X", None, persistent=False)
        self.register_buffer("_train_y", None, persistent=False)
        # An empty tensor that moves with the module: where a surrogate lives, even before it is fitted.
        self.register_buffer("_device_anchor", torch.empty(0), persistent=False)
        self._last_report: FitReport | None = None

    # -- abstract interface ---------------------------------------------------------------------------------------

    @abstractmethod
    def fit(self, X: Tensor, y: Tensor, *, generator: torch.Generator) -> FitReport:
        """Fit to features ``X [n, F]`` and values ``y [n]``; randomness only from ``generator``."""

    @abstractmethod
    def posterior(self, X: Tensor) -> tuple[Tensor, Tensor]:
        """Latent mean and variance at ``X [..., F]``: two float32 tensors ``[...]``, differentiable in ``X``."""

    @abstractmethod
    def sample_path(self, generator: torch.Generator) -> SamplePath:
        """One posterior sample function ``[..., F] -> [...]`` (float32, differentiable), fixed by ``generator``."""

    @abstractmethod
    def condition_on_pending(self, X_pending: Tensor) -> Surrogate:
        """A new surrogate that accounts for pending candidates ``X_pending [p, F]``; ``self`` is unchanged."""

    @property
    @abstractmethod
    def hyperparameters(self) -> dict:
        """The fitted hyperparameters as plain floats and lists."""

    # -- devices --------------------------------------------------------------------------------------------------

    @property
    def device(self) -> torch.device:
        """Where the cached tensors live (set by ``to(device)``; a fit keeps it)."""
        return self._device_anchor.device

    def _apply(self, fn: Callable[[Tensor], Tensor], recurse: bool = True) -> Surrogate:
        """What ``to``, ``cuda``, ``cpu``, ``float`` ... run on every tensor: only its device changes.

        ``fn`` is tried on an empty tensor to learn where it sends one, so a dtype cast never touches (or rounds) the
        surrogate's own values: ``surrogate.to(particles)`` moves a float64 GP to the particles' device as it is.
        """

        def move(tensor: Tensor) -> Tensor:
            return tensor.to(fn(torch.empty(0, dtype=tensor.dtype, device=tensor.device)).device)

        return super()._apply(move, recurse)

    # -- shared helpers -------------------------------------------------------------------------------------------

    def noise_variance(self) -> float:
        """Variance of an observation around the latent score (units of ``y`` squared), as far as the model knows.

        Calibration compares observed values with ``variance + noise_variance()``. The default, 0, is for models
        without a noise term (the ensemble's spread is all epistemic).
        """
        return 0.0

    @property
    def is_fitted(self) -> bool:
        return self._train_X is not None

    @property
    def num_train(self) -> int:
        """Number of observations the posterior conditions on (0 before ``fit``)."""
        return 0 if self._train_X is None else int(self._train_X.shape[0])

    @property
    def num_features(self) -> int:
        self.check_fitted()
        return int(self._train_X.shape[-1])

    @property
    def train_X(self) -> Tensor:
        """``[n, F]`` float64 training features."""
        self.check_fitted()
        return self._train_X

    @property
    def train_y(self) -> Tensor:
        """``[n]`` float64 training values (used e.g. as the incumbent for log-EI)."""
        self.check_fitted()
        return self._train_y

    @property
    def last_fit(self) -> FitReport | None:
        return self._last_report

    def state(self) -> dict:
        """JSON-safe snapshot: kind, training size, hyperparameters and the last fit's diagnostics."""
        diagnostics = {} if self._last_report is None else self._last_report.diagnostics
        return to_json_safe({"kind": self.kind, "num_train": self.num_train,
                             "hyperparameters": self.hyperparameters if self.is_fitted else {},
                             "diagnostics": diagnostics})

    def check_fitted(self) -> None:
        if self._train_X is None:
            raise SurrogateNotFittedError(f"the {self.kind} surrogate has not been fitted: call fit(X, y) first")

    def check_features(self, X: Tensor) -> None:
        """Raise ``SurrogateDataError`` unless ``X`` has the trained feature width in its last dimension."""
        if X.dim() == 0 or X.shape[-1] != self.num_features:
            raise SurrogateDataError(f"expected features [..., {self.num_features}], got shape {tuple(X.shape)}: "
                                     "use the same feature map as for fitting")

    def _remember_training_data(self, X: Tensor, y: Tensor) -> None:
        self._train_X = X.detach().to(self.device, torch.float64).clone()
        self._train_y = y.detach().to(self.device, torch.float64).clone()
