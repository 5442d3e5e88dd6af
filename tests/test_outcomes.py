"""record_outcomes: the retried batches an outcome went through are counted in its round's diagnostics."""

import numpy as np

from oboptim import RoundDiagnostics
from oboptim._outcomes import record_outcomes
from oboptim.oracles import Outcome
from oboptim.oracles._outcome import TransientFailure
from oboptim.storage import Storage


def _round(tmp_path, size=4):
    storage = Storage(f"sqlite:///{tmp_path / 'o.db'}")
    campaign, _ = storage.get_or_create_campaign("o", task="t", config={}, seed=0)
    trials = storage.add_round(campaign.id, 0, [np.zeros(2)] * size, [{}] * size, b"", {"source": "prior"})
    return storage, campaign.id, [t.id for t in trials]


def test_a_retried_batch_counts_once_and_separate_batches_add_up(tmp_path):
    storage, campaign_id, ids = _round(tmp_path)
    batch = TransientFailure("offline", tuple(ids[:2]), 0)
    record_outcomes(storage, campaign_id, [(i, Outcome(value=1.0, retried_after=(batch,))) for i in ids[:2]])
    diagnostics = RoundDiagnostics.from_json(storage.get_round(campaign_id, 0).diagnostics)
    assert (diagnostics.retried_batches, diagnostics.retry_reason) == (1, "offline")
    # an executor's trials are batches of one: two trials retried are two batches; a second call adds to the count
    record_outcomes(storage, campaign_id, [
        (ids[2], Outcome(value=1.0, retried_after=(TransientFailure("timeout", (ids[2],), 0),))),
        (ids[3], Outcome(error="broken", retried_after=(TransientFailure("busy", (ids[3],), 0),
                                                         TransientFailure("busy", (ids[3],), 1)))),
    ])
    diagnostics = RoundDiagnostics.from_json(storage.get_round(campaign_id, 0).diagnostics)
    assert (diagnostics.retried_batches, diagnostics.retry_reason) == (4, "busy")
    assert diagnostics.source == "prior"  # the rest of the diagnostics is kept
    storage.close()


def test_outcomes_without_retries_leave_the_diagnostics_alone(tmp_path):
    storage, campaign_id, ids = _round(tmp_path, size=1)
    record_outcomes(storage, campaign_id, [(ids[0], Outcome(value=2.0))])
    assert storage.get_round(campaign_id, 0).diagnostics == {"source": "prior"}
    storage.close()
