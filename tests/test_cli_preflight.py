"""`oboptim run` judges what it can before it stores anything or queries an oracle: the executor, an oracle that
cannot run on one, settings that cannot propose together, task options of the wrong type, and a budget that holds no
learned round. A refused command leaves no campaign behind (it could not be fixed later: settings never change).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

from oboptim import Campaign
from oboptim._campaign import SmallBudgetWarning, default_budget
from oboptim.cli import main
from oboptim.errors import ConfigError
from oboptim.storage import Storage

HERE = Path(__file__).parent
TASK = f"{HERE / 'campaign' / 'mixture_task.py'}:TASK"


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def assert_one_line_error(result, text: str) -> None:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.strip().splitlines() if not line.startswith("warning")]
    assert len(lines) == 1 and lines[0].startswith("error: ") and text in lines[0], result.output


def campaigns(db: Path) -> list[str]:
    if not db.exists():
        return []
    with Storage(f"sqlite:///{db}", create=False) as store:
        return [c.name for c in store.list_campaigns()]


@pytest.mark.parametrize(("args", "text"), [
    (["--executor", "process:0"], "process:N needs N >= 1"),
    (["--executor", "thread:2"], "unknown executor 'thread:2'"),
    (["--executor", "process:x"], "process:N needs a number"),
    (["--oracle", "human", "--executor", "process:2"], "asks a person"),
    (["--oracle", "human-web", "--executor", "process:2"], "asks a person"),
])
def test_an_executor_that_cannot_run_leaves_no_database(tmp_path, args, text):
    db = tmp_path / "r.db"
    result = invoke("run", TASK, "--name", "x", "--storage", f"sqlite:///{db}", "--budget", "4", *args)
    assert_one_line_error(result, text)
    assert not db.exists()


def test_maxhead_on_a_gp_is_refused_before_any_query_and_creates_no_campaign(tmp_path):
    db = tmp_path / "r.db"
    calls = tmp_path / "calls"
    oracle = tmp_path / "count.py"
    oracle.write_text(f"def f(x):\n    open({str(calls)!r}, 'a').write('x' * len(x))\n    return [0.0] * len(x)\n")
    result = invoke("run", TASK, "--name", "x", "--storage", f"sqlite:///{db}", "--budget", "8", "--batch-size", "4",
                    "--acquisition", "maxhead", "--oracle", f"{oracle}:f", "--quiet")
    assert_one_line_error(result, "--acquisition maxhead cannot run on the gp surrogate")
    assert not calls.exists() and campaigns(db) == []
    result = invoke("run", TASK, "--name", "x", "--storage", f"sqlite:///{db}", "--budget", "8", "--batch-size", "4",
                    "--selection", "sequential", "--select-acquisition", "maxhead", "--quiet")
    assert_one_line_error(result, "--select-acquisition maxhead cannot run on the gp surrogate")
    # with the ensemble it runs
    result = invoke("run", TASK, "--name", "x", "--storage", f"sqlite:///{db}", "--budget", "8", "--batch-size", "4",
                    "--acquisition", "maxhead", "--surrogate", "ensemble", "--particles", "4", "--steps", "5",
                    "--oracle", f"{oracle}:f", "--quiet")
    assert result.exit_code == 0, result.output
    assert len(calls.read_text()) == 8


def test_the_python_api_refuses_maxhead_on_a_gp_before_creating(tmp_path):
    url = f"sqlite:///{tmp_path / 'api.db'}"
    with pytest.raises(ConfigError, match="maxhead"):
        Campaign.open("x", storage=url, task=TASK, acquisition="maxhead")
    assert campaigns(tmp_path / "api.db") == []


@pytest.mark.parametrize(("value", "text"), [
    ("1.5", "function_seed must be a whole number; got 1.5"),
    ("abc", "function_seed must be a whole number; got 'abc'"),
    ("99999999999999999999", "is too large"),
    ("-1", "function_seed must be a whole number in [0, 2**63)"),
    ("true", "function_seed must be a whole number; got True"),
])
def test_a_bad_task_option_is_one_line_and_leaves_no_campaign(tmp_path, value, text):
    pytest.importorskip("holo")
    db = tmp_path / "r.db"
    result = invoke("run", "ehrlich", "--name", "x", "--storage", f"sqlite:///{db}", "--budget", "5",
                    "--task-option", f"function_seed={value}", "--quiet")
    assert_one_line_error(result, text)
    assert campaigns(db) == []


def test_option_types_are_checked_for_a_users_task_too(tmp_path):
    task_file = tmp_path / "mine.py"
    task_file.write_text(
        "from oboptim.tasks.gmm2d import TASK as BASE\n"
        "def make(scale: float = 1.0, rounds: int | None = None, label: str = 'a'):\n"
        "    return BASE\n")
    db = tmp_path / "r.db"
    for option, text in (("scale=abc", "scale must be a number; got 'abc'"),
                         ("rounds=2.5", "rounds must be a whole number; got 2.5"),
                         ("label=3", "label must be text; got 3")):
        result = invoke("run", f"{task_file}:make", "--name", "x", "--storage", f"sqlite:///{db}",
                        "--task-option", option)
        assert_one_line_error(result, text)
    assert campaigns(db) == []


def test_the_default_budget_holds_several_rounds_and_a_one_round_budget_warns(tmp_path):
    url = f"sqlite:///{tmp_path / 'b.db'}"
    assert default_budget(16) == 64 and default_budget(100) == 400
    # a task of one's own that names no budget, with rounds of 100 (a sequence task's default)
    task_file = tmp_path / "own.py"
    task_file.write_text("import dataclasses\nfrom oboptim.tasks.gmm2d import TASK as BASE\n"
                         "TASK = dataclasses.replace(BASE, defaults={'batch_size': 100})\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error", SmallBudgetWarning)
        campaign = Campaign.open("big", storage=url, task=f"{task_file}:TASK")
    assert campaign.budget == 400
    with pytest.warns(SmallBudgetWarning, match="holds one round of 100"):
        Campaign.open("small", storage=url, task=TASK, batch_size=100, budget=64)
    result = invoke("run", TASK, "--name", "cli", "--storage", url, "--batch-size", "8", "--budget", "8",
                    "--particles", "4", "--steps", "5", "--quiet")
    assert result.exit_code == 0, result.output
    assert "holds one round of 8" in result.output
