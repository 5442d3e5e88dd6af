"""Concurrency: 4 worker processes ask and tell 50 trials each on one campaign, on SQLite (WAL) and on PostgreSQL.

Every trial must be handed to exactly one worker, every tell must land, the counts must be exact, no worker may see
"database is locked" (or any other error), and no proposal may be computed and thrown away: one worker at a time
proposes (the proposer lease). Workers come from a fork server that imported oboptim once.
"""

from __future__ import annotations

import multiprocessing
import os
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from oboptim.storage import Storage

pytestmark = pytest.mark.process

HERE = Path(__file__).parent
TASK = f"{HERE / 'mixture_task.py'}:TASK"
WORKERS = 4
TRIALS_PER_WORKER = 50
ASK_SIZE = 25  # 2 asks of 25 per worker
_PRELOAD = ["torch", "sympy", "torch.fx.experimental.symbolic_shapes", "botorch", "gpytorch", "oboptim._campaign",
            "oboptim.surrogates._gp"]


def score(x: np.ndarray) -> float:
    return float(-np.sum((np.asarray(x, dtype=np.float64) - 4.0) ** 2))


def warm_up(_: int) -> int:
    time.sleep(0.2)
    return os.getpid()


def ask_and_tell(url: str, name: str, start_at: float) -> tuple[list[int], int]:
    """One worker: ask ASK_SIZE candidates and tell their values until it has told TRIALS_PER_WORKER; returns the
    trials it told and the proposals it computed and discarded."""
    import torch

    from oboptim import Campaign

    torch.set_num_threads(1)
    time.sleep(max(0.0, start_at - time.time()))
    campaign = Campaign.open(name, storage=url)
    told: list[int] = []
    while len(told) < TRIALS_PER_WORKER:
        for trial in campaign.ask(ASK_SIZE):
            campaign.tell(trial.id, score(trial.x))
            told.append(trial.id)
    campaign.storage.close()
    return told, campaign.discarded_proposals


@pytest.fixture(scope="module")
def worker_pool():
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_PRELOAD)
    with ProcessPoolExecutor(max_workers=WORKERS, mp_context=context) as pool:
        list(pool.map(warm_up, range(WORKERS)))
        yield pool


def test_four_workers_ask_and_tell_fifty_trials_each(storage_url, worker_pool, reliability_report):
    from oboptim import Campaign

    name = f"concurrent-{uuid.uuid4().hex[:8]}"
    total = WORKERS * TRIALS_PER_WORKER
    Campaign.open(name, storage=storage_url, task=TASK, seed=3, batch_size=ASK_SIZE, budget=total,
                  particles=8, steps=10).storage.close()
    start_at = time.time() + 0.5
    futures = [worker_pool.submit(ask_and_tell, storage_url, name, start_at) for _ in range(WORKERS)]
    results = [future.result(timeout=300) for future in futures]  # a worker's error (e.g. "database is locked") raises
    told = [ids for ids, _ in results]
    discarded = sum(count for _, count in results)

    with Storage(storage_url, create=False) as store:
        campaign = store.get_campaign(name)
        trials = store.trials(campaign.id)
        rounds = store.rounds(campaign.id)
        counts = store.count_trials(campaign.id)
        leftover = store.claim_trials(campaign.id, "checker", lease_seconds=60)
    all_told = [trial_id for ids in told for trial_id in ids]
    assert [len(ids) for ids in told] == [TRIALS_PER_WORKER] * WORKERS
    assert discarded == 0, "a proposal was computed and then thrown away"
    assert len(set(all_told)) == total, "a trial was handed to two workers"
    assert sorted(all_told) == sorted(t.id for t in trials)
    assert counts == {"waiting": 0, "running": 0, "completed": total, "failed": 0, "abandoned": 0}
    assert leftover == []
    assert [t.number for t in trials] == list(range(total))
    assert all(t.value == score(t.x) for t in trials)
    assert [r.round for r in rounds] == list(range(total // ASK_SIZE))
    owner = {trial_id: worker for worker, ids in enumerate(told) for trial_id in ids}
    for round_index in range(len(rounds)):  # each ask is one round, all of it handed to one worker
        members = [t for t in trials if t.round == round_index]
        assert len(members) == ASK_SIZE and len({owner[t.id] for t in members}) == 1
    backend = storage_url.split(":", 1)[0].split("+", 1)[0]
    reliability_report(f"concurrency ({backend}): {WORKERS} workers x {TRIALS_PER_WORKER} trials = {len(all_told)} "
                       f"told, {len(set(all_told))} distinct, {len(rounds)} rounds, counts {plain(counts)}, "
                       f"0 lock errors, discarded proposals: {discarded}")


def plain(counts):
    """``{"completed": 16, ...}``: trial states as their text, for the printed summary."""
    return {str(state): count for state, count in counts.items()}
