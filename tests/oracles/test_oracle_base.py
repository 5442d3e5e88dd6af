"""Outcome and outcomes_from_values: the validation every oracle kind shares."""

import math

import numpy as np
import pytest

from oboptim.oracles import Outcome, outcome_from_value, outcomes_from_values
from oboptim.oracles._base import describe_exception, one_line


def test_an_outcome_has_exactly_one_of_value_and_error():
    with pytest.raises(ValueError):
        Outcome()
    with pytest.raises(ValueError):
        Outcome(value=1.0, error="both")
    with pytest.raises(ValueError):
        Outcome(value=math.nan)
    with pytest.raises(ValueError):
        Outcome(error="")
    assert Outcome(value=np.float32(2.0)).value == 2.0 and type(Outcome(value=np.float32(2.0)).value) is float
    assert Outcome.failure("a\nb").error == "a b" and Outcome.failure("a").failed
    assert not Outcome.success(0.0).failed


def test_outcomes_are_immutable():
    outcome = Outcome.success(1.0)
    with pytest.raises(AttributeError):
        outcome.value = 2.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, 1.0),
        (np.float16(0.5), 0.5),
        (np.array(-2.5), -2.5),
        (np.uint8(7), 7.0),
        (1.5e308, 1.5e308),
    ],
)
def test_real_numbers_are_accepted(value, expected):
    assert outcome_from_value(value) == Outcome(value=expected)


@pytest.mark.parametrize(
    ("value", "expected_error"),
    [
        (math.nan, "oracle returned nan"),
        (np.float64(np.inf), "oracle returned inf"),
        (np.array(-np.inf), "oracle returned -inf"),
        (None, "oracle returned None; expected a finite number"),
        (True, "oracle returned a bool (True); expected a finite number"),
        (1 + 2j, "oracle returned a complex ((1+2j)); expected a finite number"),
        (np.array([1.0, 2.0]), "oracle returned an array of shape (2,) for one candidate; expected a finite number"),
        ({"value": 1}, "oracle returned a dict ({'value': 1}); expected a finite number"),
    ],
)
def test_other_values_fail_with_a_clear_message(value, expected_error):
    assert outcome_from_value(value).error == expected_error


def test_a_huge_int_overflows_into_a_failure():
    assert outcome_from_value(-(10**400)).error.startswith("oracle returned a number too large for a float")


def test_a_wrong_count_fails_every_trial():
    assert outcomes_from_values([1.0, 2.0, 3.0], 4) == [Outcome(error="oracle returned 3 values for 4 candidates")] * 4


def test_a_generator_and_an_iterable_that_breaks():
    assert outcomes_from_values((v for v in [1.0, 2.0]), 2) == [Outcome(value=1.0), Outcome(value=2.0)]

    def breaking():
        yield 1.0
        raise RuntimeError("lost connection")

    outcomes = outcomes_from_values(breaking(), 2)
    assert all("RuntimeError: lost connection" in outcome.error for outcome in outcomes)


def test_messages_are_one_short_line():
    assert one_line("a \n\t b", limit=10) == "a b"
    assert len(one_line("x" * 1000)) == 500
    assert describe_exception(OSError("disk\nfull")) == "OSError: disk full"
