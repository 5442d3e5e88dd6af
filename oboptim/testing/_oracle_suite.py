"""Conformance suite every :class:`~oboptim.oracles._base.Oracle` runs through.

Subclass :class:`OracleConformance` in a test module (its name must start with ``Test``) and implement
:meth:`~OracleConformance.make_oracle`, returning an oracle that scores a candidate ``x`` as ``sum(x)``. An oracle
driven from outside (a scripted rater standing in for a person) can override :meth:`~OracleConformance.before_evaluate`
to learn the batch it will be asked about::

    class TestMyOracle(OracleConformance):
        def make_oracle(self, tmp_path):
            return MyOracle(...)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from oboptim.oracles._base import Oracle
from oboptim.oracles._outcome import Outcome

SAMPLE_SHAPES = [(), (2,), (3, 4), (2, 3, 2)]


class OracleConformance:
    """The contract: one finite-valued :class:`Outcome` per trial, in order, for any batch size and sample shape."""

    rel_tol = 1e-9  # scoring may sum in another order than numpy does

    def make_oracle(self, tmp_path: Path) -> Oracle:
        """An oracle scoring each candidate ``x [*sample_shape]`` as ``sum(x)``."""
        raise NotImplementedError

    def before_evaluate(self, trial_ids: Sequence[int], xs: np.ndarray) -> None:
        """Hook called just before each ``evaluate``; a scripted rater uses it to prepare its answers."""

    # -- helpers ------------------------------------------------------------------------------------------------------

    def evaluate(self, oracle: Oracle, trial_ids: Sequence[int], xs: np.ndarray) -> list[Outcome]:
        self.before_evaluate(trial_ids, xs)
        return oracle.evaluate(trial_ids, xs)

    @staticmethod
    def candidates(batch_size: int, sample_shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
        """``[batch_size, *sample_shape]`` distinct float64 candidates."""
        return np.random.default_rng(seed).uniform(-2.0, 2.0, size=(batch_size, *sample_shape))

    def assert_scores(self, outcomes: list[Outcome], xs: np.ndarray) -> None:
        assert isinstance(outcomes, list)
        assert len(outcomes) == len(xs)
        for outcome, x in zip(outcomes, xs):
            assert isinstance(outcome, Outcome)
            assert outcome.error is None, outcome.error
            assert isinstance(outcome.value, float) and math.isfinite(outcome.value)
            expected = float(np.sum(x, dtype=np.float64))
            assert math.isclose(outcome.value, expected, rel_tol=self.rel_tol, abs_tol=1e-9), (outcome.value, expected)

    # -- the contract -------------------------------------------------------------------------------------------------

    def test_name_is_a_nonempty_string(self, tmp_path):
        with self.make_oracle(tmp_path) as oracle:
            assert isinstance(oracle.name, str) and oracle.name

    def test_one_outcome_per_trial_in_order(self, tmp_path):
        trial_ids = [17, 3, 9, 4]  # unsorted, so that an oracle sorting by id would be caught
        xs = self.candidates(4, (2,))
        with self.make_oracle(tmp_path) as oracle:
            self.assert_scores(self.evaluate(oracle, trial_ids, xs), xs)

    def test_trial_ids_are_preserved_however_large(self, tmp_path):
        trial_ids = [2**40 + 1, 0, 2**40]
        xs = self.candidates(3, (2,), seed=1)
        with self.make_oracle(tmp_path) as oracle:
            self.assert_scores(self.evaluate(oracle, trial_ids, xs), xs)

    def test_batch_of_one(self, tmp_path):
        xs = self.candidates(1, (3,), seed=2)
        with self.make_oracle(tmp_path) as oracle:
            self.assert_scores(self.evaluate(oracle, [5], xs), xs)

    def test_batch_of_64(self, tmp_path):
        xs = self.candidates(64, (2,), seed=3)
        with self.make_oracle(tmp_path) as oracle:
            self.assert_scores(self.evaluate(oracle, list(range(100, 164)), xs), xs)

    def test_empty_batch_gives_no_outcomes(self, tmp_path):
        with self.make_oracle(tmp_path) as oracle:
            assert self.evaluate(oracle, [], np.zeros((0, 2))) == []

    @pytest.mark.parametrize("sample_shape", SAMPLE_SHAPES, ids=lambda shape: f"shape{list(shape)}")
    def test_any_sample_shape(self, tmp_path, sample_shape):
        xs = self.candidates(3, sample_shape, seed=4)
        with self.make_oracle(tmp_path) as oracle:
            self.assert_scores(self.evaluate(oracle, [1, 2, 3], xs), xs)

    def test_float32_candidates(self, tmp_path):
        xs = self.candidates(3, (4,), seed=5).astype(np.float32)
        with self.make_oracle(tmp_path) as oracle:
            outcomes = self.evaluate(oracle, [1, 2, 3], xs)
        for outcome, x in zip(outcomes, xs):
            assert math.isclose(outcome.value, float(np.sum(x, dtype=np.float64)), rel_tol=1e-6, abs_tol=1e-6)

    def test_candidates_are_not_modified(self, tmp_path):
        xs = self.candidates(4, (3,), seed=6)
        before = xs.copy()
        with self.make_oracle(tmp_path) as oracle:
            self.evaluate(oracle, [1, 2, 3, 4], xs)
        np.testing.assert_array_equal(xs, before)

    def test_successive_batches(self, tmp_path):
        with self.make_oracle(tmp_path) as oracle:
            for seed in range(3):
                xs = self.candidates(2, (2,), seed=10 + seed)
                self.assert_scores(self.evaluate(oracle, [2 * seed, 2 * seed + 1], xs), xs)

    def test_mismatched_ids_and_candidates_is_a_programming_error(self, tmp_path):
        with self.make_oracle(tmp_path) as oracle, pytest.raises(ValueError):
            oracle.evaluate([1, 2, 3], self.candidates(2, (2,)))
