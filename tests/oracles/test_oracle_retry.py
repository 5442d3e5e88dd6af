"""evaluate_with_retries and FailureBudget: retrying failed trials, and stopping a run whose oracle keeps failing."""

import numpy as np
import pytest

from oboptim import OboptimError
from oboptim.oracles import FailureBudget, Oracle, Outcome, TooManyFailures, evaluate_with_retries


class FlakyOracle(Oracle):
    """Fails each trial id a set number of times, then scores it as sum(x); records every call's ids."""

    name = "flaky"

    def __init__(self, failures_per_trial: dict[int, int]) -> None:
        self.failures_left = dict(failures_per_trial)
        self.calls: list[list[int]] = []

    def evaluate(self, trial_ids, xs):
        self.calls.append(list(trial_ids))
        outcomes = []
        for trial_id, x in zip(trial_ids, xs):
            if self.failures_left.get(trial_id, 0) > 0:
                self.failures_left[trial_id] -= 1
                outcomes.append(Outcome.failure(f"attempt failed, {self.failures_left[trial_id]} to go"))
            else:
                outcomes.append(Outcome.success(float(np.sum(x))))
        return outcomes


XS = np.array([[1.0], [2.0], [3.0]])


def test_only_failed_trials_are_retried():
    oracle = FlakyOracle({2: 1, 3: 2})
    outcomes = evaluate_with_retries(oracle, [1, 2, 3], XS, retries=2)
    assert [outcome.value for outcome in outcomes] == [1.0, 2.0, 3.0]
    assert oracle.calls == [[1, 2, 3], [2, 3], [3]]


def test_a_trial_out_of_retries_keeps_its_last_error():
    oracle = FlakyOracle({3: 5})
    outcomes = evaluate_with_retries(oracle, [1, 2, 3], XS, retries=2)
    assert outcomes[2].error == "attempt failed, 2 to go"
    assert oracle.calls == [[1, 2, 3], [3], [3]]


def test_zero_retries_evaluates_once():
    oracle = FlakyOracle({1: 1})
    assert evaluate_with_retries(oracle, [1, 2, 3], XS, retries=0)[0].failed
    assert oracle.calls == [[1, 2, 3]]
    with pytest.raises(ValueError):
        evaluate_with_retries(oracle, [1, 2, 3], XS, retries=-1)


class RaisingOracle(Oracle):
    name = "raising"

    def evaluate(self, trial_ids, xs):
        raise RuntimeError("socket closed")


class ShortOracle(Oracle):
    name = "short"

    def evaluate(self, trial_ids, xs):
        return [Outcome.success(1.0)]


def test_an_oracle_breaking_its_contract_fails_the_batch_instead_of_the_campaign():
    raised = evaluate_with_retries(RaisingOracle(), [1, 2], XS[:2], retries=1)
    assert [outcome.error for outcome in raised] == ["oracle 'raising' raised RuntimeError: socket closed"] * 2
    short = evaluate_with_retries(ShortOracle(), [1, 2], XS[:2], retries=0)
    assert [outcome.error for outcome in short] == ["oracle 'short' returned 1 outcomes for 2 trials"] * 2


def test_failure_budget_waits_for_min_trials_then_raises_one_line():
    budget = FailureBudget(0.25, min_trials=8)
    budget.record([Outcome.failure("first")] * 3)
    budget.check()  # 3 trials: too few for a verdict
    budget.record([Outcome.success(1.0)] * 4 + [Outcome.failure("ValueError: sensor offline")])
    assert budget.total == 8 and budget.failed == 4
    with pytest.raises(TooManyFailures) as info:
        budget.check()
    assert str(info.value) == (
        "50% of 8 trials failed (tolerated: 25%): last error: ValueError: sensor offline; "
        "fix the oracle or raise --max-failure-rate"
    )
    assert isinstance(info.value, OboptimError)


def test_failure_budget_tolerates_exactly_the_rate_and_everything_at_one():
    budget = FailureBudget(0.25, min_trials=4)
    budget.record([Outcome.failure("x")] + [Outcome.success(0.0)] * 3)
    budget.check()
    everything = FailureBudget(1.0, min_trials=1)
    everything.record([Outcome.failure("x")] * 10)
    everything.check()
    with pytest.raises(ValueError):
        FailureBudget(1.5)
