"""The ``digits`` task: shipped prior, oracles, classifier features, and SMC on the prior with a classifier reward."""

import numpy as np
import pytest
import torch

from oboptim import CampaignSettings, Task, load_task
from oboptim.images import image_statistics, load_digit_images, shipped_classifier
from oboptim.oracles import OracleContext, OracleSpecError, resolve_oracle
from oboptim.priors import DiffusionPrior
from oboptim.sampling import SMCSampler
from oboptim.tasks import digits
from oboptim.testing import FeatureMapConformance

SHAPE = (1, 16, 16)


@pytest.fixture(scope="module")
def task() -> Task:
    return load_task("digits")


@pytest.fixture(scope="module")
def prior(task) -> DiffusionPrior:
    return task.load_prior("cpu")


def test_task_loads_by_name_with_defaults(task):
    assert task is digits.TASK and task.name == "digits"
    assert task.defaults["batch_size"] == 8 and task.defaults["budget"] == 64
    # cost only: every sampler setting but the particles and steps is the library's (bench/defaults_research.md)
    assert set(task.defaults) == {"batch_size", "budget", "particles", "steps"}
    assert set(task.named_oracles) == {"jpeg", "classifier", "margin"}


def test_prior_eps_shape_frozen_weights_and_input_gradients(prior):
    assert prior.sample_shape == SHAPE and prior.num_train_timesteps == 1000
    model = digits.load_unet()
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    x = torch.randn(3, *SHAPE, requires_grad=True)
    eps = prior.predict_eps(x, torch.full((3,), 500), prior.alphas_cumprod[500].expand(3))
    assert eps.shape == (3, *SHAPE) and torch.isfinite(eps).all()
    eps.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_decoder_clips_to_the_image_range(prior):
    x = torch.linspace(-3, 3, 256).reshape(1, *SHAPE)
    decoded = prior.decode(x)
    assert decoded.min() == -1 and decoded.max() == 1
    torch.testing.assert_close(decoded, x.clamp(-1, 1))


def test_smc_with_classifier_reward_runs_on_the_prior(prior):
    classifier = shipped_classifier()
    sampler = SMCSampler(prior, lambda x: classifier.log_prob(x, 3), num_particles=4, num_steps=5, alpha=0.3)
    result = sampler.sample(num_groups=2, generator=torch.Generator().manual_seed(0))
    assert result.particles.shape == (2, 4, *SHAPE)
    assert torch.isfinite(result.particles).all()
    assert result.log_weights.shape == (2, 4) and torch.isfinite(result.log_z).all()
    probs = result.log_weights.exp().sum(-1)
    torch.testing.assert_close(probs, torch.ones(2))


class TestDigitsFeatures(FeatureMapConformance):
    def make_feature_map(self):
        return digits.features

    def make_candidates(self):
        return torch.from_numpy(digits.sample_data(6, np.random.default_rng(0)))


def test_features_shape_dtype_and_gradient(task):
    x = torch.from_numpy(task.sample_data(4, np.random.default_rng(1))).double().requires_grad_(True)
    features = task.features(x)
    assert features.shape == (4, 35) and features.dtype == torch.float64
    features.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_features_are_the_classifier_embedding_then_ink_statistics(task):
    x = torch.from_numpy(task.sample_data(3, np.random.default_rng(2)))
    with torch.no_grad():
        features = task.features(x)
        torch.testing.assert_close(features[:, :32], shipped_classifier().features(x))
        torch.testing.assert_close(features[:, 32:], image_statistics(x))


def test_sample_data_draws_real_digits_reproducibly(task):
    a = task.sample_data(10, np.random.default_rng(3))
    assert a.shape == (10, *SHAPE) and a.dtype == np.float32
    np.testing.assert_array_equal(a, task.sample_data(10, np.random.default_rng(3)))
    images, _ = load_digit_images()
    assert all((np.abs(images - row).reshape(len(images), -1).max(1) == 0).any() for row in a)


def test_default_oracle_is_the_log_probability_of_a_three(task):
    images, labels = load_digit_images()
    x = np.concatenate([images[labels == 3][:3], images[labels == 8][:3]])
    values = task.oracle(x)
    assert values == task.oracle(x) and len(values) == 6
    assert min(values[:3]) > max(values[3:]) and max(values) <= 0


def test_named_oracles_resolve_from_the_cli_spelling(task):
    images, labels = load_digit_images()
    x = images[labels == 5][:2]
    classifier5 = resolve_oracle("classifier:5", OracleContext(task=task))
    outcomes = classifier5.evaluate([1, 2], x)
    assert all(o.error is None and o.value > -1.0 for o in outcomes)
    jpeg = resolve_oracle("jpeg", OracleContext(task=task))
    assert all(o.error is None and o.value < 0 for o in jpeg.evaluate([1, 2], x))


@pytest.mark.parametrize("spec", ["classifier", "classifier:", "classifier:12", "classifier:x"])
def test_classifier_oracle_needs_a_digit(task, spec):
    with pytest.raises(OracleSpecError, match=r"classifier needs a digit 0-9, e.g. --oracle classifier:3"):
        resolve_oracle(spec, OracleContext(task=task))
    name, _, argument = spec.partition(":")
    with pytest.raises(ValueError, match="classifier needs a digit 0-9"):
        task.named_oracles[name](argument or None)


def test_jpeg_oracle_takes_no_argument(task):
    with pytest.raises(ValueError, match="jpeg takes no argument"):
        task.named_oracles["jpeg"]("3")


def test_no_oracle_needs_its_own_alpha(task):
    """alpha is in standard deviations of the observed values by default: JPEG kB and log-probabilities alike."""
    assert digits.ORACLE_DEFAULTS == {}
    for name in ("jpeg", "classifier", "margin"):
        settings = CampaignSettings.resolve(task.defaults_for(name), {})
        assert (settings.alpha_units, settings.alpha) == ("std", CampaignSettings().alpha), name


def test_margin_oracle_is_the_logit_gap(task):
    from oboptim.images import logit_margin

    logits = torch.tensor([[1.0, 3.0, 0.5], [2.0, -1.0, 2.5]])
    assert logit_margin(logits, 1).tolist() == [2.0, -3.5]
    oracle = task.named_oracles["margin"]("3")
    images = np.array(load_digit_images()[0][:2])
    values = oracle(images)
    classifier = shipped_classifier("cpu")
    with torch.no_grad():
        expected = logit_margin(classifier(torch.as_tensor(images)), 3)
    assert len(values) == 2 and np.allclose(values, expected.numpy(), atol=1e-5)
