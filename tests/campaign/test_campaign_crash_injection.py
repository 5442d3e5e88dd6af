"""Crash injection: kill a campaign at EVERY database commit (just before it, and just after it), resume, and check.

An uninterrupted run counts its write commits first. Then, for each commit k and each side of it, a fresh process runs
the same campaign with OBOPTIM_CRASH_AT_COMMIT=k[:before] (the process ends with os._exit there, as if killed), and
another process resumes it. After every resume: no completed observation was lost or changed, no trial completed
before the crash was queried again (the oracle logs every trial id it scores), the counts are exact, and the history
is the one of the uninterrupted run with the same seed.

Processes come from a fork server that imported torch, botorch and oboptim once, so each run costs ~0.1-1 s.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from pathlib import Path

import pytest

from oboptim.storage import Storage, StorageNotFound
from oboptim.storage._arrays import float_to_bits
from oboptim.storage._crash_hook import CRASH_ENV_VAR, CRASH_EXIT_CODE

pytestmark = pytest.mark.process

HERE = Path(__file__).parent
TASK = f"{HERE / 'mixture_task.py'}:TASK"
NAME = "crash"
BUDGET = 8  # two rounds of 4: a prior round, then a GP + SMC round
SEED = 7
COUNT_FILE_SUFFIX = ".commits"
_PRELOAD = ["torch", "sympy", "torch.fx.experimental.symbolic_shapes", "botorch", "gpytorch", "oboptim._campaign",
            "oboptim.surrogates._gp"]


def run_campaign(url: str, oracle_log: str, crash_at: str | None) -> None:
    """Child process: open-or-resume the campaign and run it to its budget (maybe dying at a commit)."""
    import torch

    from oboptim import Campaign
    from oboptim.storage import _crash_hook as crash_hook

    torch.set_num_threads(1)
    if crash_at is None:
        os.environ.pop(CRASH_ENV_VAR, None)
    else:
        os.environ[CRASH_ENV_VAR] = crash_at
    campaign = Campaign.open(NAME, storage=url, task=TASK, seed=SEED, budget=BUDGET, batch_size=4)
    oracle = f"{sys.executable} {HERE / 'logging_oracle.py'} {oracle_log}"
    campaign.run(oracle_command=oracle, progress=False, log=lambda line: None)
    campaign.storage.close()
    Path(oracle_log + COUNT_FILE_SUFFIX).write_text(str(crash_hook.write_commits()))


@pytest.fixture(scope="module")
def fork_server():
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_PRELOAD)
    return context


def _run(context, url: str, log: Path, crash_at: str | None) -> int:
    process = context.Process(target=run_campaign, args=(url, str(log), crash_at))
    process.start()
    process.join(timeout=120)
    assert process.exitcode is not None, "a campaign process hung"
    return process.exitcode


def _trials(url: str) -> list:
    """The campaign's trials, or [] if the crash came before the campaign (or even the schema) was committed."""
    try:
        with Storage(url, create=False) as store:
            record = store.get_campaign(NAME)
            return [] if record is None else store.trials(record.id)
    except StorageNotFound:
        return []


def _log(path: Path) -> list[int]:
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def _history(trials: list) -> list[tuple]:
    """Everything that makes two runs the same campaign: numbers, rounds, states, exact x and values."""
    return [(t.number, t.round, t.state, t.x.dtype.str, t.x.tobytes(),
             None if t.value is None else float_to_bits(t.value)) for t in trials]


def test_crash_at_every_commit_then_resume(tmp_path, fork_server, reliability_report):
    reference_url = f"sqlite:///{tmp_path / 'reference.db'}"
    reference_log = tmp_path / "reference.log"
    assert _run(fork_server, reference_url, reference_log, None) == 0
    commit_points = int(Path(str(reference_log) + COUNT_FILE_SUFFIX).read_text())
    reference = _trials(reference_url)
    assert [t.state for t in reference] == ["completed"] * BUDGET
    assert sorted(_log(reference_log)) == sorted(t.id for t in reference)  # each trial scored exactly once
    assert commit_points >= BUDGET + 4  # schema, campaign, two rounds, one commit per outcome (and a few more)

    crashes = 0
    for point in range(1, commit_points + 1):
        for side in ("before", "after"):
            where = f"{point}:{side}"
            url = f"sqlite:///{tmp_path / f'crash-{point}-{side}.db'}"
            log = tmp_path / f"crash-{point}-{side}.log"
            assert _run(fork_server, url, log, where) == CRASH_EXIT_CODE, f"no crash at commit {where}"
            crashes += 1
            at_crash = _trials(url)
            completed = {t.id: float_to_bits(t.value) for t in at_crash if t.state == "completed"}
            queried_before = len(_log(log))

            assert _run(fork_server, url, log, None) == 0, f"resume after a crash at commit {where} failed"
            final = _trials(url)
            values = {t.id: float_to_bits(t.value) for t in final if t.state == "completed"}
            lost = {i: b for i, b in completed.items() if values.get(i) != b}
            assert not lost, f"crash at commit {where}: completed observations lost or changed: {sorted(lost)}"
            requeried = set(_log(log)[queried_before:]) & set(completed)
            assert not requeried, f"crash at commit {where}: completed trials queried again: {sorted(requeried)}"
            assert set(_log(log)) == {t.id for t in final}, f"crash at commit {where}: a trial was never scored"
            assert _history(final) == _history(reference), f"crash at commit {where}: history differs"
    reliability_report(f"crash injection: {commit_points} commit points x (before, after) = {crashes} crashes, "
                       f"each resumed: 0 observations lost, 0 completed trials re-queried, history identical")
