"""Conformance suite for storage backends: subclass `StorageConformance` and provide a `storage_url` fixture.

    class TestMyBackend(StorageConformance):
        @pytest.fixture
        def storage_url(self, tmp_path):
            return "sqlite:///" + str(tmp_path / "suite.db")

The URL may point at a shared database (e.g. one PostgreSQL database for the whole run): every test works in
campaigns with fresh unique names. Concurrency tests run real processes (spawn), so the helpers they run live in
this importable module.
"""

from __future__ import annotations

import multiprocessing
import struct
import time
import uuid
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

from oboptim.storage import (
    ALL_STATES,
    InvalidValue,
    RoundExistsError,
    Storage,
    TrialConflictError,
    TrialState,
    UnknownCampaignError,
    UnknownTrialError,
)

WORKER_COUNT = 4


# ---------------------------------------------------------------- helpers run in child processes


def warm_up(_: int) -> int:
    """Runs once on each pool worker, so that all of them are started and have imported oboptim.storage."""
    time.sleep(0.2)
    return multiprocessing.current_process().pid


def _wait_until(start_at: float) -> None:
    time.sleep(max(0.0, start_at - time.time()))


def claim_until_none_left(url: str, campaign_id: int, worker: str, start_at: float) -> list[int]:
    """Claim trials two at a time until none is left; returns the ids this worker got."""
    _wait_until(start_at)
    with Storage(url, create=False) as storage:
        claimed: list[int] = []
        while batch := storage.claim_trials(campaign_id, worker, lease_seconds=600.0, limit=2):
            claimed.extend(trial.id for trial in batch)
        return claimed


def open_campaign(url: str, name: str, start_at: float) -> tuple[int, bool]:
    """Open the storage (maybe creating the schema) and get-or-create campaign `name`."""
    _wait_until(start_at)
    with Storage(url) as storage:
        record, created = storage.get_or_create_campaign(name, task="toy", config={"alpha": 0.5}, seed=3)
        return record.id, created


def complete_trial(url: str, trial_id: int, value: float) -> float | None:
    with Storage(url, create=False) as storage:
        return storage.complete_trial(trial_id, value).value


# ---------------------------------------------------------------- test data


def _bits(value: float) -> bytes:
    return struct.pack("<d", value)


def _nan_with_payload(dtype: str, payload: int) -> np.ndarray:
    """A NaN whose mantissa carries `payload` (e.g. for float32 0x7fc00000 | payload)."""
    if dtype == "float32":
        return np.array([0x7FC00000 | payload], dtype=np.uint32).view(np.float32)
    return np.array([0x7FF8000000000000 | payload], dtype=np.uint64).view(np.float64)


ARRAY_CASES = {
    "f32_nan_payloads": np.concatenate(
        [_nan_with_payload("float32", 0x1234), np.array([-0.0, np.inf, -np.inf, 1e-45], np.float32)]
    ),
    "f64_nan_payloads": np.concatenate(
        [_nan_with_payload("float64", 0xBEEF), np.array([-0.0, 5e-324, np.finfo(np.float64).max])]
    ),
    "f64_signalling_nan": np.array([0x7FF0000000000001], dtype=np.uint64).view(np.float64),
    "f32_image": np.arange(3 * 8 * 8, dtype=np.float32).reshape(3, 8, 8) / 7.0,
    "f64_zero_dim": np.array(np.pi),
    "f64_empty": np.zeros((0, 3)),
    "f64_big_endian": np.array([1.5, -2.25, np.nan], dtype=">f8"),
    "f64_fortran_order": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
    "int64_extremes": np.array([np.iinfo(np.int64).min, -1, 0, np.iinfo(np.int64).max]),
    "uint8": np.array([[0, 255], [7, 128]], dtype=np.uint8),
    "bool": np.array([True, False, True]),
    "complex128": np.array([1 + 2j, np.nan - 0.0j]),
}

FLOAT_EDGE_VALUES = {
    "max": np.finfo(np.float64).max,
    "lowest": -np.finfo(np.float64).max,
    "smallest_subnormal": 5e-324,
    "smallest_normal": np.finfo(np.float64).tiny,
    "negative_zero": -0.0,
    "zero": 0.0,
    "huge": 1e300,
    "tenth": 0.1,
    "big_integer": 2.0**60,
    "numpy_float32": np.float32(0.1),
}


class StorageConformance:
    """Behaviour every storage backend must have. Subclasses provide the `storage_url` fixture."""

    @pytest.fixture
    def storage_url(self) -> str:
        raise NotImplementedError("subclasses provide a storage_url fixture")

    @pytest.fixture
    def storage(self, storage_url):
        with Storage(storage_url) as storage:
            yield storage

    @pytest.fixture
    def campaign(self, storage):
        record, created = storage.get_or_create_campaign(_unique_name(), task="toy", config={"a": 1}, seed=7)
        assert created
        return record

    @pytest.fixture(scope="class")
    @classmethod
    def process_pool(cls):
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=WORKER_COUNT, mp_context=context) as pool:
            list(pool.map(warm_up, range(WORKER_COUNT)))
            yield pool

    # ------------------------------------------------------------ campaigns

    def test_create_then_open_campaign(self, storage):
        name = _unique_name()
        config = {"alpha": 0.1, "nested": {"steps": [1, 2]}, "threshold": float("inf")}
        created, was_created = storage.get_or_create_campaign(name, task="gmm2d", config=config, seed=11)
        opened, opened_created = storage.get_or_create_campaign(name, task="other", config={}, seed=0)
        assert (was_created, opened_created) == (True, False)
        assert opened == created
        assert (opened.task, opened.seed, opened.status, opened.config) == ("gmm2d", 11, "active", config)
        assert opened.created_at.utcoffset().total_seconds() == 0
        assert storage.get_campaign(name) == created
        assert storage.get_campaign(_unique_name()) is None
        assert name in [c.name for c in storage.list_campaigns()]
        storage.set_campaign_status(created.id, "finished")
        assert storage.get_campaign(name).status == "finished"

    def test_unknown_campaign(self, storage):
        with pytest.raises(UnknownCampaignError):
            storage.add_round(10**9, 0, [np.zeros(2)], [{}], rng_state=b"", diagnostics={})
        with pytest.raises(UnknownCampaignError):
            storage.set_campaign_status(10**9, "finished")

    # ------------------------------------------------------------ rounds

    def test_rounds_number_trials_in_order(self, storage, campaign):
        first = _add_round(storage, campaign, 0, count=3, surrogate={"train_size": 0})
        second = _add_round(storage, campaign, 1, count=2, rng_state=b"\x00\xffstate")
        assert [t.number for t in first + second] == [0, 1, 2, 3, 4]
        assert [t.number for t in storage.trials(campaign.id, round=1)] == [3, 4]
        assert [r.round for r in storage.rounds(campaign.id)] == [0, 1]
        assert storage.get_round(campaign.id, 1).rng_state == b"\x00\xffstate"
        assert storage.get_round(campaign.id, 2) is None
        snapshots = storage.surrogate_snapshots(campaign.id)
        assert [(s.round, s.train_size) for s in snapshots] == [(0, 0)]

    def test_existing_round_writes_nothing(self, storage, campaign):
        _add_round(storage, campaign, 0, count=2, rng_state=b"first", surrogate={"train_size": 1})
        with pytest.raises(RoundExistsError):
            _add_round(storage, campaign, 0, count=5, rng_state=b"second", surrogate={"train_size": 9})
        assert storage.count_trials(campaign.id)[TrialState.WAITING] == 2
        assert storage.get_round(campaign.id, 0).rng_state == b"first"
        assert [s.train_size for s in storage.surrogate_snapshots(campaign.id)] == [1]

    def test_max_trials_caps_a_round(self, storage, campaign):
        first = _add_round(storage, campaign, 0, count=3, max_trials=5)
        storage.abandon_trial(first[0].id, "not counted")
        second = _add_round(storage, campaign, 1, count=4, max_trials=5)
        assert [t.number for t in second] == [3, 4, 5]  # 2 live trials + 3 = 5; the 4th candidate is dropped
        assert _add_round(storage, campaign, 2, count=2, max_trials=5) == []
        assert storage.get_round(campaign.id, 2) is None and len(storage.trials(campaign.id)) == 6

    def test_round_diagnostics_merge(self, storage, campaign):
        diagnostics = {"ess": [100.0, float("nan")], "log_z": float("-inf"), "lambda": np.array([0.5, 1.0])}
        _add_round(storage, campaign, 0, count=1, diagnostics=diagnostics)
        storage.update_round_diagnostics(campaign.id, 0, {"log_z": 1.5, "oracle_seconds": 2.0})
        stored = storage.get_round(campaign.id, 0).diagnostics
        assert stored["lambda"] == [0.5, 1.0] and stored["log_z"] == 1.5 and stored["oracle_seconds"] == 2.0
        assert stored["ess"][0] == 100.0 and np.isnan(stored["ess"][1])

    def test_running_round_is_leased(self, storage, campaign):
        trials = _add_round(storage, campaign, 0, count=2, state="running", worker="w0", lease_seconds=60)
        for trial in trials:
            assert (trial.state, trial.worker) == ("running", "w0")
            assert trial.lease_expires_at > trial.started_at
        assert storage.claim_trials(campaign.id, "w1", lease_seconds=60) == []

    # ------------------------------------------------------------ arrays and JSON

    @pytest.mark.parametrize("case", sorted(ARRAY_CASES))
    def test_array_round_trips_bit_for_bit(self, storage, campaign, case):
        x = ARRAY_CASES[case]
        (returned,) = storage.add_round(campaign.id, 0, [x], [{}], rng_state=b"", diagnostics={})
        for trial in (returned, storage.get_trial(returned.id), storage.trials(campaign.id)[0]):
            assert trial.x.shape == x.shape and trial.x.dtype == x.dtype
            assert trial.x.tobytes() == np.ascontiguousarray(x).tobytes()

    def test_provenance_json_with_non_finite_floats(self, storage, campaign):
        provenance = {
            "acquisition": float("nan"),
            "predicted": {"mean": float("inf"), "std": float("-inf")},
            "log_weight": np.float32(-3.5),
            "steps": np.arange(3),
            "negative_zero": -0.0,
            "exact": 0.1 + 0.2,
        }
        (trial,) = storage.add_round(campaign.id, 0, [np.zeros(2)], [provenance], rng_state=b"", diagnostics={})
        for read in (trial, storage.get_trial(trial.id)):
            stored = read.provenance
            assert np.isnan(stored["acquisition"])
            assert stored["predicted"] == {"mean": float("inf"), "std": float("-inf")}
            assert stored["log_weight"] == -3.5 and stored["steps"] == [0, 1, 2]
            assert _bits(stored["negative_zero"]) == _bits(-0.0) and stored["exact"] == 0.1 + 0.2

    # ------------------------------------------------------------ outcomes

    @pytest.mark.parametrize("case", sorted(FLOAT_EDGE_VALUES))
    def test_float_edge_values_round_trip(self, storage, campaign, case):
        value = FLOAT_EDGE_VALUES[case]
        (trial,) = _add_round(storage, campaign, 0, count=1)
        completed = storage.complete_trial(trial.id, value)
        for read in (completed, storage.get_trial(trial.id), storage.trials(campaign.id)[0]):
            assert read.state == "completed" and _bits(read.value) == _bits(float(value))

    @pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), np.float32("nan"), "1.0", None])
    def test_non_finite_value_writes_nothing(self, storage, campaign, value):
        (trial,) = _add_round(storage, campaign, 0, count=1)
        with pytest.raises(InvalidValue, match=f"trial {trial.id}") as raised:
            storage.complete_trial(trial.id, value)
        assert isinstance(raised.value, ValueError)
        stored = storage.get_trial(trial.id)
        assert (stored.state, stored.value, stored.finished_at) == ("waiting", None, None)

    @pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
    def test_non_finite_outcome_is_stored_as_a_failure(self, storage, campaign, value):
        """What an oracle's NaN/inf becomes: the value is refused, the trial is marked failed, and stays so."""
        (trial,) = _add_round(storage, campaign, 0, count=1)
        with pytest.raises(InvalidValue):
            storage.complete_trial(trial.id, value)
        failed = storage.fail_trial(trial.id, f"oracle returned {value}")
        for read in (failed, storage.get_trial(trial.id)):
            assert (read.state, read.value, read.error) == ("failed", None, f"oracle returned {value}")
        with pytest.raises(TrialConflictError):
            storage.complete_trial(trial.id, 1.0)
        assert storage.count_trials(campaign.id)["failed"] == 1

    def test_invalid_sem_writes_nothing(self, storage, campaign):
        (trial,) = _add_round(storage, campaign, 0, count=1)
        with pytest.raises(InvalidValue):
            storage.complete_trial(trial.id, 1.0, sem=-0.5)
        assert storage.get_trial(trial.id).state == "waiting"
        done = storage.complete_trial(trial.id, 1.0, sem=0.25, rater="alice")
        assert (done.sem, done.rater) == (0.25, "alice")

    def test_duplicate_tell_is_a_no_op(self, storage, campaign):
        (trial,) = _add_round(storage, campaign, 0, count=1)
        first = storage.complete_trial(trial.id, 1.25)
        again = storage.complete_trial(trial.id, 1.25)
        assert (again.value, again.finished_at) == (1.25, first.finished_at)

    def test_conflicting_tell_raises_and_keeps_value(self, storage, campaign):
        a, b = _add_round(storage, campaign, 0, count=2)
        storage.complete_trial(a.id, 1.25)
        with pytest.raises(TrialConflictError, match=r"1\.25.*2\.5"):
            storage.complete_trial(a.id, 2.5)
        storage.complete_trial(b.id, 0.0)
        with pytest.raises(TrialConflictError):
            storage.complete_trial(b.id, -0.0)
        assert storage.get_trial(a.id).value == 1.25
        assert _bits(storage.get_trial(b.id).value) == _bits(0.0)

    def test_finished_trials_are_immutable(self, storage, campaign):
        done, failed, abandoned, _ = _add_round(storage, campaign, 0, count=4)
        storage.complete_trial(done.id, 3.0)
        storage.fail_trial(failed.id, "instrument error")
        storage.abandon_trial(abandoned.id, "stopped")
        before = {t.id: t for t in storage.trials(campaign.id)}
        for action in (
            lambda: storage.fail_trial(done.id, "late failure"),
            lambda: storage.abandon_trial(done.id, "late abandon"),
            lambda: storage.release_trial(done.id),
            lambda: storage.complete_trial(failed.id, 1.0),
            lambda: storage.fail_trial(failed.id, "another reason"),
            lambda: storage.abandon_trial(failed.id, "stopped"),
            lambda: storage.complete_trial(abandoned.id, 1.0),
            lambda: storage.release_trial(abandoned.id),
        ):
            with pytest.raises(TrialConflictError):
                action()
        assert [t.number for t in storage.claim_trials(campaign.id, "w", lease_seconds=60)] == [3]
        after = {t.id: t for t in storage.trials(campaign.id)}
        for trial_id in (done.id, failed.id, abandoned.id):
            old, new = before[trial_id], after[trial_id]
            for field in ("state", "value", "error", "finished_at", "worker"):
                assert getattr(old, field) == getattr(new, field)
            assert old.provenance == new.provenance and old.x.tobytes() == new.x.tobytes()
        assert storage.fail_trial(failed.id, "instrument error").finished_at == before[failed.id].finished_at

    def test_unknown_trial(self, storage, campaign):
        other, _ = storage.get_or_create_campaign(_unique_name(), task="toy", config={}, seed=0)
        (trial,) = _add_round(storage, campaign, 0, count=1)
        for action in (
            lambda: storage.get_trial(10**9),
            lambda: storage.complete_trial(10**9, 1.0),
            lambda: storage.fail_trial(10**9, "x"),
            lambda: storage.complete_trial(trial.id, 1.0, campaign_id=other.id),
            lambda: storage.fail_trial(trial.id, "x", campaign_id=other.id),
        ):
            with pytest.raises(UnknownTrialError):
                action()
        assert storage.get_trial(trial.id).state == "waiting"

    def test_count_trials_and_state_filter(self, storage, campaign):
        trials = _add_round(storage, campaign, 0, count=5)
        storage.complete_trial(trials[0].id, 1.0)
        storage.fail_trial(trials[1].id, "x")
        storage.claim_trials(campaign.id, "w", lease_seconds=60, limit=1)
        assert storage.count_trials(campaign.id) == {
            "waiting": 2, "running": 1, "completed": 1, "failed": 1, "abandoned": 0
        }
        assert set(storage.count_trials(campaign.id)) == set(ALL_STATES)
        assert [t.number for t in storage.trials(campaign.id, states=["failed", "running"])] == [1, 2]
        with pytest.raises(ValueError):
            storage.trials(campaign.id, states=["done"])

    # ------------------------------------------------------------ leases

    def test_claims_go_in_number_order(self, storage, campaign):
        _add_round(storage, campaign, 0, count=5)
        first = storage.claim_trials(campaign.id, "a", lease_seconds=60, limit=2)
        rest = storage.claim_trials(campaign.id, "b", lease_seconds=60)
        assert [t.number for t in first] == [0, 1] and [t.number for t in rest] == [2, 3, 4]
        assert {t.worker for t in storage.trials(campaign.id)[:2]} == {"a"}
        assert storage.claim_trials(campaign.id, "c", lease_seconds=60) == []

    def test_expired_leases_are_reclaimed(self, storage, campaign):
        _add_round(storage, campaign, 0, count=2)
        storage.claim_trials(campaign.id, "alive", lease_seconds=600, limit=1)
        short = storage.claim_trials(campaign.id, "crashed", lease_seconds=1e-6, limit=1)
        time.sleep(0.01)
        reclaimed = storage.claim_trials(campaign.id, "rescuer", lease_seconds=600)
        assert [t.id for t in reclaimed] == [short[0].id]
        assert storage.get_trial(short[0].id).worker == "rescuer"

    def test_renewed_leases_are_kept(self, storage, campaign):
        _add_round(storage, campaign, 0, count=2)
        claimed = storage.claim_trials(campaign.id, "a", lease_seconds=1e-6)
        ids = [t.id for t in claimed]
        assert storage.renew_lease(ids, "someone-else", lease_seconds=600) == []
        assert storage.renew_lease(ids, "a", lease_seconds=600) == sorted(ids)
        time.sleep(0.01)
        assert storage.claim_trials(campaign.id, "b", lease_seconds=600) == []

    def test_release_trial(self, storage, campaign):
        (trial,) = _add_round(storage, campaign, 0, count=1)
        storage.claim_trials(campaign.id, "a", lease_seconds=60)
        with pytest.raises(TrialConflictError):
            storage.release_trial(trial.id, worker="b")
        released = storage.release_trial(trial.id, worker="a")
        assert (released.state, released.worker, released.lease_expires_at) == ("waiting", None, None)
        assert [t.worker for t in storage.claim_trials(campaign.id, "b", lease_seconds=60)] == ["b"]

    # ------------------------------------------------------------ several processes

    def test_claims_are_exactly_once_across_processes(self, storage, campaign, storage_url, process_pool):
        trials = _add_round(storage, campaign, 0, count=40)
        start_at = time.time() + 0.3
        futures = [
            process_pool.submit(claim_until_none_left, storage_url, campaign.id, f"worker-{i}", start_at)
            for i in range(WORKER_COUNT)
        ]
        claimed = {f"worker-{i}": future.result(timeout=120) for i, future in enumerate(futures)}
        all_claimed = [trial_id for ids in claimed.values() for trial_id in ids]
        assert sorted(all_claimed) == sorted(t.id for t in trials)
        holder = {t.id: t.worker for t in storage.trials(campaign.id, states=["running"])}
        for worker, ids in claimed.items():
            assert all(holder[trial_id] == worker for trial_id in ids)

    def test_complete_from_another_process(self, storage, campaign, storage_url, process_pool):
        (trial,) = _add_round(storage, campaign, 0, count=1)
        assert process_pool.submit(complete_trial, storage_url, trial.id, -1.5).result(timeout=120) == -1.5
        assert storage.get_trial(trial.id).value == -1.5
        with pytest.raises(TrialConflictError):
            storage.complete_trial(trial.id, 2.0)

    def test_create_or_open_race(self, storage_url, process_pool):
        name = _unique_name()
        start_at = time.time() + 0.3
        futures = [process_pool.submit(open_campaign, storage_url, name, start_at) for _ in range(WORKER_COUNT)]
        results = [future.result(timeout=120) for future in futures]
        assert len({campaign_id for campaign_id, _ in results}) == 1
        assert sum(created for _, created in results) == 1
        with Storage(storage_url, create=False) as storage:
            assert [c.name for c in storage.list_campaigns()].count(name) == 1


def _unique_name() -> str:
    return f"suite-{uuid.uuid4().hex[:12]}"


def _add_round(storage, campaign, round, count, rng_state=b"rng", diagnostics=None, **kwargs):
    xs = [np.full(2, float(i)) for i in range(count)]
    provenances = [{"index": i} for i in range(count)]
    return storage.add_round(campaign.id, round, xs, provenances, rng_state, diagnostics or {}, **kwargs)
