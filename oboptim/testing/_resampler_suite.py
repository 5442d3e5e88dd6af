"""Conformance suite for resampling schemes.

Any function with the resampling signature ``(log_weights [G, N], M, generator) -> indices [G, M]`` must pass it::

    class TestMyScheme(ResamplerConformance):
        resampler = staticmethod(my_scheme)
        bounded_counts = False   # True if counts lie in {floor(M w), ceil(M w)}
"""

from __future__ import annotations

import math

import pytest
import torch


def offspring_counts(indices, num_particles: int):
    """``[G, M]`` ancestor indices to ``[G, N]`` offspring counts."""
    counts = torch.zeros(indices.shape[0], num_particles, dtype=torch.long, device=indices.device)
    return counts.scatter_add(-1, indices, torch.ones_like(indices))


class ResamplerConformance:
    resampler = None
    bounded_counts = False
    device = "cpu"

    def _log_weights(self, groups=5, n=9, seed=0):
        g = torch.Generator().manual_seed(seed)
        log_weights = 2 * torch.randn(groups, n, generator=g)
        log_weights[0, 2] = -math.inf  # a dead particle
        log_weights[1] = 0.0  # uniform weights
        log_weights[2, :] = -math.inf
        log_weights[2, 4] = 0.0  # all mass on one particle
        return log_weights.to(self.device)

    def _generator(self, seed=0):
        return torch.Generator(device=self.device).manual_seed(seed)

    def test_shape_dtype_device(self):
        lw = self._log_weights()
        for m in (1, 9, 20):
            idx = self.resampler(lw, m, self._generator())
            assert idx.shape == (lw.shape[0], m)
            assert idx.dtype == torch.long
            assert idx.device == lw.device
            assert int(idx.min()) >= 0 and int(idx.max()) < lw.shape[1]

    def test_expected_counts_equal_m_times_weights(self):
        lw = self._log_weights()
        n, m, repeats = lw.shape[1], lw.shape[1], 4000
        total = torch.zeros(lw.shape, dtype=torch.float64, device=lw.device)
        generator = self._generator(1)
        for _ in range(repeats):
            total += offspring_counts(self.resampler(lw, m, generator), n)
        expected = m * torch.softmax(lw.double(), -1)
        # Each count has variance at most m/4 per draw... bounded by multinomial's m w (1 - w) <= m / 4.
        tolerance = 5 * math.sqrt(m / 4 / repeats)
        assert float((total / repeats - expected).abs().max()) < tolerance

    def test_zero_weight_never_selected_and_point_mass(self):
        lw = self._log_weights()
        for seed in range(50):
            idx = self.resampler(lw, 9, self._generator(seed))
            assert not bool((idx[0] == 2).any())
            assert bool((idx[2] == 4).all())

    def test_groups_are_independent_of_batching(self):
        """Each group's marginal offspring law does not depend on the other groups in the batch."""
        lw = self._log_weights()
        n, repeats = lw.shape[1], 2000
        together = torch.zeros(n, dtype=torch.float64, device=lw.device)
        alone = torch.zeros_like(together)
        g1, g2 = self._generator(2), self._generator(3)
        for _ in range(repeats):
            together += offspring_counts(self.resampler(lw, n, g1), n)[3].double()
            alone += offspring_counts(self.resampler(lw[3:4], n, g2), n)[0].double()
        assert float((together - alone).abs().max()) / repeats < 5 * math.sqrt(n / 4 / repeats) * 1.5

    def test_bounded_counts(self):
        if not self.bounded_counts:
            pytest.skip("this scheme does not promise counts in {floor(M w), ceil(M w)}")
        lw = self._log_weights()
        expected = lw.shape[1] * torch.softmax(lw.double(), -1)
        for seed in range(200):
            counts = offspring_counts(self.resampler(lw, lw.shape[1], self._generator(seed)), lw.shape[1]).double()
            assert bool((counts >= expected.floor() - 1e-9).all()) and bool((counts <= expected.ceil() + 1e-9).all())

    def test_deterministic_given_generator(self):
        lw = self._log_weights()
        a = self.resampler(lw, 9, self._generator(7))
        b = self.resampler(lw, 9, self._generator(7))
        assert torch.equal(a, b)

    def test_large_batch(self):
        lw = torch.randn(1000, 100, device=self.device)
        idx = self.resampler(lw, 100, self._generator())
        assert idx.shape == (1000, 100)
