"""Conformance tests every ``Surrogate`` (and every ``FeatureMap``) must pass.

Use it by subclassing in a test module and providing the factory hook:

    class TestMySurrogate(SurrogateConformance):
        def make_surrogate(self):
            return MySurrogate()

The checks follow the contract in ``oboptim.surrogates._base``: fitting on tiny, duplicated, constant and
moderately large data; float32 batched posteriors with finite gradients; interpolation of a smooth function;
uncertainty that grows away from the data; reproducible Thompson paths and fits; pending points that shrink the
variance where they are and leave the rest alone; the global RNG left untouched; ``to(device)`` moving every cached
tensor while each keeps its dtype (on a GPU too, where there is one).
"""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import Tensor

from oboptim.surrogates._base import FitReport, Surrogate, SurrogateDataError, SurrogateNotFittedError

GAP = (2.0, 4.2)  # the 1-D test data leave this interval empty, so that pending points there matter


def sin_data(n: int = 30) -> tuple[Tensor, Tensor]:
    """``X [n, 1]`` evenly spread on [0, 2 pi] minus ``GAP``, ``y = sin(X)`` (float64)."""
    grid = torch.linspace(0, 2 * math.pi, 4 * n, dtype=torch.float64)
    grid = grid[(grid < GAP[0]) | (grid > GAP[1])]
    grid = grid[torch.linspace(0, grid.shape[0] - 1, n).round().long()]
    return grid.unsqueeze(-1), torch.sin(grid)


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def cached_tensors(surrogate: Surrogate) -> list[tuple[str, Tensor]]:
    """Every parameter and buffer (persistent or not) of ``surrogate``, by name."""
    return [*surrogate.named_parameters(), *surrogate.named_buffers()]


_FITTED_ON_SIN: dict[type, Surrogate] = {}


class SurrogateConformance:
    """Base class of surrogate conformance tests; subclasses implement ``make_surrogate``."""

    # Largest RMSE of the posterior mean against sin on [0.2, 2 pi - 0.2] after fitting ``sin_data()``.
    interpolation_tolerance: float = 0.1

    def make_surrogate(self) -> Surrogate:
        raise NotImplementedError("subclasses return a fresh, unfitted surrogate")

    def fitted_on_sin(self) -> Surrogate:
        """One surrogate per test class fitted on ``sin_data()``; tests must not modify it."""
        if type(self) not in _FITTED_ON_SIN:
            X, y = sin_data()
            surrogate = self.make_surrogate()
            surrogate.fit(X, y, generator=seeded(0))
            _FITTED_ON_SIN[type(self)] = surrogate
        return _FITTED_ON_SIN[type(self)]

    def fit(self, X: Tensor, y: Tensor, seed: int = 0) -> Surrogate:
        surrogate = self.make_surrogate()
        report = surrogate.fit(X, y, generator=seeded(seed))
        assert isinstance(report, FitReport)
        return surrogate

    def assert_sane_posterior(self, surrogate: Surrogate, X: Tensor) -> None:
        mean, variance = surrogate.posterior(X)
        assert mean.shape == X.shape[:-1] and variance.shape == X.shape[:-1]
        assert mean.dtype == torch.float32 and variance.dtype == torch.float32
        assert torch.isfinite(mean).all() and torch.isfinite(variance).all()
        assert (variance >= 0).all()

    # -- fitting on awkward data ------------------------------------------------------------------------------------

    def test_fit_one_point(self):
        X, y = torch.tensor([[0.3, -1.0]]), torch.tensor([2.0])
        surrogate = self.fit(X, y)
        assert surrogate.num_train == 1
        self.assert_sane_posterior(surrogate, torch.randn(5, 2, generator=seeded(1)))
        mean, _ = surrogate.posterior(X)
        assert abs(float(mean[0]) - 2.0) < 0.5

    def test_fit_two_points(self):
        surrogate = self.fit(torch.tensor([[0.0], [1.0]]), torch.tensor([0.0, 1.0]))
        assert surrogate.num_train == 2
        self.assert_sane_posterior(surrogate, torch.linspace(-1, 2, 9).unsqueeze(-1))

    def test_fit_duplicates(self):
        X = torch.tensor([[0.5, 0.5]] * 4 + [[0.1, 0.9]] * 3 + [[0.7, 0.2]])
        y = torch.tensor([1.0, 1.1, 0.9, 1.0, -1.0, -1.0, -1.0, 0.3])
        surrogate = self.fit(X, y)
        self.assert_sane_posterior(surrogate, X)
        mean, _ = surrogate.posterior(torch.tensor([[0.5, 0.5], [0.1, 0.9]]))
        assert float(mean[0]) > float(mean[1])

    def test_fit_identical_inputs(self):
        X = torch.full((5, 3), 2.0)
        surrogate = self.fit(X, torch.tensor([0.0, 1.0, 2.0, 1.0, 0.5]))
        self.assert_sane_posterior(surrogate, torch.randn(4, 3, generator=seeded(2)))

    def test_fit_constant_targets(self):
        X = torch.rand(12, 2, generator=seeded(3))
        surrogate = self.fit(X, torch.full((12,), 7.0))
        self.assert_sane_posterior(surrogate, X)
        mean, _ = surrogate.posterior(X)
        assert torch.allclose(mean, torch.full_like(mean, 7.0), atol=0.1)

    def test_fit_500_points(self):
        X = torch.rand(500, 3, generator=seeded(4))
        y = (X * torch.tensor([1.0, -2.0, 0.5])).sum(-1) + 0.05 * torch.randn(500, generator=seeded(5))
        surrogate = self.fit(X, y)
        assert surrogate.num_train == 500
        mean, _ = surrogate.posterior(X[:50])
        assert (mean - y[:50]).abs().mean() < 0.2

    def test_report_and_state_are_strict_json(self):
        X, y = sin_data(8)
        surrogate = self.make_surrogate()
        report = surrogate.fit(X, y, generator=seeded(0))
        json.dumps(report.to_dict(), allow_nan=False)
        state = json.loads(json.dumps(surrogate.state(), allow_nan=False))
        assert state["num_train"] == 8 and state["kind"] == surrogate.kind
        assert isinstance(surrogate.hyperparameters, dict) and surrogate.hyperparameters

    def test_rejects_bad_data(self):
        surrogate = self.make_surrogate()
        with pytest.raises(SurrogateNotFittedError):
            surrogate.posterior(torch.zeros(2, 1))
        with pytest.raises(SurrogateDataError):
            surrogate.fit(torch.zeros(3, 1), torch.tensor([0.0, float("nan"), 1.0]), generator=seeded(0))
        with pytest.raises(SurrogateDataError):
            surrogate.fit(torch.zeros(3), torch.zeros(3), generator=seeded(0))
        fitted = self.fitted_on_sin()
        with pytest.raises(SurrogateDataError):
            fitted.posterior(torch.zeros(4, 2))

    # -- posterior --------------------------------------------------------------------------------------------------

    def test_posterior_batch_shapes_and_dtypes(self):
        surrogate = self.fitted_on_sin()
        for X in (torch.rand(7, 1), torch.rand(2, 3, 1), torch.rand(1, 1), torch.rand(4, 1, dtype=torch.float64)):
            self.assert_sane_posterior(surrogate, X)
        batched_mean, _ = surrogate.posterior(torch.linspace(0, 6, 6).reshape(2, 3, 1))
        flat_mean, _ = surrogate.posterior(torch.linspace(0, 6, 6).reshape(6, 1))
        assert torch.allclose(batched_mean.reshape(-1), flat_mean, atol=1e-5)

    def test_posterior_gradients_are_finite(self):
        surrogate = self.fitted_on_sin()
        X_train, _ = sin_data()
        points = torch.cat([X_train[:3], X_train[:3], torch.tensor([[3.0], [100.0], [-1e3]], dtype=torch.float64)])
        X = points.to(torch.float32).requires_grad_(True)
        mean, variance = surrogate.posterior(X)
        (mean + variance.clamp_min(1e-12).sqrt()).sum().backward()
        assert X.grad is not None and torch.isfinite(X.grad).all()
        assert X.grad[:3].abs().sum() > 0

    def test_mean_interpolates_a_smooth_function(self):
        X_test = torch.linspace(0.2, 2 * math.pi - 0.2, 200).unsqueeze(-1)
        mean, _ = self.fitted_on_sin().posterior(X_test)
        rmse = float((mean - torch.sin(X_test[:, 0])).square().mean().sqrt())
        assert rmse < self.interpolation_tolerance

    def test_variance_is_larger_away_from_data(self):
        surrogate = self.fitted_on_sin()
        X_train, _ = sin_data()
        _, variance_at_data = surrogate.posterior(X_train)
        _, variance_far = surrogate.posterior(torch.tensor([[-6.0], [13.0]]))
        assert (variance_far > 10 * variance_at_data.mean()).all()

    # -- Thompson paths ---------------------------------------------------------------------------------------------

    def test_sample_path_is_reproducible_and_varies(self):
        surrogate = self.fitted_on_sin()
        X = torch.linspace(-2, 9, 23).reshape(23, 1)
        first = surrogate.sample_path(seeded(7))(X)
        again = surrogate.sample_path(seeded(7))(X)
        other = surrogate.sample_path(seeded(8))(X)
        assert first.shape == (23,) and first.dtype == torch.float32 and torch.isfinite(first).all()
        assert torch.equal(first, again)
        assert not torch.allclose(first, other)
        assert surrogate.sample_path(seeded(7))(X.reshape(23, 1, 1)).shape == (23, 1)

    def test_sample_path_is_differentiable(self):
        path = self.fitted_on_sin().sample_path(seeded(9))
        X = torch.tensor([[0.5], [3.0], [0.5], [50.0]], requires_grad=True)
        path(X).sum().backward()
        assert torch.isfinite(X.grad).all() and X.grad.abs().sum() > 0

    def test_global_rng_is_untouched(self):
        X, y = sin_data(12)
        before = torch.get_rng_state()
        surrogate = self.fit(X, y)
        surrogate.sample_path(seeded(1))(X)
        surrogate.condition_on_pending(X[:2] + 0.1).posterior(X)
        assert torch.equal(before, torch.get_rng_state())

    def test_fit_is_deterministic(self):
        X, y = sin_data(20)
        X_test = torch.linspace(-1, 7, 17).unsqueeze(-1)
        first, second = self.fit(X, y, seed=3), self.fit(X, y, seed=3)
        mean_first, variance_first = first.posterior(X_test)
        mean_second, variance_second = second.posterior(X_test)
        assert torch.equal(mean_first, mean_second) and torch.equal(variance_first, variance_second)

    # -- pending points ---------------------------------------------------------------------------------------------

    def test_pending_point_shrinks_variance_there_only(self):
        surrogate = self.fitted_on_sin()
        pending = torch.tensor([[sum(GAP) / 2]])
        away = torch.tensor([[0.3], [0.9], [5.5], [6.0]])
        conditioned = surrogate.condition_on_pending(pending)
        _, variance_before = surrogate.posterior(pending)
        _, variance_after = conditioned.posterior(pending)
        assert float(variance_after) < 0.5 * float(variance_before)
        mean_away, variance_away = surrogate.posterior(away)
        mean_away_after, variance_away_after = conditioned.posterior(away)
        assert torch.allclose(mean_away_after, mean_away, atol=1e-3)
        assert torch.allclose(variance_away_after, variance_away, rtol=0.2, atol=1e-6)
        mean_at_pending_before, _ = surrogate.posterior(pending)
        mean_at_pending_after, _ = conditioned.posterior(pending)
        assert torch.allclose(mean_at_pending_after, mean_at_pending_before, atol=1e-3)

    def test_pending_leaves_the_original_alone(self):
        surrogate = self.fitted_on_sin()
        pending = torch.tensor([[3.0], [3.2]])
        _, before = surrogate.posterior(pending)
        conditioned = surrogate.condition_on_pending(pending)
        _, after = surrogate.posterior(pending)
        assert torch.equal(before, after)
        assert conditioned.num_train == surrogate.num_train
        twice = conditioned.condition_on_pending(torch.tensor([[1.0]]))
        self.assert_sane_posterior(twice, torch.rand(5, 1))


    # -- devices --------------------------------------------------------------------------------------------------

    def test_to_keeps_predictions_and_precision(self):
        X, y = sin_data(12)
        surrogate = self.fit(X, y)
        X_test = torch.linspace(-1, 7, 9).unsqueeze(-1)
        before = surrogate.posterior(X_test)
        dtypes = {name: tensor.dtype for name, tensor in cached_tensors(surrogate)}
        moved = surrogate.to("cpu").to(torch.float16).to(torch.float64).float().double()
        assert moved is surrogate and surrogate.device == torch.device("cpu")
        assert {name: tensor.dtype for name, tensor in cached_tensors(surrogate)} == dtypes
        for first, second in zip(before, surrogate.posterior(X_test)):
            assert torch.equal(first, second)
        assert torch.equal(surrogate.posterior(X_test.double())[0], before[0])

    @pytest.mark.cuda
    @pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
    def test_lives_on_the_particles_device(self):
        X, y = sin_data(12)
        surrogate = self.fit(X, y)
        X_test = torch.linspace(-1, 7, 9).unsqueeze(-1)
        mean_cpu, variance_cpu = surrogate.posterior(X_test)
        surrogate.to("cuda")
        assert surrogate.device.type == "cuda"
        assert all(tensor.device.type == "cuda" for _, tensor in cached_tensors(surrogate))
        on_gpu = X_test.cuda().requires_grad_(True)
        mean, variance = surrogate.posterior(on_gpu)
        assert mean.device.type == "cuda" and variance.device.type == "cuda"
        torch.testing.assert_close(mean.cpu(), mean_cpu, rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(variance.cpu(), variance_cpu, rtol=1e-3, atol=1e-5)
        (mean + variance.sqrt()).sum().backward()
        assert on_gpu.grad is not None and torch.isfinite(on_gpu.grad).all()
        assert surrogate.sample_path(seeded(3))(on_gpu).device.type == "cuda"
        conditioned = surrogate.condition_on_pending(X_test[:2].cuda())
        assert conditioned.device.type == "cuda" and conditioned.posterior(on_gpu)[0].device.type == "cuda"
        surrogate.fit(X, y, generator=seeded(0))
        assert surrogate.device.type == "cuda" and surrogate.posterior(on_gpu)[0].device.type == "cuda"


class FeatureMapConformance:
    """Base class of feature-map conformance tests; subclasses implement the two hooks."""

    def make_feature_map(self):
        raise NotImplementedError("subclasses return the feature map under test")

    def make_candidates(self) -> Tensor:
        """A batch ``[B, *domain_shape]`` of candidates with ``B >= 4``."""
        raise NotImplementedError("subclasses return example candidates")

    def test_returns_one_row_per_candidate(self):
        x = self.make_candidates()
        features = self.make_feature_map()(x)
        assert features.dim() == 2 and features.shape[0] == x.shape[0]
        assert torch.isfinite(features).all()

    def test_rows_are_mapped_independently_and_deterministically(self):
        feature_map, x = self.make_feature_map(), self.make_candidates()
        whole = feature_map(x)
        parts = torch.cat([feature_map(x[:2]), feature_map(x[2:])])
        assert torch.allclose(whole, parts, atol=1e-5)
        assert torch.equal(whole, feature_map(x))

    def test_is_differentiable(self):
        x = self.make_candidates().clone().requires_grad_(True)
        self.make_feature_map()(x).square().sum().backward()
        assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
