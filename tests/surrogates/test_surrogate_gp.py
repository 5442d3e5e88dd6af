"""GPSurrogate: the shared conformance suite plus GP-specific behaviour (closed form, fallbacks, subsampling)."""

import json
import warnings

import pytest
import torch
from botorch.exceptions import ModelFittingError
from linear_operator.utils.errors import NotPSDError

from oboptim.surrogates import GPSurrogate, SurrogateFitWarning
from oboptim.surrogates import _gp_fitting as gp_fitting
from oboptim.testing import SurrogateConformance, seeded, sin_data


class TestGPConformance(SurrogateConformance):
    def make_surrogate(self):
        return GPSurrogate()


def fitted_gp(n=25, dim=2, seed=0, **kwargs):
    X = torch.rand(n, dim, generator=seeded(seed), dtype=torch.float64)
    y = torch.sin(5 * X[:, 0]) + X[:, -1]
    gp = GPSurrogate(**kwargs)
    report = gp.fit(X, y, generator=seeded(seed))
    return gp, X, y, report


def test_closed_form_posterior_matches_botorch():
    gp, _, _, _ = fitted_gp()
    X_test = torch.rand(40, 2, generator=seeded(1), dtype=torch.float64) * 1.4 - 0.2
    mean, variance = gp.posterior(X_test)
    with torch.no_grad():
        reference = gp.model.posterior(X_test.unsqueeze(-2))  # one independent point per batch
    reference_mean = reference.mean.reshape(-1) * gp.y_std + gp.y_mean
    reference_variance = reference.variance.reshape(-1) * gp.y_std ** 2
    assert torch.allclose(mean.double(), reference_mean, atol=1e-4)
    assert torch.allclose(variance.double(), reference_variance, rtol=1e-3, atol=1e-6)


def test_fit_report_has_hyperparameters_and_diagnostics():
    gp, _, _, report = fitted_gp(dim=3)
    assert len(report.hyperparameters["lengthscale"]) == 3
    assert report.hyperparameters["noise"] > 0
    assert report.diagnostics["fallback_used"] is False
    assert report.diagnostics["attempts"] == 1 and report.diagnostics["n_restarts"] == 0
    assert isinstance(report.diagnostics["mll"], float)
    json.dumps(gp.state(), allow_nan=False)


def _failing_fit(failures, error):
    """A stand-in for fit_gpytorch_mll that raises ``error`` on its first ``failures`` calls."""
    calls = []
    real_fit = gp_fitting.fit_gpytorch_mll

    def fit(mll, **kwargs):
        calls.append(1)
        if len(calls) <= failures:
            raise error
        return real_fit(mll, **kwargs)

    return fit, calls


@pytest.mark.parametrize("error", [ModelFittingError("all attempts failed"), NotPSDError("not p.d."),
                                   RuntimeError("loss is NaN")])
def test_failed_fit_is_retried_from_new_initial_values(monkeypatch, error):
    fit, calls = _failing_fit(1, error)
    monkeypatch.setattr(gp_fitting, "fit_gpytorch_mll", fit)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SurrogateFitWarning)
        _, _, _, report = fitted_gp()
    assert len(calls) == 2
    assert report.diagnostics["attempts"] == 2 and report.diagnostics["fallback_used"] is False
    assert type(error).__name__ in report.diagnostics["errors"][0]


def test_persistent_failure_falls_back_with_a_warning(monkeypatch):
    fit, calls = _failing_fit(100, ModelFittingError("all attempts failed"))
    monkeypatch.setattr(gp_fitting, "fit_gpytorch_mll", fit)
    with pytest.warns(SurrogateFitWarning, match="fixed hyperparameters"):
        gp, X, _, report = fitted_gp(n_restarts=2)
    assert len(calls) == 3
    assert report.diagnostics["fallback_used"] is True
    mean, variance = gp.posterior(X)
    assert torch.isfinite(mean).all() and torch.isfinite(variance).all()
    json.dumps(report.to_dict(), allow_nan=False)


def test_restarts_draw_from_the_generator_only(monkeypatch):
    fit, _ = _failing_fit(1, ModelFittingError("fail once"))
    monkeypatch.setattr(gp_fitting, "fit_gpytorch_mll", fit)
    before = torch.get_rng_state()
    first = fitted_gp(seed=4)[0].hyperparameters
    assert torch.equal(before, torch.get_rng_state())
    fit, _ = _failing_fit(1, ModelFittingError("fail once"))
    monkeypatch.setattr(gp_fitting, "fit_gpytorch_mll", fit)
    assert fitted_gp(seed=4)[0].hyperparameters == first


@pytest.mark.parametrize("options", [{"max_exact": 50, "num_inducing": None}, {"max_exact": 5, "max_sparse": 50}])
def test_large_data_are_subsampled_keeping_the_best(options):
    X = torch.rand(80, 2, generator=seeded(2), dtype=torch.float64)
    y = X.sum(-1)
    gp = GPSurrogate(max_fit_points=20, **options)
    report = gp.fit(X, y, generator=seeded(0))
    assert gp.num_train == 50 and report.diagnostics["fit_points"] == 20
    assert report.diagnostics["num_observations"] == 80
    assert float(gp.train_y.max()) == float(y.max())


def test_constant_feature_gets_padded_bounds():
    X = torch.stack([torch.linspace(0, 1, 10), torch.full((10,), 3.0)], dim=-1)
    gp = GPSurrogate()
    gp.fit(X, X[:, 0] ** 2, generator=seeded(0))
    lower, upper = gp.hyperparameters["input_lower"], gp.hyperparameters["input_upper"]
    assert upper[1] - lower[1] == pytest.approx(1.0)
    mean, _ = gp.posterior(torch.tensor([[0.5, 3.0], [0.5, 2.0]]))
    assert torch.isfinite(mean).all()


def test_kriging_believer_keeps_the_mean_everywhere():
    gp, _, _, _ = fitted_gp()
    pending = torch.rand(5, 2, generator=seeded(3), dtype=torch.float64)
    conditioned = gp.condition_on_pending(pending)
    X_test = torch.rand(50, 2, generator=seeded(4), dtype=torch.float64) * 2 - 0.5
    mean_before, variance_before = gp.posterior(X_test)
    mean_after, variance_after = conditioned.posterior(X_test)
    assert torch.allclose(mean_after, mean_before, atol=1e-4)
    assert (variance_after <= variance_before + 1e-6).all()
    assert conditioned.num_pending == 5 and conditioned.hyperparameters == gp.hyperparameters


def test_sample_paths_match_posterior_moments():
    X, y = sin_data(15)
    gp = GPSurrogate()
    gp.fit(X, y, generator=seeded(0))
    X_test = torch.tensor([[1.0], [3.0], [7.5]])
    generator = seeded(11)
    draws = torch.stack([gp.sample_path(generator)(X_test) for _ in range(60)])
    mean, variance = gp.posterior(X_test)
    assert torch.allclose(draws.mean(0), mean, atol=4 * float(variance.max().sqrt()) / 60 ** 0.5 + 1e-3)
    ratio = draws.var(0) / variance  # chi-square with 59 degrees of freedom / 59: within [0.5, 1.6] w.p. > 0.999
    assert ((ratio > 0.5) & (ratio < 1.6)).all(), ratio
