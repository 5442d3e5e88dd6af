"""GPSurrogate beyond ``max_exact`` observations: the sparse (inducing-point) posterior and its switch."""

import pytest
import torch

from oboptim.surrogates import GPSurrogate
from oboptim.surrogates._gp_posterior import greedy_inducing_indices
from oboptim.testing import SurrogateConformance, seeded, sin_data


class TestSparseGPConformance(SurrogateConformance):
    """Every check of the suite on the sparse posterior (anything above 4 observations)."""

    def make_surrogate(self):
        return GPSurrogate(max_exact=4, num_inducing=16)


def wavy_data(n, dim=2, seed=0):
    X = torch.rand(n, dim, generator=seeded(seed), dtype=torch.float64)
    y = torch.sin(6 * X[:, 0]) + X[:, -1] + 0.05 * torch.randn(n, generator=seeded(seed + 1), dtype=torch.float64)
    return X, y


def fit_pair(n, num_inducing, **kwargs):
    """An exact and a sparse GP fitted on the same data with the same generator (so the same hyperparameters)."""
    X, y = wavy_data(n)
    exact, sparse = GPSurrogate(max_exact=n, **kwargs), GPSurrogate(max_exact=n - 1, num_inducing=num_inducing,
                                                                   **kwargs)
    exact.fit(X, y, generator=seeded(0))
    report = sparse.fit(X, y, generator=seeded(0))
    return exact, sparse, report, X, y


def test_switches_at_max_exact():
    X, y = wavy_data(30)
    assert not GPSurrogate(max_exact=30).fit(X, y, generator=seeded(0)).diagnostics["num_inducing"]
    gp = GPSurrogate(max_exact=29, num_inducing=8)
    report = gp.fit(X, y, generator=seeded(0))
    assert gp.is_sparse and report.diagnostics["posterior"] == "sparse"
    assert report.diagnostics["num_inducing"] == 8 and gp.num_train == 30


def test_small_histories_get_the_default_exact_gp():
    X, y = wavy_data(128)
    gp = GPSurrogate()
    report = gp.fit(X, y, generator=seeded(0))
    assert not gp.is_sparse and report.diagnostics["posterior"] == "exact" and gp.num_train == 128


def test_enough_inducing_points_give_the_exact_posterior():
    exact, sparse, report, _, _ = fit_pair(150, num_inducing=150)
    assert exact.hyperparameters == sparse.hyperparameters
    X_test = torch.rand(60, 2, generator=seeded(3), dtype=torch.float64) * 1.4 - 0.2
    mean_exact, variance_exact = exact.posterior(X_test)
    mean_sparse, variance_sparse = sparse.posterior(X_test)
    assert report.diagnostics["num_inducing"] < 150  # the greedy choice stops once the data are explained
    assert torch.allclose(mean_sparse, mean_exact, atol=5e-3)
    assert torch.allclose(variance_sparse, variance_exact, rtol=5e-2, atol=1e-5)


def test_few_inducing_points_stay_calibrated():
    exact, sparse, report, X, _ = fit_pair(300, num_inducing=15)
    assert report.diagnostics["num_inducing"] == 15
    X_test, y_test = wavy_data(200, seed=7)
    mean, variance = sparse.posterior(X_test)
    z = (y_test.float() - mean) / (variance + sparse.noise_variance()).sqrt()
    assert float((z.abs() < 2).float().mean()) > 0.85
    assert float((mean - exact.posterior(X_test)[0]).abs().max()) < 0.02


def test_the_best_observation_is_the_first_inducing_input():
    _, sparse, _, X, y = fit_pair(100, num_inducing=10)
    assert torch.equal(sparse.inducing_X[0], X[int(torch.argmax(y))])


def test_greedy_selection_stops_when_the_data_are_explained():
    X = torch.cat([torch.zeros(20, 1), torch.ones(20, 1)]).double()
    gp = GPSurrogate()
    gp.fit(X, X[:, 0], generator=seeded(0))
    kernel = gp.model.covar_module
    rows = greedy_inducing_indices(kernel, X, num_inducing=10, first=3)
    assert rows.tolist()[0] == 3 and len(rows) == 2 and float(X[rows[1], 0]) == 1.0


def test_sparse_sample_paths_match_posterior_moments():
    X, y = sin_data(40)
    gp = GPSurrogate(max_exact=10, num_inducing=12)
    gp.fit(X, y, generator=seeded(0))
    X_test = torch.tensor([[1.0], [3.0], [7.5]])
    generator = seeded(11)
    draws = torch.stack([gp.sample_path(generator)(X_test) for _ in range(40)])
    mean, variance = gp.posterior(X_test)
    assert torch.allclose(draws.mean(0), mean, atol=4 * float(variance.max().sqrt()) / 40 ** 0.5 + 1e-3)
    ratio = draws.var(0) / variance  # chi-square with 39 degrees of freedom / 39: in [0.45, 1.9] w.p. > 0.998
    assert ((ratio > 0.45) & (ratio < 1.9)).all(), ratio


def test_pending_points_become_inducing_inputs():
    _, sparse, _, _, _ = fit_pair(200, num_inducing=20)
    pending = torch.tensor([[1.3, 0.72], [-0.2, 0.1]], dtype=torch.float64)  # outside the data
    conditioned = sparse.condition_on_pending(pending)
    assert conditioned.is_sparse and conditioned.inducing_X.shape[0] == 22 and conditioned.num_train == 200
    _, before = sparse.posterior(pending)
    _, after = conditioned.posterior(pending)
    assert (after < 0.5 * before).all()


@pytest.mark.parametrize("num_inducing", [None, 8])
def test_clone_keeps_the_settings(num_inducing):
    X, y = wavy_data(30)
    gp = GPSurrogate(max_exact=20, num_inducing=num_inducing, max_sparse=25)
    gp.fit(X, y, generator=seeded(0))
    clone = gp.condition_on_pending(X[:1])
    assert (clone.max_exact, clone.num_inducing, clone.max_sparse) == (20, num_inducing, 25)
