"""docs/sequences.md runs as written: its task file and oracle command are extracted, its commands and Python run (short
campaigns), and the JSON line it shows is what `--oracle-cmd` receives."""

from __future__ import annotations

import json
import re
import runpy
import shlex
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from oboptim import Campaign, load_task
from oboptim.cli import main

DOC = Path(__file__).resolve().parents[2] / "docs" / "sequences.md"
FENCE = re.compile(r"(?:<!-- file: (?P<file>\S+) -->\n)?```(?P<lang>\w+)\n(?P<code>.*?)```", re.S)
SHORT = ["--budget", "20", "--batch-size", "10"]  # a short campaign: the prior's round and one sampler round


def blocks(lang: str) -> list[tuple[str | None, str]]:
    """``(file name or None, code)`` of each fenced block of ``lang`` in the page, in order."""
    return [(m["file"], m["code"]) for m in FENCE.finditer(DOC.read_text()) if m["lang"] == lang]


def commands() -> list[list[str]]:
    """The page's ``oboptim ...`` command lines as argument lists (without ``oboptim`` and any ``| ...`` after)."""
    lines = [line for _, code in blocks("bash") for line in code.splitlines() if line.startswith("oboptim ")]
    return [shlex.split(line.split(" | ")[0])[1:] for line in lines]


@pytest.fixture
def example(tmp_path, monkeypatch):
    """The page's files written into a fresh working directory, which the test runs in."""
    files = [(name, code) for name, code in blocks("python") if name]
    assert [name for name, _ in files] == ["my_sequences.py", "score.py"]
    for name, code in files:
        (tmp_path / name).write_text(code)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_cli(args: list[str]):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return result


def test_the_task_file_builds_a_sequence_task_with_a_prior_fitted_to_the_known_sequences(example):
    task = load_task("my_sequences.py:TASK")
    assert task.sequence.alphabet == "ACDEFGHIKLMNPQRSTVWY" and task.sequence.length == 12
    prior = task.load_prior("cpu")
    known = np.stack([task.sequence.parse(s) for s in runpy.run_path("my_sequences.py")["KNOWN_GOOD"]])
    values = task.oracle(known)
    assert len(values) == len(known) and all(0 <= v <= 1 for v in values)
    assert prior.sample_shape == (12, 20)


def test_the_commands_and_the_python_run_short_campaigns(example):
    run, export = commands()[:2]
    assert run[:2] == ["run", "my_sequences.py:TASK"] and export[0] == "export"
    run_cli([*run, *SHORT, "--storage", "sqlite:///cli.db"])
    exported = run_cli([*export, "--storage", "sqlite:///cli.db"]).output.splitlines()
    assert len(exported) == 21 and re.search(r",[ACDEFGHIKLMNPQRSTVWY]{12},", exported[1])

    (_, code), = [block for block in blocks("python") if block[0] is None]
    exec(compile(code.replace("budget=40", "budget=20"), str(DOC), "exec"), {})  # noqa: S102 - the page's own code
    campaign = Campaign.open("peptides-api", storage="sqlite:///peptides.db")
    xs = np.stack([t.x for t in campaign.trials()])
    assert xs.shape == (20, 12) and len({row.tobytes() for row in xs}) == 20
    campaign.storage.close()


def test_the_oracle_command_gets_the_lines_the_page_shows_and_scores_like_the_task(example):
    from oboptim.oracles._shell import _encode_batch

    task = load_task("my_sequences.py:TASK")
    (shown,) = [code for _, code in blocks("text")]
    line = json.loads(shown)
    x = np.array([line["x"]])
    assert _encode_batch([line["trial_id"]], x, task.sequence) == shown  # the page shows what is sent

    command = [args for args in commands() if "--oracle-cmd" in args][0]
    oracle_cmd = command[command.index("--oracle-cmd") + 1]
    assert oracle_cmd == "python score.py"
    command[command.index("--oracle-cmd") + 1] = f"{shlex.quote(sys.executable)} score.py"
    run_cli([*command, *SHORT, "--storage", "sqlite:///lab.db"])
    campaign = Campaign.open("peptides-lab", storage="sqlite:///lab.db")
    trials = campaign.trials()
    assert len(trials) == 20 and all(t.state == "completed" for t in trials)
    assert [t.value for t in trials] == pytest.approx(task.oracle(np.stack([t.x for t in trials])))
    campaign.storage.close()
