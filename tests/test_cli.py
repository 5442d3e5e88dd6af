"""The `oboptim` command: verbs, output, and one-line errors with a non-zero exit status."""

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from oboptim import CampaignSettings
from oboptim.cli import main
from oboptim.storage import Storage

TASK = str(Path(__file__).parent / "campaign" / "mixture_task.py") + ":TASK"


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def url(tmp_path):
    return f"sqlite:///{tmp_path / 'cli.db'}"



def stored_settings(url, name):
    with Storage(url) as store:
        return CampaignSettings.from_stored(store.get_campaign(name).config)


def invoke(runner, *args):
    return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)


def assert_one_line_error(result, text):
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.strip().splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith("error: ") and text in lines[0], result.output
    assert "Traceback" not in result.output


def test_tasks_lists_builtins(runner):
    result = invoke(runner, "tasks")
    assert result.exit_code == 0
    assert "gmm2d" in result.output and "swissroll3d" in result.output


def test_run_status_ask_tell_export(runner, url, tmp_path):
    result = invoke(runner, "run", TASK, "--name", "demo", "--storage", url, "--budget", 8, "--batch-size", 4,
                    "--quiet")
    assert result.exit_code == 0, result.output
    assert "round   1" in result.output and "best" in result.output
    status = invoke(runner, "status", "demo", "--storage", url)
    assert "completed 8" in status.output

    asked = invoke(runner, "ask", "demo", "-n", 2, "--storage", url)
    rows = [json.loads(line) for line in asked.output.strip().splitlines()]
    assert len(rows) == 2 and len(rows[0]["x"]) == 2
    told = invoke(runner, "tell", "demo", rows[0]["trial_id"], "1.5", "--storage", url)
    assert told.exit_code == 0
    again = invoke(runner, "tell", "demo", rows[0]["trial_id"], "1.5", "--storage", url)
    assert again.exit_code == 0
    failed = invoke(runner, "tell", "demo", rows[1]["trial_id"], "--fail", "spilled", "--storage", url)
    assert failed.exit_code == 0

    out = tmp_path / "trials.csv"
    assert invoke(runner, "export", "demo", "--storage", url, "--out", out).exit_code == 0
    lines = out.read_text().splitlines()
    assert lines[0].startswith("trial_id,number,round,state,value,error,x")
    assert len(lines) == 11
    exported = json.loads(invoke(runner, "export", "demo", "--storage", url, "--format", "json").output)
    assert exported[-1]["state"] == "failed" and exported[-1]["error"] == "spilled"
    assert exported[-2]["value"] == 1.5

    report = invoke(runner, "report", "demo", "--out", tmp_path / "report", "--storage", url)
    assert report.exit_code == 0
    for name in ("best_so_far.png", "rewards_per_round.png", "calibration.png", "queries.png"):
        assert (tmp_path / "report" / name).stat().st_size > 1000


def test_user_errors_are_one_line(runner, url, tmp_path):
    invoke(runner, "run", TASK, "--name", "demo", "--storage", url, "--budget", 4, "--batch-size", 4, "--quiet")
    assert_one_line_error(invoke(runner, "run", "no-such-task", "--name", "x", "--storage", url), "unknown task")
    assert_one_line_error(invoke(runner, "tell", "demo", 999, "1.0", "--storage", url), "has no trial 999")
    assert_one_line_error(invoke(runner, "tell", "demo", 1, "abc", "--storage", url), "not a number")
    assert_one_line_error(invoke(runner, "tell", "demo", 1, "7.0", "--storage", url), "already completed")
    assert_one_line_error(invoke(runner, "status", "nope", "--storage", url), "no campaign 'nope'")
    assert_one_line_error(invoke(runner, "run", TASK, "--name", "fresh", "--storage", url, "--oracle", "nope:fn"),
                          "could not load oracle")
    assert Storage(url).get_campaign("fresh") is None  # nothing written
    assert_one_line_error(invoke(runner, "run", TASK, "--name", "demo", "--storage", url, "--alpha", 0.5),
                          "alpha=0.02 (you passed 0.5)")
    assert_one_line_error(invoke(runner, "status", "--storage", "nosuchdialect://x"), "dialect")
    foreign = tmp_path / "foreign.db"
    foreign.write_bytes(b"\x00garbage" * 200)
    assert_one_line_error(invoke(runner, "status", "--storage", f"sqlite:///{foreign}"), "foreign.db")
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("create table people (name text)")
    assert_one_line_error(invoke(runner, "status", "--storage", f"sqlite:///{other}"), "other.db")


def test_newer_schema_is_a_clear_error(runner, url):
    invoke(runner, "run", TASK, "--name", "demo", "--storage", url, "--budget", 4, "--batch-size", 4, "--quiet")
    Storage(url).close()
    path = url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        conn.execute("update oboptim_meta set value = '99' where key = 'schema_version'")
    assert_one_line_error(invoke(runner, "status", "--storage", url), "upgrade oboptim")


FACTORY = str(Path(__file__).parent / "campaign" / "mixture_task.py") + ":make_task"
NEEDS_CORNER = str(Path(__file__).parent / "campaign" / "mixture_task.py") + ":needs_corner"


def test_task_options_are_stored_and_reused_on_resume(runner, url):
    first = invoke(runner, "run", FACTORY, "--name", "opts", "--storage", url, "--budget", 4, "--batch-size", 4,
                   "--task-option", "corner=-4", "--task-option", "noise=0.5", "--quiet")
    assert first.exit_code == 0, first.output
    store = Storage(url)
    assert stored_settings(url, "opts").task_options == {"corner": -4, "noise": 0.5}
    # resumed without options: the stored ones rebuild the task (its oracle rewards (-4, -4))
    again = invoke(runner, "run", "--name", "opts", "--storage", url, "--budget", 8, "--quiet")
    assert again.exit_code == 0, again.output
    best = max((t for t in store.trials(store.get_campaign("opts").id) if t.value is not None), key=lambda t: t.value)
    assert best.x[0] < 0 and best.x[1] < 0
    assert_one_line_error(
        invoke(runner, "run", "--name", "opts", "--storage", url, "--task-option", "corner=4"),
        "task_options={'corner': -4, 'noise': 0.5} (you passed {'corner': 4})")


def test_task_option_errors_write_nothing(runner, url):
    assert_one_line_error(invoke(runner, "run", FACTORY, "--name", "a", "--storage", url, "--task-option", "x"),
                          "must look like KEY=VALUE")
    assert_one_line_error(invoke(runner, "run", FACTORY, "--name", "a", "--storage", url,
                                 "--task-option", "corners=1"), "it takes corner, noise")
    assert_one_line_error(invoke(runner, "run", FACTORY, "--name", "a", "--storage", url,
                                 "--task-option", "corner=99"), "corner must lie within")
    assert_one_line_error(invoke(runner, "run", NEEDS_CORNER, "--name", "a", "--storage", url),
                          "required: corner")
    assert_one_line_error(invoke(runner, "run", "gmm2d", "--name", "a", "--storage", url, "--prompt", "a cat"),
                          "takes no options; drop prompt")
    assert Storage(url).list_campaigns() == []


def test_resume_without_task_and_worker_join(runner, url):
    assert_one_line_error(invoke(runner, "run", "--name", "later", "--storage", url), "give a TASK to create it")
    assert_one_line_error(invoke(runner, "run", TASK, "--name", "later", "--storage", url, "--worker"),
                          "start it first with `oboptim run TASK --name NAME`")
    assert Storage(url).list_campaigns() == []
    created = invoke(runner, "run", TASK, "--name", "shared", "--storage", url, "--budget", 4, "--batch-size", 4,
                     "--quiet")
    assert created.exit_code == 0, created.output
    joined = invoke(runner, "run", "--name", "shared", "--storage", url, "--worker", "--budget", 8, "--quiet")
    assert joined.exit_code == 0, joined.output
    assert "finished 8 trials" in joined.output
    assert_one_line_error(invoke(runner, "run", "--name", "shared", "--storage", url, "--worker", "--alpha", 3),
                          "alpha=0.02 (you passed 3.0)")


def test_a_named_oracle_needs_no_alpha_of_its_own(runner, url):
    """alpha in standard deviations (the default) suits JPEG kB and log-probabilities alike; the user's choice wins."""
    for name, oracle in (("small", "jpeg"), ("clf", "classifier:3")):
        result = invoke(runner, "run", "digits", "--name", name, "--storage", url, "--oracle", oracle, "--budget", 2,
                        "--batch-size", 2, "--steps", 2, "--quiet")
        assert result.exit_code == 0, result.output
        assert (stored_settings(url, name).alpha, stored_settings(url, name).alpha_units) == (0.02, "std")
    result = invoke(runner, "run", "digits", "--name", "mine", "--storage", url, "--oracle", "jpeg", "--alpha", 0.5,
                    "--budget", 2, "--batch-size", 2, "--steps", 2, "--quiet")
    assert stored_settings(url, "mine").alpha == 0.5


def test_a_named_oracles_defaults_override_the_tasks():
    from oboptim import CampaignSettings, Task

    task = Task(name="t", description="", load_prior=lambda device: None, oracle=lambda x: [0.0] * len(x),
                defaults={"alpha": 0.1, "particles": 8}, oracle_defaults={"jpeg": {"alpha": 0.0003}})
    assert CampaignSettings.resolve(task.defaults_for("jpeg")).alpha == 0.0003
    assert CampaignSettings.resolve(task.defaults_for("classifier:3")).alpha == 0.1
    assert CampaignSettings.resolve(task.defaults_for("jpeg"), {"alpha": 0.5}).alpha == 0.5


# -- issue 19, item 12: small things ---------------------------------------------------------------------------------


def _asked(url, name="small", n=2):
    """A campaign on the fast mixture task with ``n`` trials asked (waiting, held by the asker)."""
    from oboptim import Campaign

    campaign = Campaign.open(name, storage=url, task=TASK, seed=0, batch_size=2)
    asked = campaign.ask(n)
    campaign.storage.close()
    return asked


def test_an_unknown_trial_names_the_campaign_and_a_command_that_lists_trial_ids(runner, url):
    _asked(url, name="my lab")
    for args in (["tell", "my lab", 999, "1.0"], ["tell", "my lab", 999, "--fail", "x"], ["release", "my lab", 999]):
        result = invoke(runner, *args, "--storage", url)
        assert_one_line_error(result, "campaign 'my lab' has no trial 999: `oboptim export 'my lab'` lists its "
                                      "trial ids")
        assert "campaign 1" not in result.output


def test_release_all_asked_with_nothing_asked_says_so(runner, url):
    asked = _asked(url)
    assert invoke(runner, "release", "small", "--all-asked", "--storage", url).output == "".join(
        f"trial {t.id} released\n" for t in asked)
    again = invoke(runner, "release", "small", "--all-asked", "--storage", url)
    assert again.exit_code == 0 and again.output == "no trial of small is asked: nothing to release\n"
    assert_one_line_error(invoke(runner, "release", "small", "--storage", url),
                          "give the TRIAL_IDs to release, or --all-asked")


def test_tell_minus_zero_is_zero(runner, url):
    import math

    (trial, _) = _asked(url)
    result = invoke(runner, "tell", "small", trial.id, "-0", "--storage", url)
    assert result.exit_code == 0 and result.output == f"trial {trial.id} = 0\n", result.output
    with Storage(url) as store:
        assert math.copysign(1.0, store.get_trial(trial.id).value) == 1.0  # stored as 0.0, not -0.0


def test_export_help_names_every_column(runner):
    from oboptim._export import COLUMNS

    text = " ".join(invoke(runner, "export", "--help").output.split())
    assert all(column in text for column in COLUMNS), [c for c in COLUMNS if c not in text]


def test_rounds_txt_ends_with_a_newline(runner, url, tmp_path):
    _asked(url)
    assert invoke(runner, "report", "small", "--out", tmp_path / "report", "--storage", url).exit_code == 0
    assert (tmp_path / "report" / "rounds.txt").read_text().endswith("\n")


@pytest.mark.process
def test_oboptims_own_warnings_are_one_line(tmp_path):
    import shutil
    import subprocess
    import sys

    from oboptim import Campaign

    task_file = tmp_path / "mytask.py"
    shutil.copy(TASK.rpartition(":")[0], task_file)
    url = f"sqlite:///{tmp_path / 'w.db'}"
    Campaign.open("w", storage=url, task=f"{task_file}:TASK", seed=0, batch_size=2).storage.close()
    task_file.write_text(task_file.read_text() + "\n# edited\n")
    result = subprocess.run([sys.executable, "-m", "oboptim", "ask", "w", "-n", "1", "--storage", url],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        f"warning: the task file of campaign 'w' ({task_file}) changed since the campaign was created: its oracle, "
        "prior or features may differ from the stored trials'"], result.stderr
