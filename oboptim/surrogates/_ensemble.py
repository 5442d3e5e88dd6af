"""Bootstrap ensemble of small MLPs: a surrogate for many observations or many features.

Each of ``K`` heads is an MLP trained (AdamW, full batch or minibatches) on its own bootstrap resample of the
standardized data. Their spread is the epistemic uncertainty: heads agree where data are dense and disagree away
from them. The posterior is the mean and the (unbiased) variance over heads; ``heads(X)`` gives all of them, for the
optimistic "maximum over heads" acquisition of SEIKO-style online fine-tuning (docs/algorithm.md).

The heads are one stack of ``[K, fan_in, fan_out]`` weight tensors, so training and prediction are batched matrix
products, not a loop over heads. Inputs and values are standardized with the training data's mean and spread.

Example:
    >>> X = torch.rand(200, 2); y = X.sum(-1)
    >>> ensemble = EnsembleSurrogate(steps=200)
    >>> report = ensemble.fit(X, y, generator=torch.Generator().manual_seed(0))
    >>> ensemble.heads(torch.rand(5, 2)).shape
    torch.Size([8, 5])
"""

from __future__ import annotations

import copy
import math
import time

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from oboptim._registry import SURROGATES
from oboptim.surrogates._base import FitReport, SamplePath, Surrogate, validate_training_data


class HeadStack(nn.Module):
    """``K`` independent MLPs ``[K, m, F] -> [K, m]`` (SiLU activations, so gradients in the inputs are smooth)."""

    def __init__(self, num_heads: int, num_features: int, hidden: int, num_layers: int,
                 generator: torch.Generator) -> None:
        super().__init__()
        widths = [num_features] + [hidden] * num_layers + [1]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in zip(widths[:-1], widths[1:]):
            bound = 1.0 / math.sqrt(fan_in)  # PyTorch's nn.Linear default range
            self.weights.append(nn.Parameter(_uniform((num_heads, fan_in, fan_out), bound, generator)))
            self.biases.append(nn.Parameter(_uniform((num_heads, 1, fan_out), bound, generator)))

    def forward(self, inputs: Tensor) -> Tensor:
        """``inputs [K, m, F]`` (or ``[m, F]``, shared by all heads) -> ``[K, m]``."""
        hidden = inputs
        last = len(self.weights) - 1
        for layer, (weight, bias) in enumerate(zip(self.weights, self.biases)):
            hidden = torch.matmul(hidden, weight) + bias
            if layer < last:
                hidden = F.silu(hidden)
        return hidden.squeeze(-1)


@SURROGATES.implements("ensemble")
class EnsembleSurrogate(Surrogate):
    """``K`` bootstrap MLP heads; posterior = mean and variance over heads.

    Args:
        num_heads: ``K`` (at least 2).
        hidden, num_layers: width and number of hidden layers of each head.
        steps: AdamW steps; each uses every bootstrap row, or ``batch_size`` of them when there are more.
        learning_rate, weight_decay: AdamW settings (weight decay keeps heads tame far from data).
        pending_radius: length (in standardized input units) over which a pending point suppresses the spread of
            the heads; None uses the median nearest-neighbour distance of the training inputs (at least
            ``0.05 * sqrt(F)``). See ``condition_on_pending``.
    """

    kind = "ensemble"

    def __init__(self, *, num_heads: int = 8, hidden: int = 64, num_layers: int = 2, steps: int = 500,
                 learning_rate: float = 1e-2, weight_decay: float = 1e-4, batch_size: int = 256,
                 pending_radius: float | None = None) -> None:
        super().__init__()
        if num_heads < 2:
            raise ValueError("an ensemble needs num_heads >= 2 to estimate a variance")
        self.num_heads, self.hidden, self.num_layers = num_heads, hidden, num_layers
        self.steps, self.learning_rate, self.weight_decay = steps, learning_rate, weight_decay
        self.batch_size, self.pending_radius = batch_size, pending_radius
        self.stack: HeadStack | None = None
        self.register_buffer("pending_X", torch.zeros(0, 0), persistent=False)  # [p, F] standardized pending inputs
        self.register_buffer("x_mean", None, persistent=False)  # [F]
        self.register_buffer("x_std", None, persistent=False)  # [F]
        self.radius = 1.0

    # -- fitting --------------------------------------------------------------------------------------------------

    def fit(self, X: Tensor, y: Tensor, *, generator: torch.Generator) -> FitReport:
        """Train the heads on ``X [n, F]``, ``y [n]``; init, bootstrap and minibatches all come from ``generator``.

        Training runs on the CPU; the trained surrogate is then moved to ``self.device``.
        """
        validate_training_data(X, y)
        started = time.perf_counter()
        device = self.device
        self.to("cpu")
        X32, y32 = X.detach().to(torch.float32).cpu(), y.detach().to(torch.float32).cpu()
        self._set_scaling(X32, y32)
        inputs, targets = self._standardize_inputs(X32), (y32 - self.y_mean) / self.y_std
        n = X32.shape[0]
        self.stack = HeadStack(self.num_heads, X32.shape[1], self.hidden, self.num_layers, generator)
        bootstrap = _randint(n, (self.num_heads, n), generator)
        final_loss = self._train(inputs, targets, bootstrap, generator)
        self.radius = self.pending_radius or _default_radius(inputs)
        self.pending_X = torch.zeros(0, X32.shape[1])
        self._remember_training_data(X, y)
        self.to(device)
        diagnostics = {"final_loss": final_loss, "steps": self.steps, "seconds": time.perf_counter() - started,
                       "fallback_used": False, "num_train": n}
        self._last_report = FitReport(self.hyperparameters, diagnostics)
        return self._last_report

    def _train(self, inputs: Tensor, targets: Tensor, bootstrap: Tensor, generator: torch.Generator) -> float:
        """AdamW on the summed per-head mean squared errors; returns the last loss per head (standardized)."""
        optimizer = torch.optim.AdamW(self.stack.parameters(), lr=self.learning_rate,
                                      weight_decay=self.weight_decay)
        rows = bootstrap
        loss = torch.tensor(float("nan"))
        with torch.enable_grad():
            for _ in range(self.steps):
                if bootstrap.shape[1] > self.batch_size:
                    columns = _randint(bootstrap.shape[1], (self.num_heads, self.batch_size), generator)
                    rows = bootstrap.gather(1, columns)
                predictions = self.stack(inputs[rows])  # [K, m]
                loss = (predictions - targets[rows]).square().mean(dim=-1).sum()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
        self.stack.requires_grad_(False)
        return float(loss.detach()) / self.num_heads

    def _set_scaling(self, X: Tensor, y: Tensor) -> None:
        self.x_mean = X.mean(dim=0)
        spread = X.std(dim=0, correction=0)
        self.x_std = torch.where(spread > 1e-9 * (1 + self.x_mean.abs()), spread, torch.ones_like(spread))
        self.y_mean = float(y.mean())
        y_spread = float(y.std(correction=0)) if y.shape[0] > 1 else 0.0
        self.y_std = y_spread if y_spread > 1e-9 * (1 + abs(self.y_mean)) else 1.0

    def _standardize_inputs(self, X: Tensor) -> Tensor:
        """``X [..., F]`` on the surrogate's device, float32."""
        return (X - self.x_mean) / self.x_std

    # -- prediction -----------------------------------------------------------------------------------------------

    def heads(self, X: Tensor) -> Tensor:
        """Every head's prediction ``[K, ...]`` (float32, units of ``y``) at ``X [..., F]``, differentiable."""
        self.check_fitted()
        self.check_features(X)
        flat = self._standardize_inputs(X.reshape(-1, X.shape[-1]).to(self.device, torch.float32))
        raw = self.stack(flat)  # [K, N]
        if self.pending_X.shape[0] > 0:
            center = raw.mean(dim=0, keepdim=True)
            raw = center + self._pending_shrinkage(flat).sqrt() * (raw - center)
        return (raw * self.y_std + self.y_mean).reshape(self.num_heads, *X.shape[:-1]).to(X.device)

    def posterior(self, X: Tensor) -> tuple[Tensor, Tensor]:
        """Mean and unbiased variance over heads, ``[...]`` each, at ``X [..., F]``."""
        predictions = self.heads(X)
        return predictions.mean(dim=0), predictions.var(dim=0, correction=1)

    def sample_path(self, generator: torch.Generator) -> SamplePath:
        """``mean + sum_k w_k (head_k - mean)`` with ``w ~ N(0, I / (K - 1))`` drawn once from ``generator``.

        This is a Gaussian function with the ensemble's mean and its empirical covariance between any inputs (the
        ensemble-Kalman construction); unlike picking one random head it differs for every draw.
        """
        self.check_fitted()
        weights = torch.randn(self.num_heads, generator=generator, device=generator.device).to(self.device)
        weights = weights / math.sqrt(self.num_heads - 1)

        def ensemble_sample_path(X: Tensor) -> Tensor:
            predictions = self.heads(X)
            center = predictions.mean(dim=0)
            deviations = (predictions - center).movedim(0, -1)  # [..., K]
            return center + deviations @ weights.to(predictions)

        return ensemble_sample_path

    # -- pending points -------------------------------------------------------------------------------------------

    def condition_on_pending(self, X_pending: Tensor) -> EnsembleSurrogate:
        """Local penalty: shrink the heads toward their mean near ``X_pending [p, F]``; the mean is unchanged.

        Retraining every head with fantasy values would take a full fit per pending batch. Instead the spread of
        the heads at ``x`` is multiplied by ``sqrt(prod_p (1 - exp(-|x - x_p|^2 / (2 r^2))))`` (standardized inputs,
        radius ``r``): the variance, the heads' optimism and Thompson paths collapse at a pending point and are
        untouched far from it, as with a GP kriging believer.
        """
        self.check_fitted()
        self.check_features(X_pending)
        pending = X_pending.detach().reshape(-1, self.num_features).to(self.device, torch.float32)
        pending = self._standardize_inputs(pending)
        clone = copy.copy(self)  # shares the trained heads; own registries so refitting self leaves clone alone
        clone._parameters, clone._buffers = dict(self._parameters), dict(self._buffers)
        clone._modules = dict(self._modules)
        clone.pending_X = torch.cat([self.pending_X, pending])
        return clone

    def _pending_shrinkage(self, flat: Tensor) -> Tensor:
        """``[N]`` factor in [0, 1] by which the head variance is multiplied near pending points."""
        squared = torch.cdist(flat, self.pending_X.to(flat)).square()  # [N, p]
        return (1 - torch.exp(-squared / (2 * self.radius ** 2))).prod(dim=-1)

    @property
    def num_pending(self) -> int:
        return int(self.pending_X.shape[0])

    @property
    def hyperparameters(self) -> dict:
        return {"num_heads": self.num_heads, "hidden": self.hidden, "num_layers": self.num_layers,
                "steps": self.steps, "learning_rate": self.learning_rate, "weight_decay": self.weight_decay,
                "batch_size": self.batch_size, "pending_radius": self.radius,
                "y_mean": self.y_mean if self.is_fitted else None, "y_std": self.y_std if self.is_fitted else None}


def _uniform(shape: tuple[int, ...], bound: float, generator: torch.Generator) -> Tensor:
    return (torch.rand(shape, generator=generator, device=generator.device).cpu() * 2 - 1) * bound


def _randint(high: int, shape: tuple[int, ...], generator: torch.Generator) -> Tensor:
    return torch.randint(high, shape, generator=generator, device=generator.device).cpu()


def _default_radius(inputs: Tensor) -> float:
    """Median nearest-neighbour distance of standardized ``inputs [n, F]``, at least ``0.05 * sqrt(F)``."""
    floor = 0.05 * math.sqrt(inputs.shape[1])
    if inputs.shape[0] < 2:
        return floor
    sample = inputs[:2000]  # enough for a median, and keeps the [n, n] distance matrix small
    distances = torch.cdist(sample, sample)
    distances.fill_diagonal_(float("inf"))
    return max(float(distances.min(dim=1).values.median()), floor)
