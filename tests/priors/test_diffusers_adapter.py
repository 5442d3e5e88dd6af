import pytest
import torch
from diffusers import DDIMScheduler, DDPMScheduler, UNet2DConditionModel, UNet2DModel

from oboptim.sampling import DiffusionPrior, SMCSampler


def tiny_unet(dtype=torch.float32):
    torch.manual_seed(0)
    model = UNet2DModel(
        sample_size=8, in_channels=1, out_channels=1, block_out_channels=(8, 16), layers_per_block=1,
        down_block_types=("DownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "UpBlock2D"),
        norm_num_groups=4,
    )
    return model.to(dtype).eval().requires_grad_(False)


def tiny_conditional_unet():
    torch.manual_seed(0)
    model = UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, block_out_channels=(8, 16), layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=12, attention_head_dim=2, norm_num_groups=4,
    )
    return model.eval().requires_grad_(False)


def mean_intensity(x):
    return x.flatten(1).mean(-1)


@pytest.mark.parametrize("scheduler_cls", [DDPMScheduler, DDIMScheduler])
def test_unet2d_with_scheduler_grid(scheduler_cls):
    scheduler = scheduler_cls(num_train_timesteps=1000)
    prior = DiffusionPrior.from_diffusers(tiny_unet(), scheduler)
    assert prior.sample_shape == (1, 8, 8)
    grid = prior.time_grid(10)
    scheduler.set_timesteps(10)
    assert grid.timesteps.tolist() == scheduler.timesteps.tolist()
    torch.testing.assert_close(grid.abar, scheduler.alphas_cumprod[scheduler.timesteps].float())
    assert grid.abar_prev[-1].item() == 1.0
    res = SMCSampler(prior, mean_intensity, num_particles=4, num_steps=5, particle_batch_size=3).sample(
        2, torch.Generator().manual_seed(0)
    )
    assert res.particles.shape == (2, 4, 1, 8, 8)
    assert bool(torch.isfinite(res.log_z).all())


def test_trailing_spacing_and_final_alpha_from_scheduler():
    scheduler = DDIMScheduler(num_train_timesteps=1000, timestep_spacing="trailing", set_alpha_to_one=False)
    prior = DiffusionPrior.from_diffusers(tiny_unet(), scheduler)
    grid = prior.time_grid(4)
    assert grid.timesteps.tolist() == [999, 749, 499, 249]
    assert grid.abar_prev[-1].item() == pytest.approx(float(scheduler.alphas_cumprod[0]))


def test_v_prediction_scheduler_is_converted():
    scheduler = DDPMScheduler(num_train_timesteps=1000, prediction_type="v_prediction")
    prior = DiffusionPrior.from_diffusers(tiny_unet(), scheduler)
    assert prior.prediction_type == "v_prediction"


def test_low_precision_model_gives_float32_math():
    prior = DiffusionPrior.from_diffusers(tiny_unet(torch.bfloat16), DDPMScheduler())
    x = torch.randn(2, 1, 8, 8)
    eps = prior.predict_eps(x, torch.tensor([500, 10]), torch.tensor([0.3, 0.99]))
    assert eps.dtype == torch.float32
    res = SMCSampler(prior, mean_intensity, num_particles=3, num_steps=3).sample(1, torch.Generator().manual_seed(0))
    assert res.particles.dtype == torch.float32 and res.log_weights.dtype == torch.float32


def test_conditional_unet_with_classifier_free_guidance():
    model = tiny_conditional_unet()
    cond = torch.randn(2, 3, 12)  # two groups, e.g. two prompts
    uncond = torch.zeros(1, 3, 12)
    calls = []
    model.register_forward_hook(lambda module, args, kwargs_out: calls.append(args[0].shape[0]))
    prior = DiffusionPrior.from_diffusers(
        model, DDIMScheduler(), conditioning=cond, negative_conditioning=uncond, guidance_scale=3.0,
        decoder=lambda z: z[:, :3],
    )
    res = SMCSampler(prior, mean_intensity, num_particles=2, num_steps=3).sample(2, torch.Generator().manual_seed(0))
    assert res.particles.shape == (2, 2, 4, 8, 8)
    assert calls[0] == 8  # 4 particles, conditional and unconditional in one batch
    assert res.decoded().shape == (2, 2, 3, 8, 8)
