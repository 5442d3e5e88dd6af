"""CallableOracle: the conformance suite, and how a Python function's failures become outcomes."""

import math

import numpy as np
import pytest

from oboptim.oracles import CallableOracle
from oboptim.testing import OracleConformance


def score_sum(x):
    return x.reshape(len(x), -1).sum(axis=1)


class TestCallableOracleConformance(OracleConformance):
    def make_oracle(self, tmp_path):
        return CallableOracle(score_sum)


class TestCallableOracleReturningAList(OracleConformance):
    def make_oracle(self, tmp_path):
        return CallableOracle(lambda xs: [float(np.sum(x)) for x in xs], name="list_sum")


XS = np.arange(6.0).reshape(3, 2)
IDS = [1, 2, 3]


def test_nan_and_inf_fail_only_their_trials():
    outcomes = CallableOracle(lambda x: [1.0, math.nan, -math.inf]).evaluate(IDS, XS)
    assert outcomes[0].value == 1.0
    assert outcomes[1].error == "oracle returned nan"
    assert outcomes[2].error == "oracle returned -inf"


def test_an_exception_fails_the_whole_batch_with_type_and_message():
    def broken(x):
        raise ValueError("instrument\noffline")

    outcomes = CallableOracle(broken).evaluate(IDS, XS)
    assert [outcome.error for outcome in outcomes] == ["ValueError: instrument offline"] * 3


def test_a_long_exception_message_is_cut_to_one_short_line():
    def broken(x):
        raise RuntimeError("x" * 5000)

    error = CallableOracle(broken).evaluate([1], XS[:1])[0].error
    assert error.startswith("RuntimeError: xxx") and len(error) <= 500 and "\n" not in error


def test_an_exception_without_a_message_gives_its_type():
    def broken(x):
        raise KeyError

    assert CallableOracle(broken).evaluate([1], XS[:1])[0].error == "KeyError"


def test_a_wrong_count_fails_every_trial():
    outcomes = CallableOracle(lambda x: [1.0, 2.0]).evaluate(IDS, XS)
    assert [outcome.error for outcome in outcomes] == ["oracle returned 2 values for 3 candidates"] * 3


@pytest.mark.parametrize(
    ("returned", "expected_error"),
    [
        (None, "oracle returned None for 3 candidates; expected a sequence of numbers"),
        (3.0, "oracle returned a float (3.0) for 3 candidates; expected a sequence of numbers"),
        ("abc", "oracle returned a str ('abc') for 3 candidates; expected a sequence of numbers"),
        (np.ones((3, 2)), "oracle returned an array of shape (3, 2) for 3 candidates; expected [B]"),
    ],
)
def test_a_non_sequence_fails_every_trial(returned, expected_error):
    outcomes = CallableOracle(lambda x: returned).evaluate(IDS, XS)
    assert [outcome.error for outcome in outcomes] == [expected_error] * 3


def test_none_strings_and_huge_values_fail_only_their_trials():
    outcomes = CallableOracle(lambda x: [None, "1.5", 10**400]).evaluate(IDS, XS)
    assert outcomes[0].error == "oracle returned None; expected a finite number"
    assert outcomes[1].error == "oracle returned a str ('1.5'); expected a finite number"
    assert outcomes[2].error.startswith("oracle returned a number too large for a float (1000")


def test_numpy_scalars_zero_d_arrays_and_column_arrays_are_accepted():
    outcomes = CallableOracle(lambda x: [np.float32(0.5), np.array(2.0), np.int64(-3)]).evaluate(IDS, XS)
    assert [outcome.value for outcome in outcomes] == [0.5, 2.0, -3.0]
    column = CallableOracle(lambda x: np.array([[1.0], [2.0], [3.0]])).evaluate(IDS, XS)
    assert [outcome.value for outcome in column] == [1.0, 2.0, 3.0]


def test_the_function_gets_a_copy_it_may_modify():
    def scribbling(x):
        values = x.sum(axis=1)
        x[:] = -1.0
        return values

    xs = XS.copy()
    outcomes = CallableOracle(scribbling).evaluate(IDS, xs)
    np.testing.assert_array_equal(xs, XS)
    assert [outcome.value for outcome in outcomes] == [1.0, 5.0, 9.0]


def test_name_defaults_to_module_and_qualname():
    assert CallableOracle(score_sum).name.endswith(":score_sum")
    assert CallableOracle(score_sum, name="mine").name == "mine"


def test_a_non_callable_is_rejected():
    with pytest.raises(TypeError):
        CallableOracle(3.0)
