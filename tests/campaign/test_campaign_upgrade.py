"""A real campaign written by the previous storage revision upgrades, then resumes where it stopped.

tests/storage/assets/campaign_schema_v1.db was written by oboptim at revision 0001 (scripts/make_campaign_asset.py):
campaign "asset-0001" on gmm2d, 8 completed trials, 2 trials asked by a lab, 1 trial left running by a worker on a
host that is gone (its lease long expired).
"""

import shutil
from pathlib import Path

import numpy as np
import pytest

from oboptim import Campaign, TrialState
from oboptim.storage import SchemaTooOld, Storage, upgrade

ASSET = Path(__file__).parents[1] / "storage" / "assets" / "campaign_schema_v1.db"


def corner(x):
    return list(-np.sum((np.asarray(x, dtype=np.float64) - 4.0) ** 2, axis=-1) / 2)


def test_the_previous_revisions_campaign_upgrades_and_resumes(tmp_path):
    path = tmp_path / "old.db"
    shutil.copy(ASSET, path)
    url = f"sqlite:///{path}"
    with pytest.raises(SchemaTooOld, match="oboptim upgrade"):
        Storage(url, create=False)
    before = {t.id: (t.state, t.value, t.x.tobytes()) for t in _trials_at_revision_0001(path)}
    upgrade(url)
    campaign = Campaign.open("asset-0001", storage=url)
    assert (campaign.settings.particles, campaign.settings.steps, campaign.budget) == (8, 10, 16)
    campaign.run(oracle=corner)
    trials = {t.id: t for t in campaign.trials()}
    for trial_id, (state, value, x) in before.items():  # nothing stored before the upgrade changed
        if state == TrialState.COMPLETED:
            assert (trials[trial_id].state, trials[trial_id].value, trials[trial_id].x.tobytes()) == (state, value, x)
    assert campaign.finished_count() == 16
    asked = [t for t in trials.values() if t.worker == "ask:lab"]
    assert len(asked) == 2 and all(t.state == TrialState.WAITING for t in asked)  # still the lab's
    stale = [t for t in trials.values() if t.round == 3]
    assert stale and all(t.state == TrialState.COMPLETED for t in stale)  # the dead worker's trial was taken over
    assert campaign.storage.proposer(campaign.id) is None


def _trials_at_revision_0001(path: Path):
    """The asset's trials, read with plain SQL (this oboptim refuses to open the old schema)."""
    import sqlite3

    from oboptim.storage import decode_array

    rows = sqlite3.connect(path).execute(
        "SELECT t.id, t.state, o.value, t.x_data, t.x_shape, t.x_dtype FROM trial t "
        "LEFT JOIN observation o ON o.trial_id = t.id").fetchall()
    import json
    from types import SimpleNamespace

    return [SimpleNamespace(id=i, state=TrialState(state), value=value,
                            x=decode_array(data, json.loads(shape), dtype))
            for i, state, value, data, shape, dtype in rows]
