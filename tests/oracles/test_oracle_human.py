"""TerminalHumanOracle: the conformance suite with a scripted rater, and how a person's answers are read."""

import io
import sys

import numpy as np
import pytest

from oboptim.oracles import OracleInterrupted, Outcome, TerminalHumanOracle, format_candidate
from oboptim.testing import OracleConformance


class ScriptedRater(io.TextIOBase):
    """Stands in for a person: answers each trial, in the order asked, from a queue of prepared lines."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def readline(self, size: int = -1) -> str:
        return self.lines.pop(0) if self.lines else ""


class TestTerminalHumanOracleConformance(OracleConformance):
    def make_oracle(self, tmp_path):
        self.rater = ScriptedRater()
        return TerminalHumanOracle(input_stream=self.rater, output_stream=io.StringIO())

    def before_evaluate(self, trial_ids, xs):
        self.rater.lines = [f"{float(np.sum(x, dtype=np.float64))!r}\n" for x in xs]


XS = np.array([[0.5, 1.0], [2.0, 3.0]])


def ask(answers: str, xs=XS, ids=(4, 5), **kwargs):
    """``(outcomes, what the rater saw)`` for answers typed as one text block."""
    shown = io.StringIO()
    oracle = TerminalHumanOracle(input_stream=io.StringIO(answers), output_stream=shown, **kwargs)
    return oracle.evaluate(list(ids), xs), shown.getvalue()


def test_numbers_score_trials_and_candidates_are_shown_with_their_ids():
    outcomes, shown = ask("1.5\n  -2e-1 \n")
    assert [outcome.value for outcome in outcomes] == [1.5, -0.2]
    assert "trial 4: x = [0.5, 1]" in shown and "trial 5: x = [2, 3]" in shown


@pytest.mark.parametrize(
    ("answer", "expected_error"),
    [("f lens cracked", "lens cracked"), ("FAIL  sample lost \n", "sample lost"), ("f", "marked failed by the rater")],
)
def test_f_or_fail_marks_a_trial_failed(answer, expected_error):
    outcomes, _ = ask(f"{answer}\n3\n")
    assert outcomes[0].error == expected_error
    assert outcomes[1].value == 3.0


def test_invalid_answers_are_asked_again_with_a_hint():
    outcomes, shown = ask("\nabc\nnan\n7\n2\n")
    assert [outcome.value for outcome in outcomes] == [7.0, 2.0]
    assert "empty answer" in shown and "not a number: 'abc'" in shown and "finite" in shown


def test_too_many_invalid_answers_fail_the_trial():
    outcomes, _ = ask("x\n" * 5 + "1\n")
    assert outcomes[0].error == "no valid answer after 5 attempts"
    assert outcomes[1].value == 1.0


def test_bounds_are_enforced():
    outcomes, shown = ask("11\n-1\n10\n0\n", low=0, high=10)
    assert [outcome.value for outcome in outcomes] == [10.0, 0.0]
    assert "out of range: type a number in [0, 10]" in shown


def test_end_of_input_interrupts_the_batch_and_keeps_the_scores_given():
    shown = io.StringIO()
    oracle = TerminalHumanOracle(input_stream=io.StringIO("4\nf lens cracked\n"), output_stream=shown)
    xs = np.zeros((4, 2))
    with pytest.raises(OracleInterrupted, match="input ended") as info:
        oracle.evaluate([1, 2, 3, 4], xs)
    assert info.value.outcomes == {1: Outcome.success(4.0), 2: Outcome.failure("lens cracked")}
    assert isinstance(info.value, KeyboardInterrupt)  # stops a campaign like Ctrl-C; `except Exception` lets it by
    assert "trial 4" not in shown.getvalue()  # nobody to ask: trials 3 and 4 stay pending
    with pytest.raises(OracleInterrupted) as again:  # still at the end: nothing answered, nothing failed
        oracle.evaluate([5], xs[:1])
    assert again.value.outcomes == {}


def test_ctrl_c_while_rating_keeps_the_scores_given():
    class RaterWhoGivesUp(io.TextIOBase):
        def __init__(self):
            self.answers = ["2.5\n"]

        def readline(self, size=-1):
            if self.answers:
                return self.answers.pop()
            raise KeyboardInterrupt

    oracle = TerminalHumanOracle(input_stream=RaterWhoGivesUp(), output_stream=io.StringIO())
    with pytest.raises(OracleInterrupted, match="Ctrl-C") as info:
        oracle.evaluate([8, 9], XS)
    assert info.value.outcomes == {8: Outcome.success(2.5)}


def run_human_campaign(tmp_path, monkeypatch, typed: str):
    """A 2-trial batch of ``--oracle human`` whose standard input is a real file holding ``typed``, then EOF."""
    from oboptim import Campaign

    answers = tmp_path / "answers.txt"
    answers.write_text(typed)
    campaign = Campaign.open("rated", storage=f"sqlite:///{tmp_path / 'runs.db'}", task="gmm2d", seed=0,
                             batch_size=2, steps=2, particles=2)
    with answers.open() as stdin:
        monkeypatch.setattr(sys, "stdin", stdin)
        with pytest.raises(KeyboardInterrupt):
            campaign.run(budget=4, oracle="human")
    return {trial.id: (trial.state, trial.value) for trial in campaign.trials()}


def test_a_campaign_rated_from_a_closed_input_stops_and_fails_no_trial(tmp_path, monkeypatch):
    trials = run_human_campaign(tmp_path, monkeypatch, "")
    assert len(trials) == 2 and all(state == "waiting" for state, _ in trials.values()), trials


def test_a_campaign_rated_until_input_ends_records_the_scores_given(tmp_path, monkeypatch):
    trials = run_human_campaign(tmp_path, monkeypatch, "1.5\n")
    first, second = sorted(trials)
    assert trials[first] == ("completed", 1.5) and trials[second] == ("waiting", None), trials


def test_candidates_are_shown_compactly():
    assert format_candidate(np.array(3.14159265)) == "3.142"
    assert format_candidate(np.array([[1.23456, 2.0], [3.0, 4e-7]])) == "[[1.235, 2], [3, 4e-07]]"
    summary = format_candidate(np.arange(192.0).reshape(3, 8, 8))  # std of 0..191: sqrt((192**2 - 1) / 12)
    assert summary == "array of shape (3, 8, 8): min 0, max 191, mean 95.5, std 55.42"


def test_invalid_settings_are_rejected():
    with pytest.raises(ValueError):
        TerminalHumanOracle(io.StringIO(), io.StringIO(), low=2, high=1)
    with pytest.raises(ValueError):
        TerminalHumanOracle(io.StringIO(), io.StringIO(), max_attempts=0)
