"""The crash-injection hook (OBOPTIM_CRASH_AT_COMMIT): what it counts, and where it kills."""

from __future__ import annotations

import os

import numpy as np
import pytest

from oboptim.storage import Storage
from oboptim.storage._crash_hook import CRASH_ENV_VAR, CRASH_EXIT_CODE, write_commits


def test_only_write_transactions_count(tmp_path, monkeypatch):
    monkeypatch.delenv(CRASH_ENV_VAR, raising=False)
    start = write_commits()
    with Storage(f"sqlite:///{tmp_path / 'c.db'}") as store:  # schema creation: one commit
        campaign, _ = store.get_or_create_campaign("c", task="toy", config={}, seed=0)  # one more
        store.list_campaigns()
        store.get_campaign("c")  # reads commit nothing
        (trial,) = store.add_round(campaign.id, 0, [np.zeros(2)], [{}], b"", {})
        store.complete_trial(trial.id, 1.0)
    assert write_commits() - start == 4


@pytest.mark.parametrize("side, trials_left", [("before", 0), ("after", 1)])
def test_the_process_dies_at_the_chosen_commit(tmp_path, side, trials_left):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    with Storage(url) as store:
        campaign, _ = store.get_or_create_campaign("c", task="toy", config={}, seed=0)
    pid = os.fork()
    if pid == 0:  # the child dies at its first write commit: the add_round
        os.environ[CRASH_ENV_VAR] = f"1:{side}"
        try:
            with Storage(url) as store:
                store.add_round(campaign.id, 0, [np.zeros(2)], [{}], b"", {})
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == CRASH_EXIT_CODE
    with Storage(url) as store:
        assert len(store.trials(campaign.id)) == trials_left


def test_a_bad_setting_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv(CRASH_ENV_VAR, "soon")
    with pytest.raises(ValueError, match=CRASH_ENV_VAR):
        Storage(f"sqlite:///{tmp_path / 'c.db'}")
