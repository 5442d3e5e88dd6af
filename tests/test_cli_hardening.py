"""The command line in a new user's and a lab's hands: who owns asked trials, interrupts, API edges, one-line errors
for damaged, read-only and full databases, light reading commands, names, status, and where output goes.

Files are real SQLite databases; "read-only" is made with `chattr +i` (tests run as root, where permission bits do
not bind), and a full disk with the file size limit (`ulimit -f`) of a real child process.
"""

import json
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from oboptim import Campaign, ConfigError
from oboptim._campaign import TaskFileChangedWarning
from oboptim.cli import main
from oboptim.storage import InvalidValue, Storage

HERE = Path(__file__).parent
TASK_FILE = HERE / "campaign" / "mixture_task.py"
TASK = f"{TASK_FILE}:TASK"
SLOW_ORACLE = HERE / "campaign" / "logging_oracle.py"


def invoke(*args, input=None):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False, input=input)


def one_line_error(result, text):
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.strip().splitlines() if line and not line.startswith("warning")]
    assert len(lines) == 1 and lines[0].startswith("error: ") and text in lines[0], result.output
    return lines[0]


def oboptim(*args, cwd=None, timeout=120, **kwargs) -> subprocess.CompletedProcess:
    """A real `python -m oboptim` process."""
    return subprocess.run([sys.executable, "-m", "oboptim", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout, **kwargs)


@pytest.fixture
def url(tmp_path):
    return f"sqlite:///{tmp_path / 'lab.db'}"


@pytest.fixture
def immutable():
    """``make(path)``: chattr +i a file or directory until the test ends (skips where chattr is not available)."""
    made = []

    def make(path: Path) -> None:
        if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(path)]).returncode != 0:
            pytest.skip("needs `chattr +i` (e2fsprogs) on an ext4-like file system")
        made.append(path)

    yield make
    for path in made:
        subprocess.run(["chattr", "-i", str(path)])


def small_campaign(url, name="lab", budget=8, run=None):
    """A campaign of ``budget`` run to ``run`` finished trials (default: all), its storage closed afterwards."""
    c = Campaign.open(name, storage=url, task=TASK, seed=0, batch_size=4, budget=budget)
    c.run(budget=budget if run is None else run)
    c.storage.close()  # the last connection checkpoints the WAL into the file
    return c


# -- 1. trials asked for someone belong to them -----------------------------------------------------------------------


def test_run_leaves_asked_trials_to_the_asker_and_proposes_new_ones(url, tmp_path):
    Campaign.open("lab", storage=url, task=TASK, seed=0, batch_size=4, budget=8)
    asked = [json.loads(line) for line in invoke("ask", "lab", "-n", 4, "--storage", url).output.splitlines()]
    log = tmp_path / "oracle.log"
    result = invoke("run", "--name", "lab", "--storage", url, "--budget", 8, "--quiet",
                    "--oracle-cmd", f"{sys.executable} {SLOW_ORACLE} {log}")
    assert result.exit_code == 0, result.output
    assert "4 trial(s) asked with `oboptim ask` still wait" in result.output
    scored = set(log.read_text().split())
    assert not scored & {str(row["trial_id"]) for row in asked}  # the lab's trials were not queried by run
    told = invoke("tell", "lab", asked[0]["trial_id"], "0.5", "--storage", url)
    assert told.exit_code == 0, told.output  # the lab's value is accepted
    summary = json.loads(invoke("status", "lab", "--storage", url, "--json").output)
    assert summary["held"] == 3 and summary["counts"]["completed"] == 9


def test_released_and_expired_asks_go_back_to_the_workers(url):
    c = Campaign.open("lab", storage=url, task=TASK, seed=0, batch_size=4, budget=4)
    first = c.ask(2)
    c.ask(2, lease_seconds=0.05)
    time.sleep(0.1)  # the lease the asker set has run out
    assert [t.id for t in c.storage.claim_trials(c.id, "w", 60)] == [t.id for t in c.trials()][2:]
    released = invoke("release", "lab", "--all-asked", "--storage", url)
    assert released.exit_code == 0 and f"trial {first[0].id} released" in released.output
    assert {t.id for t in c.storage.claim_trials(c.id, "w", 60)} == {t.id for t in first}
    one_line_error(invoke("release", "lab", "--storage", url), "give the TRIAL_IDs")


# -- 5. an interrupted run hands its trials back ----------------------------------------------------------------------


@pytest.mark.process
def test_after_ctrl_c_the_interrupted_trials_are_waiting_not_running(url, tmp_path):
    log = tmp_path / "oracle.log"
    slow = f"{sys.executable} -c \"import sys, time; open('{log}', 'a').write('started'); time.sleep(60)\""
    process = subprocess.Popen([sys.executable, "-m", "oboptim", "run", TASK, "--name", "lab", "--storage", url,
                                "--budget", "4", "--batch-size", "4", "--quiet", "--oracle-cmd", slow],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not log.exists():
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    counts = json.loads(invoke("status", "lab", "--storage", url, "--json").output)["counts"]
    assert counts["running"] == 0 and counts["waiting"] == 4


# -- 6. Python API edges ----------------------------------------------------------------------------------------------


def test_api_edges_are_refused_or_do_nothing(url):
    c = Campaign.open("lab", storage=url, task=TASK, seed=0, batch_size=4, budget=8)
    c.run(budget=0)
    assert c.trials() == []  # a budget of 0 spends no query
    assert c.ask(0) == []
    for bad in (-1, 1.5, True):
        with pytest.raises(ConfigError, match="ask needs a number of candidates"):
            c.ask(bad)
    with pytest.raises(ConfigError, match="budget must be"):
        c.run(budget=-3)
    (trial,) = c.ask(1)
    with pytest.raises(InvalidValue, match="True is not a number"):
        c.tell(trial.id, True)
    with pytest.raises(InvalidValue, match="give a reason"):
        c.fail(trial.id, "  \n ")
    failed = c.fail(trial.id, "spilled\n" + "x" * 2000)
    assert "\n" not in failed.error and len(failed.error) == 500


# -- 8, 9. damaged, read-only and full databases: one line, nothing lost --------------------------------------------


def test_export_and_report_to_a_path_that_cannot_be_written(url, tmp_path):
    small_campaign(url, budget=4)
    one_line_error(invoke("export", "lab", "--storage", url, "--out", tmp_path / "missing" / "x.csv"), "cannot write")
    (tmp_path / "file").write_text("")
    one_line_error(invoke("report", "lab", "--storage", url, "--out", tmp_path / "file" / "plots"), "cannot write")


def test_a_read_only_database_fails_before_any_proposal_and_still_reads(url, tmp_path, immutable):
    small_campaign(url, budget=4)
    with Storage(url) as store:
        held = Campaign.open("lab", storage=store).ask(1)[0].id
    immutable(tmp_path / "lab.db")
    started = time.perf_counter()
    line = one_line_error(invoke("ask", "lab", "--storage", url), "read-only")
    assert "nothing was written" in line and time.perf_counter() - started < 5
    one_line_error(invoke("run", "--name", "lab", "--storage", url, "--budget", 8), "read-only")
    one_line_error(invoke("tell", "lab", held, "2.0", "--storage", url), "read-only")
    assert "completed 4" in invoke("status", "lab", "--storage", url).output


def test_a_read_only_directory_still_reads(url, tmp_path, immutable):
    small_campaign(url, budget=4)
    for leftover in tmp_path.glob("lab.db-*"):
        leftover.unlink()  # as after a clean exit: WAL's files are gone, and cannot be made again
    immutable(tmp_path)
    status = invoke("status", "lab", "--storage", url)
    assert status.exit_code == 0 and "completed 4" in status.output, status.output
    assert invoke("export", "lab", "--storage", url).output.count("\n") == 5


@pytest.mark.process
def test_a_damaged_database_is_a_one_line_error(url, tmp_path):
    small_campaign(url, budget=8)
    path = tmp_path / "lab.db"
    data = bytearray(path.read_bytes())
    page = 4096  # page 1 (the schema) stays intact; every table and index page after it is clobbered
    data[page:] = bytes([0xA5]) * (len(data) - page)
    path.write_bytes(bytes(data))
    for args in (("status", "lab"), ("export", "lab"), ("run", "--name", "lab", "--budget", 12)):
        result = oboptim(*args, "--storage", url)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert result.stderr.startswith("error: ") and "damaged" in result.stderr, result.stderr


def test_a_full_disk_while_telling_is_a_one_line_error_and_loses_nothing(url, tmp_path):
    small_campaign(url, budget=4)
    c = Campaign.open("lab", storage=url)
    asked = c.ask(64)
    size = (tmp_path / "lab.db").stat().st_size
    wal = tmp_path / "lab.db-wal"

    def limit_file_size():
        cap = max(size, wal.stat().st_size if wal.exists() else 0)
        resource.setrlimit(resource.RLIMIT_FSIZE, (cap, cap))

    result = oboptim("tell", "lab", asked[0].id, "-1.5", "--storage", url, preexec_fn=limit_file_size)
    if result.returncode == 0:
        pytest.skip("the write fit in the file's current size on this file system")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("error: ") and "nothing was written" in result.stderr, result.stderr
    assert Campaign.open("lab", storage=url).finished_count() == 4


# -- 10. reading and telling commands load no model -------------------------------------------------------------------


@pytest.mark.parametrize("command", [["status", "lab"], ["tell", "lab", "5", "-3.5"], ["export", "lab"], ["tasks"],
                                     ["release", "lab", "5"]])
def test_reading_and_telling_commands_import_no_torch(url, command):
    small_campaign(url, budget=4)
    Campaign.open("lab", storage=url).ask(2)
    args = [*command, "--storage", url] if command[0] != "tasks" else command
    code = ("import sys; from oboptim.cli import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
            "print(sorted(m for m in ('torch', 'diffusers', 'botorch', 'transformers') if m in sys.modules),"
            " file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().splitlines()[-1] == "[]"


# -- 11. negative values ----------------------------------------------------------------------------------------------


def test_tell_takes_negative_values(url):
    c = Campaign.open("lab", storage=url, task=TASK, seed=0, batch_size=2)
    (trial, _) = c.ask(2)
    result = invoke("tell", "lab", trial.id, "-3.5", "--storage", url)
    assert result.exit_code == 0 and "= -3.5" in result.output, result.output
    assert c.storage.get_trial(trial.id).value == -3.5
    one_line_error(invoke("tell", "lab", trial.id, "--frobnicate", "--storage", url), "is not a number")


# -- 12, 13. task files and oracle modules from the working directory -------------------------------------------------


def test_a_relative_task_file_is_stored_resolved_and_any_directory_can_use_the_campaign(tmp_path, monkeypatch):
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    shutil.copy(TASK_FILE, project / "mytask.py")
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    monkeypatch.chdir(project)
    Campaign.open("mine", storage=url, task="mytask.py:TASK", seed=0, budget=4).run()
    Campaign.open("mine", storage=url, task="./mytask.py:TASK")  # the same task
    monkeypatch.chdir(elsewhere)
    assert invoke("export", "mine", "--storage", url).output.count("\n") == 5
    Campaign.open("mine", storage=url).run(budget=8)  # resumed from another directory
    (project / "mytask.py").write_text((project / "mytask.py").read_text() + "\n# edited\n")
    with pytest.warns(TaskFileChangedWarning, match="changed since the campaign was created"):
        Campaign.open("mine", storage=url)
    (project / "mytask.py").unlink()
    assert invoke("export", "mine", "--storage", url).exit_code == 0  # reading needs no task


@pytest.mark.process
def test_a_module_oracle_in_the_working_directory_is_found_by_the_console_script(tmp_path):
    (tmp_path / "my_lab.py").write_text("import numpy as np\n\ndef assay(x):\n    return list(-np.sum(x ** 2, 1))\n")
    console = Path(sys.executable).with_name("oboptim")
    if not console.exists():
        pytest.skip("the oboptim console script is not installed beside this interpreter")
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    run = subprocess.run([str(console), "run", TASK, "--name", "m", "--storage", url, "--budget", "4", "--quiet",
                          "--oracle", "my_lab:assay"], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert run.returncode == 0, run.stderr
    one_line_error(invoke("run", "gmm2d", "--name", "g", "--storage", url, "--oracle", "cornr"), "--oracle corner")


# -- 14. campaign names ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "text"), [("", "empty"), ("two\nlines", "newlines"), ("x" * 300, "too long"),
                                            (" padded", "spaces")])
def test_bad_campaign_names_are_refused_and_nothing_is_written(url, tmp_path, name, text):
    one_line_error(invoke("run", TASK, "--name", name, "--storage", url, "--budget", 4), text)
    with Storage(url) as store:
        assert store.list_campaigns() == []


# -- 15. status --------------------------------------------------------------------------------------------------------


def test_status_shows_the_budget_and_a_finished_campaign_and_speaks_json(url):
    Campaign.open("lab", storage=url, task=TASK, seed=0, batch_size=4, budget=8).storage.close()
    text = invoke("status", "lab", "--storage", url).output
    assert "0/8 finished" in text and text.strip().endswith("active")
    small_campaign(url, budget=8, run=4)  # the last run's budget is the campaign's
    text = invoke("status", "lab", "--storage", url).output
    assert "4/4 finished" in text and text.strip().endswith(", finished")
    Campaign.open("lab", storage=url).run(budget=8)
    text = invoke("status", "lab", "--storage", url).output
    assert "8/8 finished" in text and text.strip().endswith(", finished")
    summary = json.loads(invoke("status", "--storage", url, "--json").output)
    assert summary["status"] == "finished" and summary["budget"] == 8 and summary["best"]["value"] <= 0


# -- 16, 17. where output goes; help, wording, in-memory storage ------------------------------------------------------


@pytest.mark.process
def test_results_on_stdout_diagnostics_on_stderr(tmp_path):
    (tmp_path / "chatty.py").write_text("import numpy as np\n\ndef oracle(x):\n    print('measuring', len(x))\n"
                                        "    return list(-np.sum(x ** 2, 1))\n")
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    for quiet in ((), ("--quiet",)):
        result = oboptim("run", TASK, "--name", f"c{len(quiet)}", "--storage", url, "--budget", 8,
                         "--oracle", f"{tmp_path / 'chatty.py'}:oracle", *quiet)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().splitlines() == [result.stdout.strip()]
        assert result.stdout.startswith("finished 8 trials")
        assert "round   1" in result.stderr and "measuring" in result.stderr


def test_help_wording_and_in_memory_storage():
    text = " ".join(invoke("run", "--help").output.split())
    for flag in ("--batch-size", "--seed", "--oracle-timeout", "--alpha"):
        assert flag in text
    assert "[default: the task's, else 16]" in text and "file.py:function (run in a worker process)" in text
    missing = invoke("status", "--storage", "sqlite:////no/such/dir/x.db")
    assert "create=True" not in missing.output
    memory = invoke("run", TASK, "--name", "m", "--storage", "sqlite://", "--budget", 4, "--quiet")
    assert memory.exit_code == 0 and "keeps the campaign in memory" in memory.output


def test_an_empty_database_file_is_not_explained_in_python_terms(tmp_path):
    path = tmp_path / "empty.db"
    path.touch()
    result = invoke("status", "--storage", f"sqlite:///{path}")
    assert result.exit_code == 2 and "create=True" not in result.output and "oboptim run" in result.output

