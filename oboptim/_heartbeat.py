"""Heartbeats: a worker renews the leases of what it holds while it works, so that only a dead worker loses them.

A trial being queried, and the campaign's proposer lease while a round is being proposed, are held under a lease of
``grace_seconds``. A :class:`Heartbeat` thread renews every held lease every ``interval_seconds`` (a fraction of the
grace period), however long the oracle or the proposal takes: a slow oracle (an assay that takes hours, a person on
the rating page) keeps its trials. When the worker dies (its process killed, its machine lost), the renewals stop and
its leases run out ``grace_seconds`` later; then another worker re-queues the trials, exactly once. This follows
Optuna's RDB heartbeat (``heartbeat_interval``, ``grace_period``).

The thread uses the same :class:`~oboptim.storage.Storage` (its engine is thread safe; each renewal is its own short
transaction). What is held may change from any thread (:meth:`Heartbeat.hold` and :meth:`Heartbeat.drop` take a
lock): with an executor the main thread holds each trial before submitting it, and the recorder thread drops it once
its outcome is stored (:mod:`oboptim._async_loop`), so a lease is renewed exactly while its outcome is unrecorded.
A renewal that fails (a database briefly unreachable) is retried at the next beat; the grace period is what absorbs
such gaps.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from oboptim.storage._errors import StorageError
from oboptim.storage._store import Storage

DEFAULT_GRACE_SECONDS = 120.0
DEFAULT_INTERVAL_FRACTION = 0.25


class Heartbeat:
    """Renews the leases ``worker`` holds in campaign ``campaign_id`` until stopped (a context manager).

    Args:
        storage: the campaign's storage.
        campaign_id: the campaign.
        worker: the holder's name.
        grace_seconds: the lease each renewal grants; a dead worker's trials come back this long after its last beat.
        interval_seconds: time between renewals (default: a quarter of the grace period).
    """

    def __init__(self, storage: Storage, campaign_id: int, worker: str, *,
                 grace_seconds: float = DEFAULT_GRACE_SECONDS, interval_seconds: float | None = None) -> None:
        if not grace_seconds > 0:
            raise ValueError(f"grace_seconds must be positive, got {grace_seconds}")
        self.storage, self.campaign_id, self.worker = storage, campaign_id, worker
        self.grace_seconds = float(grace_seconds)
        self.interval_seconds = float(interval_seconds or grace_seconds * DEFAULT_INTERVAL_FRACTION)
        self._trials: set[int] = set()
        self._proposing = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.beats = 0

    # -- what is held ------------------------------------------------------------------------------------------------

    def hold(self, trial_ids: Iterable[int]) -> None:
        with self._lock:
            self._trials.update(int(i) for i in trial_ids)

    def drop(self, trial_ids: Iterable[int]) -> None:
        with self._lock:
            self._trials.difference_update(int(i) for i in trial_ids)

    def hold_proposer(self) -> None:
        with self._lock:
            self._proposing = True

    def drop_proposer(self) -> None:
        with self._lock:
            self._proposing = False

    # -- the thread --------------------------------------------------------------------------------------------------

    def beat(self) -> None:
        """Renew every held lease now."""
        with self._lock:
            trials, proposing = sorted(self._trials), self._proposing
        try:
            if trials:
                self.storage.renew_lease(trials, self.worker, self.grace_seconds)
            if proposing:
                self.storage.renew_proposer(self.campaign_id, self.worker, self.grace_seconds)
        except StorageError:
            return  # try again at the next beat; the grace period absorbs it
        self.beats += 1

    def _run(self) -> None:
        while not self._stop.wait(self.interval_seconds):
            self.beat()

    def __enter__(self) -> Heartbeat:
        self._thread = threading.Thread(target=self._run, name="oboptim-heartbeat", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


__all__ = ["DEFAULT_GRACE_SECONDS", "Heartbeat"]
