"""Acquisitions as sampler rewards: names, values against closed forms, finite gradients everywhere."""

import pytest
import torch

from oboptim import OboptimError
from oboptim.acquisition import ACQUISITIONS, AcquisitionError, ignores_pending, make_acquisition, reads_pending
from oboptim.surrogates import EnsembleSurrogate, GPSurrogate, IdentityFeatures
from oboptim.testing import FeatureMapConformance, seeded

FEATURES = IdentityFeatures()


def training_data():
    X = torch.rand(16, 2, generator=seeded(0), dtype=torch.float64)
    return X, torch.sin(4 * X[:, 0]) - X[:, 1] ** 2


@pytest.fixture(scope="module")
def gp():
    surrogate = GPSurrogate()
    surrogate.fit(*training_data(), generator=seeded(1))
    return surrogate


@pytest.fixture(scope="module")
def ensemble():
    surrogate = EnsembleSurrogate(steps=150, hidden=32, num_heads=4)
    surrogate.fit(*training_data(), generator=seeded(1))
    return surrogate


def hard_candidates():
    """Training points, their duplicates, a gap, and points far outside the data: [9, 2] float32."""
    X, _ = training_data()
    far = torch.tensor([[30.0, -30.0], [1e3, 1e3], [-0.5, 0.5]], dtype=torch.float64)
    return torch.cat([X[:3], X[:3], far]).to(torch.float32)


def names_for(surrogate):
    return [name for name in ACQUISITIONS if name != "maxhead" or isinstance(surrogate, EnsembleSurrogate)]


def make(name, surrogate, **kwargs):
    return make_acquisition(name, surrogate, features=FEATURES, generator=seeded(3), **kwargs)


@pytest.mark.parametrize("which", ["gp", "ensemble"])
def test_values_and_gradients_are_finite_float32(which, request):
    surrogate = request.getfixturevalue(which)
    for name in names_for(surrogate):
        x = hard_candidates().requires_grad_(True)
        values = make(name, surrogate)(x)
        assert values.shape == (9,) and values.dtype == torch.float32, name
        assert torch.isfinite(values).all(), name
        values.sum().backward()
        assert torch.isfinite(x.grad).all(), name
        assert x.grad[:3].abs().sum() > 0, name


def test_candidates_are_flattened_and_cast(gp):
    x = torch.rand(5, 1, 2, generator=seeded(4), dtype=torch.float64)
    values = make("ucb", gp)(x)
    assert values.dtype == torch.float32
    assert torch.allclose(values, make("ucb", gp)(x.reshape(5, 2).float()))


def test_ucb_is_mean_plus_beta_std(gp):
    x = hard_candidates()
    mean, variance = gp.posterior(x)
    assert torch.allclose(make("ucb", gp, beta=3.0)(x), mean + 3.0 * variance.sqrt(), atol=1e-5)
    assert torch.allclose(make("ucb", gp, beta=0.0)(x), make("mean", gp)(x))


def test_logei_matches_the_closed_form(gp):
    x = torch.rand(200, 2, generator=seeded(5)) * 1.6 - 0.3
    mean, variance = (t.double() for t in gp.posterior(x))
    best_f = float(mean.median())
    std = variance.sqrt()
    u = (mean - best_f) / std
    moderate = u.abs() < 4  # where the naive formula is still accurate
    assert moderate.sum() > 20
    normal = torch.distributions.Normal(0.0, 1.0)
    expected = torch.log(std * (normal.log_prob(u).exp() + u * normal.cdf(u)))
    values = make("logei", gp, best_f=best_f)(x).double()
    assert torch.allclose(values[moderate], expected[moderate], atol=1e-3)


def test_logei_defaults_to_best_observation_and_decreases_with_best_f(gp):
    x = torch.rand(10, 2, generator=seeded(6))
    default = make("logei", gp)(x)
    assert torch.equal(default, make("logei", gp, best_f=float(gp.train_y.max()))(x))
    assert (make("logei", gp, best_f=float(gp.train_y.max()) + 1.0)(x) < default).all()


def test_logei_stays_finite_where_improvement_is_hopeless(gp):
    x = torch.tensor([[0.5, 0.5], [40.0, 40.0]], requires_grad=True)
    values = make("logei", gp, best_f=float(gp.train_y.max()) + 50.0)(x)
    assert torch.isfinite(values).all() and (values < -20).all()
    values.sum().backward()
    assert torch.isfinite(x.grad).all()


def test_thompson_is_fixed_at_construction(gp):
    x = hard_candidates()
    first = make_acquisition("thompson", gp, features=FEATURES, generator=seeded(9))
    assert torch.equal(first(x), first(x))
    assert torch.equal(first(x), make_acquisition("thompson", gp, features=FEATURES, generator=seeded(9))(x))
    with pytest.raises(AcquisitionError, match="generator"):
        make_acquisition("thompson", gp, features=FEATURES)


def test_maxhead_is_the_largest_head(ensemble, gp):
    x = hard_candidates()
    assert torch.allclose(make("maxhead", ensemble)(x), ensemble.heads(x).max(0).values)
    with pytest.raises(AcquisitionError, match="ensemble"):
        make("maxhead", gp)


def test_unknown_name_lists_the_choices(gp):
    with pytest.raises(AcquisitionError) as raised:
        make("pi", gp)
    assert all(name in str(raised.value) for name in ACQUISITIONS)
    assert isinstance(raised.value, ValueError) and isinstance(raised.value, OboptimError)


def test_acquisitions_work_on_pending_conditioned_surrogates(gp, ensemble):
    pending = torch.tensor([[0.4, 0.6]])
    for surrogate in (gp, ensemble):
        conditioned = surrogate.condition_on_pending(pending)
        assert make("ucb", conditioned)(pending) < make("ucb", surrogate)(pending)
        assert torch.isfinite(make("logei", conditioned)(pending)).all()


def test_the_kinds_marked_as_ignoring_pending_points_do(gp, ensemble):
    """The sequential selection skips re-scoring for these: conditioning on pending points must change nothing."""
    assert [name for name in ACQUISITIONS.names() if not reads_pending(name)] == ["mean", "thompson"]
    pending = torch.tensor([[0.4, 0.6]])
    x = torch.cat([pending + 0.05, torch.rand(6, 2, generator=seeded(4))])
    for surrogate in (gp, ensemble):
        conditioned = surrogate.condition_on_pending(pending)
        torch.testing.assert_close(make("mean", conditioned)(x), make("mean", surrogate)(x))
    # the ensemble's heads shrink toward their mean near a pending point: maxhead reads them (and is re-scored)
    assert make("maxhead", ensemble.condition_on_pending(pending))(x)[0] < make("maxhead", ensemble)(x)[0]


def test_a_registered_kind_reads_pending_points_unless_marked():
    builder = lambda surrogate, options: (lambda features: surrogate.posterior(features)[0])  # noqa: E731
    ACQUISITIONS.register("aware", builder, help="a test")
    ACQUISITIONS.register("blind", ignores_pending(lambda surrogate, options: builder(surrogate, options)),
                          help="a test")
    try:
        assert reads_pending("aware") and not reads_pending("blind")
    finally:
        ACQUISITIONS.unregister("aware")
        ACQUISITIONS.unregister("blind")


def test_a_wrong_feature_map_is_reported(gp):
    acquisition = make_acquisition("mean", gp, features=lambda x: x.sum(-1))
    with pytest.raises(ValueError, match="must return"):
        acquisition(torch.rand(4, 2))


def test_names_are_exported():
    assert ACQUISITIONS.names() == ("ucb", "mean", "thompson", "logei", "maxhead")


def test_a_new_kind_is_one_registered_function(gp):
    @ACQUISITIONS.register("lcb", help="mean - beta * std (pessimism)")
    def lower_confidence_bound(surrogate, options):
        def score(features):
            mean, variance = surrogate.posterior(features)
            return mean - options.beta * variance.clamp_min(1e-30).sqrt()

        return score

    try:
        x = torch.rand(5, 2)
        lcb = make_acquisition("lcb", gp, features=FEATURES, beta=1.5)(x)
        ucb = make_acquisition("ucb", gp, features=FEATURES, beta=1.5)(x)
        mean = make_acquisition("mean", gp, features=FEATURES)(x)
        torch.testing.assert_close(lcb + ucb, 2 * mean)
    finally:
        ACQUISITIONS.unregister("lcb")


class TestIdentityFeatures(FeatureMapConformance):
    def make_feature_map(self):
        return IdentityFeatures()

    def make_candidates(self):
        return torch.randn(6, 2, 3, generator=seeded(0))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("move_surrogate", [False, True])
@pytest.mark.parametrize("kind", [GPSurrogate, EnsembleSurrogate])
def test_cuda_candidates_and_generators(kind, move_surrogate):
    surrogate = kind()
    surrogate.fit(*training_data(), generator=torch.Generator(device="cuda").manual_seed(0))
    if move_surrogate:
        surrogate = surrogate.to("cuda")
    surrogate = surrogate.condition_on_pending(torch.tensor([[0.3, 0.3]], device="cuda"))
    for name in names_for(surrogate):
        x = hard_candidates().cuda().requires_grad_(True)
        acquisition = make_acquisition(name, surrogate, features=FEATURES,
                                       generator=torch.Generator(device="cuda").manual_seed(1))
        values = acquisition(x)
        assert values.device.type == "cuda" and values.dtype == torch.float32, name
        values.sum().backward()
        assert torch.isfinite(values).all() and torch.isfinite(x.grad).all(), name
