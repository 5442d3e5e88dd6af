"""evaluate_with_retries and FailureBudget: retrying failed trials, and stopping a run whose oracle keeps failing."""

import time

import numpy as np
import pytest

from oboptim import OboptimError
from oboptim.oracles import FailureBudget, Oracle, OracleInterrupted, Outcome, TooManyFailures, evaluate_with_retries


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
    raised = evaluate_with_retries(RaisingOracle(), [1, 2], XS[:2], retries=1, backoff_s=0.0)
    assert [outcome.error for outcome in raised] == ["oracle 'raising' raised RuntimeError: socket closed"] * 2
    assert all(outcome.transient for outcome in raised)
    short = evaluate_with_retries(ShortOracle(), [1, 2], XS[:2], retries=0)
    assert [outcome.error for outcome in short] == ["oracle 'short' returned 1 outcomes for 2 trials"] * 2


class OutageOracle(Oracle):
    """Fails whole batches transiently for its first ``outages`` calls (a dropped link), then scores sum(x)."""

    name = "outage"

    def __init__(self, outages: int, nan_for: int | None = None) -> None:
        self.outages = outages
        self.nan_for = nan_for
        self.calls: list[tuple[float, list[int]]] = []

    def evaluate(self, trial_ids, xs):
        self.calls.append((time.monotonic(), list(trial_ids)))
        if len(self.calls) <= self.outages:
            return [Outcome.failure("ConnectionError: reset by peer", transient=True)] * len(trial_ids)
        return [Outcome.failure("oracle returned nan") if trial_id == self.nan_for else Outcome.success(float(x.sum()))
                for trial_id, x in zip(trial_ids, xs)]


def test_a_transient_batch_failure_is_retried_after_growing_pauses():
    oracle = OutageOracle(outages=2)
    outcomes = evaluate_with_retries(oracle, [1, 2, 3], XS, backoff_s=0.05)
    assert [outcome.value for outcome in outcomes] == [1.0, 2.0, 3.0]
    times = [t for t, _ in oracle.calls]
    assert len(times) == 3 and times[1] - times[0] >= 0.05 and times[2] - times[1] >= 0.1


def test_an_outage_past_the_batch_retries_fails_the_batch():
    oracle = OutageOracle(outages=3)
    outcomes = evaluate_with_retries(oracle, [1, 2, 3], XS, backoff_s=0.0)
    assert [outcome.error for outcome in outcomes] == ["ConnectionError: reset by peer"] * 3
    assert len(oracle.calls) == 3  # once, then the 2 default batch retries


def test_a_trials_own_failure_is_not_retried_by_default():
    oracle = OutageOracle(outages=1, nan_for=2)
    outcomes = evaluate_with_retries(oracle, [1, 2, 3], XS, backoff_s=0.0)
    assert outcomes[1].error == "oracle returned nan" and outcomes[0].value == 1.0
    assert [ids for _, ids in oracle.calls] == [[1, 2, 3], [1, 2, 3]]  # the outage only: the NaN stands


def test_an_interrupt_during_a_retry_keeps_the_settled_outcomes():
    class InterruptedOnRetry(Oracle):
        name = "interrupted"

        def __init__(self):
            self.calls = 0

        def evaluate(self, trial_ids, xs):
            self.calls += 1
            if self.calls == 1:
                return [Outcome.success(1.0), Outcome.failure("timed out", transient=True),
                        Outcome.failure("oracle returned nan")]
            raise KeyboardInterrupt  # Ctrl-C while trial 2 is asked again

    with pytest.raises(OracleInterrupted) as info:
        evaluate_with_retries(InterruptedOnRetry(), [1, 2, 3], XS, backoff_s=0.0)
    # 1 succeeded and 3's NaN is final; 2 was being asked again, so it stays pending
    assert info.value.outcomes == {1: Outcome.success(1.0), 3: Outcome.failure("oracle returned nan")}


def test_an_oracle_interrupted_carries_its_own_partial_answers_through():
    class RaterAtEndOfInput(Oracle):
        name = "rater"

        def evaluate(self, trial_ids, xs):
            raise OracleInterrupted("the rater's input ended", {trial_ids[0]: Outcome.success(4.0)})

    with pytest.raises(OracleInterrupted, match="input ended") as info:
        evaluate_with_retries(RaterAtEndOfInput(), [5, 6], XS[:2], retries=2)
    assert info.value.outcomes == {5: Outcome.success(4.0)}


def test_failure_budget_waits_for_three_batches_so_one_bad_batch_cannot_stop_a_run():
    # the case: batches of 8, the 2nd failed whole (an outage past the retries) and one NaN elsewhere
    budget = FailureBudget(0.5, batch_size=8)
    assert budget.min_trials == 24
    budget.record([Outcome.success(1.0)] * 8 + [Outcome.failure("outage", transient=True)] * 8)
    budget.record([Outcome.failure("oracle returned nan")])
    budget.check()  # 9 of 17 failed (53%): too early for a verdict
    budget.record([Outcome.success(1.0)] * 7)
    budget.check()  # 9 of 24 (38%)
    assert FailureBudget(0.5).min_trials == 8 and FailureBudget(0.5, batch_size=2).min_trials == 8


def test_failure_budget_still_stops_a_broken_oracle_after_three_batches():
    budget = FailureBudget(0.5, batch_size=8)
    for _ in range(2):
        budget.record([Outcome.failure("ModuleNotFoundError: No module named 'lab'", transient=True)] * 8)
        budget.check()
    budget.record([Outcome.failure("ModuleNotFoundError: No module named 'lab'", transient=True)] * 8)
    with pytest.raises(TooManyFailures, match="^100% of 24 trials failed .*No module named 'lab'; fix the oracle"):
        budget.check()


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


def test_one_exception_in_a_short_campaign_costs_a_pause_not_the_campaign(tmp_path):
    # issue 10, item 7: an exception in the 2nd batch of 8 failed all 8 trials (and stopped a 32-trial campaign)
    from oboptim import Campaign

    calls = []

    def lab(x):
        calls.append(len(x))
        if len(calls) == 2:
            raise ConnectionError("lab server reset the connection")
        return -np.sum(x**2, axis=1)

    campaign = Campaign.open("short", storage=f"sqlite:///{tmp_path / 'runs.db'}", task="gmm2d", seed=0,
                             batch_size=8, steps=2, particles=2)
    campaign.run(budget=16, oracle=lab)
    counts = campaign.storage.count_trials(campaign.id)
    assert counts.get("completed") == 16 and not counts.get("failed"), counts
    assert calls == [8, 8, 8]  # the 2nd batch once more, after a 1 s pause


# -- issue 19, item 10: a transient failure that the retries cure leaves a trace ------------------------------------


def test_a_retried_outage_is_said_at_the_time_and_carried_by_the_outcomes():
    oracle = OutageOracle(outages=1)
    lines = []
    outcomes = evaluate_with_retries(oracle, [7, 8, 9], XS, backoff_s=0.0, on_retry=lines.append)
    assert lines == ["oracle failed on trials 7-9 (ConnectionError: reset by peer); asking again in 0 s (retry 1 of 2)"]
    assert [outcome.value for outcome in outcomes] == [1.0, 2.0, 3.0]
    (failure,) = outcomes[0].retried_after
    assert (failure.reason, failure.trial_ids, failure.attempt) == ("ConnectionError: reset by peer", (7, 8, 9), 0)
    assert len({outcome.retried_after[0].key for outcome in outcomes}) == 1  # one batch, retried once


def test_the_retry_line_goes_to_standard_error_by_default(capsys):
    evaluate_with_retries(OutageOracle(outages=2), [3, 5, 6], XS, backoff_s=0.0)
    assert capsys.readouterr().err.splitlines() == [
        "oracle failed on trials 3, 5-6 (ConnectionError: reset by peer); asking again in 0 s (retry 1 of 2)",
        "oracle failed on trials 3, 5-6 (ConnectionError: reset by peer); asking again in 0 s (retry 2 of 2)",
    ]


def test_an_outcome_without_an_outage_carries_nothing_and_equality_ignores_the_trace():
    import pickle

    from oboptim.oracles._outcome import TransientFailure

    clean = evaluate_with_retries(FlakyOracle({}), [1, 2, 3], XS, on_retry=pytest.fail)
    assert all(outcome.retried_after == () for outcome in clean)
    traced = Outcome(value=1.0, retried_after=(TransientFailure("offline", (1, 2), 0),))
    assert traced == Outcome(value=1.0)
    assert pickle.loads(pickle.dumps(traced)).retried_after == traced.retried_after  # executors send outcomes


def test_a_batch_that_never_recovers_keeps_its_earlier_failures():
    outcomes = evaluate_with_retries(OutageOracle(outages=3), [1, 2, 3], XS, backoff_s=0.0, on_retry=lambda _: None)
    assert outcomes[0].failed and [f.attempt for f in outcomes[0].retried_after] == [0, 1]
