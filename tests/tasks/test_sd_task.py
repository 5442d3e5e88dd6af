"""The ``sd`` task on a tiny random Stable Diffusion 1.x pipeline folder (``conftest.tiny_sd_path``), on the CPU.

The folder is checked against diffusers' own ``StableDiffusionPipeline`` (it loads it, and our prompt embeddings,
guided noise prediction and decoder agree with the pipeline's); then the SMC sampler, one campaign round on a SQLite
file and ``oboptim run sd`` run through the task's prior.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from oboptim import Campaign, TaskNotFoundError, load_task
from oboptim.cli import main as cli
from oboptim.oracles import OracleContext, resolve_oracle
from oboptim.sampling import SMCSampler
from oboptim.tasks import sd
from oboptim.testing import FeatureMapConformance

LATENT = (4, 8, 8)
IMAGE = (3, 64, 64)
PROMPT = "a red cat"


@pytest.fixture(scope="module")
def task(tiny_sd_path):
    return sd.make_task(str(tiny_sd_path), PROMPT, guidance_scale=7.5, negative_prompt="dog")


@pytest.fixture(scope="module")
def prior(task):
    return task.load_prior(torch.device("cpu"))


def edge_energy(x: torch.Tensor) -> torch.Tensor:
    """A differentiable reward on decoded images: the finest-scale luminance gradient feature."""
    return sd.image_features(x)[:, 10]


# -- the task without a folder, and bad folders or options -----------------------------------------------------------


def test_task_without_options_lists_but_needs_a_folder_to_sample():
    task = load_task("sd")
    assert task is sd.TASK and task.name == "sd" and "\n" not in task.description
    assert set(task.named_oracles) == {"jpeg", "colorfulness"}
    assert task.defaults["batch_size"] == 4 and 4 <= task.defaults["particles"] <= 16
    with pytest.raises(ValueError) as info:
        task.load_prior(torch.device("cpu"))
    assert str(info.value) == "task sd needs --prior-path DIR holding a Stable Diffusion 1.x diffusers pipeline"


def test_missing_folder_is_a_one_line_error(tmp_path):
    with pytest.raises(sd.PipelineFolderError, match=r"does not exist; it must hold unet/, vae/") as info:
        sd.make_task(str(tmp_path / "nowhere"), PROMPT)
    assert "\n" not in str(info.value) and isinstance(info.value, ValueError)
    with pytest.raises(TaskNotFoundError, match=r"^task 'sd': --prior-path .*nowhere' does not exist"):
        load_task("sd", {"prior_path": str(tmp_path / "nowhere"), "prompt": PROMPT})


def test_a_folder_that_is_not_a_pipeline_names_what_is_missing(tmp_path, tiny_sd_path):
    (tmp_path / "unet").mkdir()
    (tmp_path / "unet" / "config.json").write_text((tiny_sd_path / "unet" / "config.json").read_text())
    with pytest.raises(sd.PipelineFolderError,
                       match=r"is not a Stable Diffusion pipeline folder: no saved vae/, text_encoder/, tokenizer/, "
                             r"scheduler/"):
        sd.make_task(str(tmp_path), PROMPT)
    (tmp_path / "file").write_text("x")
    with pytest.raises(sd.PipelineFolderError, match="is not a folder"):
        sd.make_task(str(tmp_path / "file"), PROMPT)


def test_unloadable_weights_fail_with_one_line_at_load(tmp_path, tiny_sd_path):
    import shutil

    copy = tmp_path / "pipeline"
    shutil.copytree(tiny_sd_path, copy)
    (copy / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(b"not weights")
    task = sd.make_task(str(copy), PROMPT)  # the folder looks right: weights are read when the prior loads
    with pytest.raises(sd.PipelineFolderError, match=r"^cannot load unet/ of .* as UNet2DConditionModel: ") as info:
        task.load_prior(torch.device("cpu"))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("options", "message"), [
    ({"height": 60}, r"height must be a positive multiple of 16 pixels"),
    ({"width": 0}, r"width must be a positive multiple of 16 pixels"),
    ({"guidance_scale": -1.0}, r"guidance_scale must be a number >= 0"),
    ({"guidance_scale": float("nan")}, r"guidance_scale must be a number >= 0"),
    ({"dtype": "int8"}, r"dtype must be one of float16, bfloat16, float32"),
])
def test_bad_options_are_one_line_value_errors(tiny_sd_path, options, message):
    with pytest.raises(ValueError, match=message):
        sd.make_task(str(tiny_sd_path), PROMPT, **options)


def test_a_mismatched_text_encoder_is_refused(tmp_path, tiny_sd_path):
    import shutil

    copy = tmp_path / "pipeline"
    shutil.copytree(tiny_sd_path, copy)
    config = json.loads((copy / "text_encoder" / "config.json").read_text())
    (copy / "text_encoder" / "config.json").write_text(json.dumps({**config, "hidden_size": 48}))
    with pytest.raises(sd.PipelineFolderError,
                       match="cross_attention_dim 32 does not match text_encoder/ hidden_size 48"):
        sd.make_task(str(copy), PROMPT)


# -- the prior agrees with diffusers' StableDiffusionPipeline on the same folder -------------------------------------


def test_prior_shapes_schedule_and_frozen_weights(task, prior):
    assert prior.sample_shape == LATENT
    assert prior.conditioning.shape == (1, 77, 32) and prior.conditioning.dtype == torch.float32
    assert prior.prediction_type == "epsilon"
    # SD 1.5's PNDM config read as DDIM: "leading" spacing with steps_offset 1, final abar = abar_0 (no alpha one)
    grid = prior.time_grid(5)
    assert grid.timesteps.tolist() == [801, 601, 401, 201, 1]
    assert grid.abar_prev[-1].item() == pytest.approx(prior.alphas_cumprod[0].item())
    images = prior.decode(torch.randn(2, *LATENT, generator=torch.Generator().manual_seed(0)))
    assert images.shape == (2, *IMAGE) and images.dtype == torch.float32
    assert images.min() >= -1 and images.max() <= 1
    latents = torch.randn(6, *LATENT, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():  # without gradients the VAE sees at most DECODE_BATCH latents at a time
        chunked = prior.decode(latents)
    torch.testing.assert_close(chunked, prior.decode(latents), atol=1e-5, rtol=1e-4)


def test_folder_loads_as_a_diffusers_pipeline_and_the_prior_matches_it(tiny_sd_path, prior):
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(str(tiny_sd_path), safety_checker=None, feature_extractor=None,
                                                   requires_safety_checker=False)
    cond, uncond = pipe.encode_prompt(PROMPT, "cpu", 1, True, negative_prompt="dog")
    torch.testing.assert_close(prior.conditioning, cond)

    x = torch.randn(3, *LATENT, generator=torch.Generator().manual_seed(1))
    t = torch.full((3,), 601)
    with torch.no_grad():
        eps_u = pipe.unet(x, t, encoder_hidden_states=uncond.expand(3, -1, -1)).sample
        eps_c = pipe.unet(x, t, encoder_hidden_states=cond.expand(3, -1, -1)).sample
        ours = prior.predict_eps(x, t, prior.alphas_cumprod[t], prior.conditioning.expand(3, -1, -1))
        decoded = pipe.vae.decode(x / pipe.vae.config.scaling_factor).sample.clamp(-1, 1)
        ours_decoded = prior.decode(x)
    torch.testing.assert_close(ours, eps_u + 7.5 * (eps_c - eps_u), atol=1e-5, rtol=1e-4)
    assert not torch.allclose(eps_u, eps_c, atol=1e-4)  # the prompt matters, so the test above can fail
    torch.testing.assert_close(ours_decoded, decoded, atol=1e-5, rtol=1e-4)


def test_guidance_scale_one_uses_the_conditional_model_alone(tiny_sd_path, prior):
    plain = sd.make_task(str(tiny_sd_path), PROMPT, guidance_scale=1.0).load_prior(torch.device("cpu"))
    x = torch.randn(2, *LATENT, generator=torch.Generator().manual_seed(2))
    t = torch.full((2,), 401)
    abar = prior.alphas_cumprod[t]
    with torch.no_grad():
        guided = prior.predict_eps(x, t, abar, prior.conditioning.expand(2, -1, -1))
        unguided = plain.predict_eps(x, t, abar, plain.conditioning.expand(2, -1, -1))
    torch.testing.assert_close(plain.conditioning, prior.conditioning)
    assert not torch.allclose(guided, unguided, atol=1e-4)


# -- SMC through the prior -------------------------------------------------------------------------------------------


def _smc(prior, particle_batch_size=None, seed=0, reward=edge_energy):
    sampler = SMCSampler(prior, reward, num_particles=4, num_steps=4, alpha=0.01,
                         particle_batch_size=particle_batch_size)
    return sampler.sample(num_groups=2, generator=torch.Generator().manual_seed(seed))


def test_smc_with_guidance_decodes_inside_the_reward(prior):
    seen = []

    def reward(x):
        seen.append(tuple(x.shape))
        return edge_energy(x)

    result = _smc(prior, reward=reward)
    assert result.particles.shape == (2, 4, *LATENT) and result.particles.dtype == torch.float32
    assert torch.isfinite(result.particles).all() and torch.isfinite(result.log_z).all()
    torch.testing.assert_close(result.log_weights.exp().sum(-1), torch.ones(2))
    assert set(seen) == {(8, *IMAGE)}  # every call scores decoded images, all 8 particles at once
    images = result.decoded()
    assert images.shape == (2, 4, *IMAGE) and images.abs().max() <= 1
    assert result.lambdas[-1].min() > 0 and result.reward_trace.shape == (4, 2)


def test_smc_is_reproducible_and_chunking_changes_nothing(prior):
    seen = []

    def reward(x):
        seen.append(x.shape[0])
        return edge_energy(x)

    whole = _smc(prior)
    again = _smc(prior)
    chunked = _smc(prior, particle_batch_size=3, reward=reward)
    assert torch.equal(whole.particles, again.particles) and torch.equal(whole.log_weights, again.log_weights)
    assert max(seen) == 3 and sum(seen) == 8 * 5  # 8 particles in chunks of at most 3, at 4 steps + the clean level
    # equal up to float rounding: CPU convolutions pick kernels by batch size (measured: at most 3e-5 apart)
    torch.testing.assert_close(chunked.particles, whole.particles, atol=2e-4, rtol=1e-4)
    torch.testing.assert_close(chunked.log_weights, whole.log_weights, atol=2e-4, rtol=1e-4)
    other = _smc(prior, seed=1)
    assert not torch.allclose(other.particles, whole.particles)


def test_half_precision_weights_keep_the_sampler_in_float32(tiny_sd_path, monkeypatch):
    # CUDA runs the weights in float16/bfloat16; bfloat16 on the CPU exercises the same casts here.
    monkeypatch.setattr(sd, "weights_dtype", lambda device, dtype="float16": torch.bfloat16)
    prior = sd.make_task(str(tiny_sd_path), PROMPT, dtype="bfloat16").load_prior(torch.device("cpu"))
    x = torch.randn(2, *LATENT, generator=torch.Generator().manual_seed(3))
    t = torch.full((2,), 401)
    eps = prior.predict_eps(x, t, prior.alphas_cumprod[t], prior.conditioning.expand(2, -1, -1))
    assert eps.dtype == torch.float32 and prior.decode(x).dtype == torch.float32
    result = _smc(prior)
    assert result.particles.dtype == torch.float32 and torch.isfinite(result.particles).all()
    assert result.log_weights.dtype == torch.float32 and torch.isfinite(result.log_z).all()


def test_weights_dtype_is_half_on_cuda_only():
    assert sd.weights_dtype("cpu", "float16") == torch.float32
    assert sd.weights_dtype("cuda", "float16") == torch.float16
    assert sd.weights_dtype("cuda:0", "bfloat16") == torch.bfloat16


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_fp16_smc_on_cuda(tiny_sd_path):
    prior = sd.make_task(str(tiny_sd_path), PROMPT).load_prior(torch.device("cuda"))
    sampler = SMCSampler(prior, edge_energy, num_particles=4, num_steps=4, alpha=0.01, particle_batch_size=2)
    result = sampler.sample(num_groups=2, generator=torch.Generator("cuda").manual_seed(0))
    assert result.particles.dtype == torch.float32 and torch.isfinite(result.particles).all()


# -- oracles and features --------------------------------------------------------------------------------------------


def _flat_and_noisy() -> np.ndarray:
    rng = np.random.default_rng(0)
    flat = np.zeros((1, *IMAGE), np.float32) + np.array([0.5, -0.2, 0.1], np.float32)[:, None, None]
    noisy = rng.uniform(-1, 1, (1, *IMAGE)).astype(np.float32)
    grey = np.repeat(rng.uniform(-1, 1, (1, 1, *IMAGE[1:])).astype(np.float32), 3, axis=1)
    return np.concatenate([flat, noisy, grey])


def test_jpeg_oracle_rewards_compressible_images():
    x = _flat_and_noisy()
    values = sd.jpeg_compressibility(x)
    assert values == sd.jpeg_compressibility(x) and all(v < 0 for v in values)
    assert values[0] > values[2] > values[1]  # flat beats grey noise beats colour noise
    assert sd.TASK.oracle is sd.jpeg_compressibility
    with pytest.raises(ValueError, match=r"expected RGB images \[B, 3, H, W\]"):
        sd.jpeg_compressibility(x[:, :1])


def test_colorfulness_is_zero_for_grey_and_large_for_colour():
    values = sd.colorfulness(_flat_and_noisy())
    assert values[2] == 0.0 and values[1] > 50 and values[0] > 0


def test_named_oracles_resolve_from_the_cli_spelling():
    x = _flat_and_noisy()
    for name, function in [("jpeg", sd.jpeg_compressibility), ("colorfulness", sd.colorfulness)]:
        outcomes = resolve_oracle(name, OracleContext(task=sd.TASK)).evaluate([1, 2, 3], x)
        assert [o.value for o in outcomes] == function(x)
        with pytest.raises(ValueError, match=f"{name} takes no argument"):
            sd.TASK.named_oracles[name]("3")


class TestSDFeatures(FeatureMapConformance):
    def make_feature_map(self):
        return sd.image_features

    def make_candidates(self):
        return torch.from_numpy(np.concatenate([_flat_and_noisy(), _flat_and_noisy()[::-1] * 0.5]))


def test_features_track_detail_and_colour():
    x = torch.from_numpy(_flat_and_noisy()).double().requires_grad_(True)
    features = sd.image_features(x)
    assert features.shape == (3, sd.NUM_FEATURES) and features.dtype == torch.float64
    flat, noisy, grey = features.detach()
    assert (noisy[10:14] > 10 * flat[10:14]).all()  # gradient energy at every scale
    assert grey[14] < 1e-3 < noisy[14]  # chroma detail: none in a grey image
    torch.testing.assert_close(flat[:3], torch.tensor([0.75, 0.4, 0.55], dtype=torch.float64))
    features[:, 10].sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    small = sd.image_features(torch.zeros(2, 3, 4, 4))  # scales larger than the image are capped
    assert small.shape == (2, sd.NUM_FEATURES) and torch.isfinite(small).all()


# -- a campaign round and the CLI ------------------------------------------------------------------------------------


SMALL = dict(batch_size=2, particles=3, steps=3)


def test_one_campaign_round_on_sqlite(tmp_path, tiny_sd_path):
    url = f"sqlite:///{tmp_path / 'sd.db'}"
    options = {"prior_path": str(tiny_sd_path), "prompt": PROMPT, "guidance_scale": 7.5}
    campaign = Campaign.open("sd-round", storage=url, task="sd", task_options=options, seed=0, **SMALL)
    campaign.run(budget=4, progress=False)
    trials = campaign.trials()
    assert len(trials) == 4 and {t.state for t in trials} == {"completed"}
    assert [t.provenance["source"] for t in trials] == ["prior", "prior", "smc", "smc"]
    for trial in trials:
        assert trial.x.shape == IMAGE and np.abs(trial.x).max() <= 1
        assert trial.value == pytest.approx(sd.jpeg_compressibility(trial.x[None])[0])
    # a resume needs no options: they are stored with the campaign
    resumed = Campaign.open("sd-round", storage=url)
    assert resumed.settings.task_options == options
    assert resumed.prior.sample_shape == LATENT
    assert [t.id for t in resumed.trials()] == [t.id for t in trials]


def test_cli_runs_sd_from_a_folder(tmp_path, tiny_sd_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    args = ["run", "sd", "--name", "cli", "--storage", url, "--prior-path", str(tiny_sd_path), "--prompt", PROMPT,
            "--guidance-scale", "3", "--budget", "2", "--batch-size", "2", "--particles", "2", "--steps", "2",
            "--oracle", "colorfulness", "--quiet"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "finished 2 trials" in result.output
    stored = Campaign.open("cli", storage=url)
    assert stored.settings.task_options["guidance_scale"] == 3.0
    assert all(t.x.shape == IMAGE and t.value >= 0 for t in stored.trials())


def test_cli_errors_are_one_line(tmp_path, tiny_sd_path):
    url = f"sqlite:///{tmp_path / 'errors.db'}"
    runner = CliRunner()
    no_prompt = runner.invoke(cli, ["run", "sd", "--name", "a", "--storage", url, "--prior-path", str(tiny_sd_path)])
    assert no_prompt.exit_code == 2 and "error: task 'sd' needs prompt" in no_prompt.output
    not_sd = runner.invoke(cli, ["run", "sd", "--name", "b", "--storage", url, "--prior-path", str(tmp_path),
                                 "--prompt", PROMPT])
    assert not_sd.exit_code == 2
    lines = [line for line in not_sd.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "is not a Stable Diffusion pipeline folder" in lines[0]
    missing = runner.invoke(cli, ["run", "sd", "--name", "c", "--storage", url, "--prior-path",
                                  str(tmp_path / "nowhere"), "--prompt", PROMPT])
    assert missing.exit_code == 2 and "does not exist" in missing.output
    listing = runner.invoke(cli, ["tasks"])
    assert listing.exit_code == 0 and "sd " in listing.output and "--prior-path" in listing.output
