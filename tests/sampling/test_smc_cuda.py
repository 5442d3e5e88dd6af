"""The sampler on CUDA: closed-form correctness, float32 weights with an fp16 model, devices of every output.

Skipped without a CUDA device (CI has none); run on a GPU machine by scripts/gpu_check.sh.
"""

import pytest
import torch

from oboptim.sampling import RESAMPLERS, DiffusionPrior, SMCSampler
from oboptim.testing import ABAR, gaussian_eps_fn, gaussian_target, pooled_moments

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.mark.parametrize("guidance", [True, False])
@pytest.mark.parametrize("resampling", sorted(RESAMPLERS))
def test_gaussian_closed_form_on_cuda(resampling, guidance):
    d = 8
    m, c, s = torch.linspace(-0.5, 0.5, d), torch.linspace(1.0, -1.0, d), 0.8
    prior = DiffusionPrior(gaussian_eps_fn(m.cuda(), s), ABAR, (d,))
    reward = lambda x: -((x - c.cuda()) ** 2).sum(-1) / 2  # noqa: E731
    result = SMCSampler(prior, reward, num_particles=100, num_steps=100, resampling=resampling,
                        guidance=guidance).sample(200, torch.Generator(device="cuda").manual_seed(0))
    for tensor in (result.particles, result.log_weights, result.log_z, result.ess):
        assert tensor.device.type == "cuda"
    mean, var, log_z = gaussian_target(m, s, c)
    est_mean, est_var = pooled_moments(result)
    assert float((est_mean.cpu() - mean).abs().max()) < 0.08
    assert float((est_var.cpu() - var).abs().mean()) < 0.08
    assert abs(float(result.log_z.double().mean()) - log_z) < 0.01 * d + 0.1


def test_fp16_model_keeps_float32_weights_on_cuda():
    eps32 = gaussian_eps_fn(torch.zeros(4, device="cuda"), 1.0)
    prior = DiffusionPrior(lambda x, t: eps32(x.half().float(), t).half(), ABAR, (4,))
    result = SMCSampler(prior, lambda x: -(x**2).sum(-1), num_particles=50, num_steps=50).sample(
        10, torch.Generator(device="cuda").manual_seed(0))
    assert result.log_weights.dtype == torch.float32 and result.particles.dtype == torch.float32
    assert bool(torch.isfinite(result.log_z).all())


def test_resamplers_stay_on_cuda():
    lw = torch.randn(64, 100, device="cuda")
    g = torch.Generator(device="cuda").manual_seed(0)
    for name in RESAMPLERS:
        idx = RESAMPLERS.get(name)(lw, 100, g)
        assert idx.device.type == "cuda", name
