import pytest
import torch

from oboptim import OboptimError
from oboptim.priors import MLPDenoiser, toy_noise_schedule
from oboptim.priors._mlp import sinusoidal_embedding


def _small_model(**kwargs):
    torch.manual_seed(0)
    return MLPDenoiser(dim=3, hidden=32, depth=2, embedding_dim=16, **kwargs)


def test_output_shape_and_dtype():
    model = _small_model()
    out = model(torch.randn(7, 3), torch.randint(0, 1000, (7,)))
    assert out.shape == (7, 3) and out.dtype == torch.float32


def test_scalar_timestep_broadcasts():
    model = _small_model()
    x = torch.randn(4, 3)
    assert torch.allclose(model(x, torch.tensor(5)), model(x, torch.full((4,), 5)))


def test_output_depends_on_timestep():
    model = _small_model()
    x = torch.randn(4, 3)
    assert not torch.allclose(model(x, torch.full((4,), 10)), model(x, torch.full((4,), 900)))


def test_gradients_flow_to_input_with_frozen_weights():
    model = _small_model().requires_grad_(False)
    x = torch.randn(5, 3, requires_grad=True)
    model(x, torch.full((5,), 100)).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_save_load_round_trip(tmp_path):
    model = _small_model(beta_schedule="squaredcos_cap_v2")
    path = tmp_path / "m.safetensors"
    model.save(path, metadata={"note": "hello"})
    loaded = MLPDenoiser.load(path)
    assert loaded.config == model.config
    x, t = torch.randn(6, 3), torch.randint(0, 1000, (6,))
    assert torch.equal(loaded(x, t), model(x, t))
    assert MLPDenoiser.read_metadata(path)["note"] == "hello"
    assert loaded.noise_schedule().config.beta_schedule == "squaredcos_cap_v2"


def test_load_missing_file_says_how_to_fix(tmp_path):
    with pytest.raises(OboptimError, match="train_toy_priors"):
        MLPDenoiser.load(tmp_path / "missing.safetensors")


def test_toy_noise_schedule_is_linear_ddpm():
    scheduler = toy_noise_schedule()
    assert scheduler.config.num_train_timesteps == 1000
    assert torch.isclose(scheduler.betas[0], torch.tensor(1e-4))
    assert torch.isclose(scheduler.betas[-1], torch.tensor(0.02))
    assert not scheduler.config.clip_sample


def test_unknown_beta_schedule_is_an_error():
    with pytest.raises(OboptimError, match="beta_schedule"):
        toy_noise_schedule("sigmoid-ish")


def test_sinusoidal_embedding_shape_and_range():
    emb = sinusoidal_embedding(torch.tensor([0, 1, 999]), 9)
    assert emb.shape == (3, 9)
    assert emb.abs().max() <= 1.0
    assert torch.allclose(emb[0, :4], torch.ones(4))  # cos(0) = 1
