"""The shipped digit classifier: held-out accuracy, save/load, its log-probability oracle and digit parsing."""

import numpy as np
import pytest
import torch

from oboptim.images import (
    ClassifierFileError,
    DigitClassifier,
    classifier_log_prob_oracle,
    held_out_split,
    load_digit_images,
    shipped_classifier,
)
from oboptim.images._classifier import SHIPPED_CLASSIFIER, check_digit


@pytest.fixture(scope="module")
def held_out():
    images, labels = load_digit_images()
    _, held = held_out_split(len(images))
    return torch.from_numpy(images[held].copy()), torch.from_numpy(labels[held].copy())


def test_bundled_digits_are_16x16_in_range_and_split_disjointly():
    images, labels = load_digit_images()
    assert images.shape == (1797, 1, 16, 16) and images.dtype == np.float32
    assert images.min() >= -1 and images.max() <= 1 and images.min() == -1
    assert sorted(set(labels.tolist())) == list(range(10))
    train, held = held_out_split(len(images))
    assert len(held) == 359 and len(train) + len(held) == 1797
    assert not set(train.tolist()) & set(held.tolist())
    np.testing.assert_array_equal(held, held_out_split(len(images))[1])


def test_shipped_weights_reach_95_percent_on_held_out_digits(held_out):
    images, labels = held_out
    model = shipped_classifier()
    with torch.no_grad():
        accuracy = (model(images).argmax(-1) == labels).float().mean().item()
    assert accuracy >= 0.95
    assert not model.training and not any(p.requires_grad for p in model.parameters())


def test_forward_and_features_shapes_and_gradient():
    model = DigitClassifier.load(SHIPPED_CLASSIFIER)
    x = torch.zeros(3, 1, 16, 16, requires_grad=True)
    assert model(x).shape == (3, 10)
    features = model.features(x)
    assert features.shape == (3, model.feature_dim) == (3, 32)
    model.log_prob(x, 3).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_save_load_round_trip(tmp_path):
    torch.manual_seed(0)
    model = DigitClassifier(channels=(4, 8), feature_dim=6).eval()
    path = tmp_path / "c.safetensors"
    model.save(path, metadata={"note": "round trip"})
    loaded = DigitClassifier.load(path)
    assert loaded.config == model.config and not loaded.training
    x = torch.randn(5, 1, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)
    assert DigitClassifier.read_metadata(path)["note"] == "round trip"


def test_load_errors_say_what_to_do(tmp_path):
    with pytest.raises(ClassifierFileError, match="train_digits_prior.py"):
        DigitClassifier.load(tmp_path / "missing.safetensors")
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ClassifierFileError, match="no DigitClassifier config"):
        DigitClassifier.load(tmp_path / "other.safetensors")


def test_log_prob_oracle_matches_the_classifier_and_ignores_batch_neighbours(held_out):
    images, labels = held_out
    x = images[:6].numpy().astype(np.float64)
    oracle = classifier_log_prob_oracle(3)
    values = oracle(x)
    assert isinstance(values, list) and len(values) == 6 and all(isinstance(v, float) for v in values)
    assert all(v <= 0 for v in values)
    with torch.no_grad():
        expected = torch.log_softmax(shipped_classifier()(images[:6]), -1)[:, 3]
    np.testing.assert_allclose(values, expected.numpy(), rtol=1e-5, atol=1e-5)
    assert oracle(x[::-1].copy()) == values[::-1] and oracle(x[2:3]) == values[2:3]
    # the image as displayed: pixels beyond [-1, 1] score as clipped
    assert oracle(3 * x) == oracle(np.clip(3 * x, -1, 1))


def test_log_prob_oracle_prefers_the_true_digit(held_out):
    images, labels = held_out
    threes = images[labels == 3][:5].numpy()
    sevens = images[labels == 7][:5].numpy()
    oracle = classifier_log_prob_oracle("3")
    assert min(oracle(threes)) > max(oracle(sevens))


@pytest.mark.parametrize("digit, expected", [(0, 0), (9, 9), ("3", 3), (" 7 ", 7), (np.int64(5), 5)])
def test_check_digit_accepts(digit, expected):
    assert check_digit(digit) == expected


@pytest.mark.parametrize("digit", [None, "", "10", "-1", "a", 3.5, 10, -1, True])
def test_check_digit_rejects_with_a_usage_hint(digit):
    with pytest.raises(ValueError, match=r"classifier needs a digit 0-9, e.g. --oracle classifier:3"):
        check_digit(digit)
