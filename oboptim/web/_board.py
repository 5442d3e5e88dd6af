"""The rating board: what the rating page shows and does, on top of :class:`~oboptim.storage.Storage` (no Flask here).

A person rates a campaign's pending trials (waiting, or running: claimed by ``oboptim run`` whose oracle is the web
page) from 1 to 10. A rating is recorded the way every outcome is (:func:`oboptim._outcomes.record_outcome`, rater
``"web"``, which also refreshes the round's surrogate-vs-oracle gap); it is final, as every finished trial is. Bad
input writes nothing and raises :class:`RatingError`, whose one-line message the page shows.

Skipping a trial writes nothing either: the trial stays pending and moves to the end of the list, for as long as the
server runs.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np

from oboptim._outcomes import record_outcome
from oboptim.errors import OboptimError
from oboptim.images._pictures import NUMBERS, candidate_kind
from oboptim.oracles._human import format_candidate
from oboptim.oracles._outcome import Outcome
from oboptim.sequences._space import SequenceSpace
from oboptim.storage._errors import TrialConflictError, UnknownTrialError
from oboptim.storage._records import CampaignRecord, TrialRecord, TrialState
from oboptim.storage._store import Storage

RATING_MIN = 1.0
RATING_MAX = 10.0
WEB_RATER = "web"
PENDING_STATES = (TrialState.WAITING, TrialState.RUNNING)
RATING_HINT = f"type a number from {RATING_MIN:g} to {RATING_MAX:g}"


class RatingError(OboptimError):
    """A rating or skip the page refuses; nothing was written. ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class UnknownCampaign(OboptimError):
    """The rating page was asked for a campaign the database does not hold."""


@dataclass(frozen=True)
class PendingTrial:
    """One card on the page: a pending trial and how to show it (``kind`` from :func:`candidate_kind`)."""

    id: int
    round: int
    state: str
    kind: str
    numbers: str
    skipped: bool


@dataclass(frozen=True)
class Progress:
    """The counts at the top of the page; ``pending_ids`` are in the order the page lists them."""

    rated: int
    pending: int
    failed: int
    best_value: float | None
    best_trial_id: int | None
    pending_ids: tuple[int, ...]

    def as_json(self) -> dict:
        best = None if self.best_trial_id is None else {"trial_id": self.best_trial_id, "value": self.best_value}
        return {"rated": self.rated, "pending": self.pending, "failed": self.failed, "best": best,
                "pending_ids": list(self.pending_ids)}


class RatingBoard:
    """The rating page's view of one campaign. Safe to share between the server's threads."""

    def __init__(self, storage: Storage, campaign: CampaignRecord) -> None:
        self.storage = storage
        self.campaign = campaign
        self.sequence = SequenceSpace.from_json(campaign.config.get("space"))
        self._skipped: dict[int, None] = {}  # insertion-ordered set: the last skipped goes last
        self._lock = threading.Lock()
        self._completed_cache: tuple[int, list[TrialRecord]] = (-1, [])

    @classmethod
    def open(cls, storage_url: str | None, campaign_name: str) -> RatingBoard:
        """The board of campaign ``campaign_name`` in the existing database at ``storage_url``."""
        storage = Storage(storage_url, create=False)
        campaign = storage.get_campaign(campaign_name)
        if campaign is None:
            message = storage.missing_campaign_message(campaign_name)
            storage.close()
            raise UnknownCampaign(message)
        return cls(storage, campaign)

    def close(self) -> None:
        self.storage.close()

    # -- reading ---------------------------------------------------------------------------------------------------

    def pending(self) -> list[PendingTrial]:
        """Pending trials in page order: by trial number, skipped ones last (in the order they were skipped)."""
        trials = self.storage.trials(self.campaign.id, states=PENDING_STATES)
        skip_order = self._skip_order({t.id for t in trials})
        trials.sort(key=lambda t: (t.id in skip_order, skip_order.get(t.id, 0), t.number))
        return [
            PendingTrial(id=t.id, round=t.round, state=t.state, kind=self._kind(t),
                         numbers=format_candidate(t.x) if self.sequence is None else self.sequence.format(t.x),
                         skipped=t.id in skip_order)
            for t in trials
        ]

    def _kind(self, trial: TrialRecord) -> str:
        """How the page shows a candidate: a sequence as its string, else by shape (picture, point, numbers)."""
        return NUMBERS if self.sequence is not None else candidate_kind(trial.x.shape)

    def progress(self, pending: list[PendingTrial] | None = None) -> Progress:
        """The counts and best so far; ``pending`` (from :meth:`pending`) saves reading it again."""
        pending = self.pending() if pending is None else pending
        counts = self.storage.count_trials(self.campaign.id)
        best = max(self.completed(), key=lambda t: t.value, default=None)
        return Progress(
            rated=counts[TrialState.COMPLETED],
            pending=len(pending),
            failed=counts[TrialState.FAILED] + counts[TrialState.ABANDONED],
            best_value=None if best is None else best.value,
            best_trial_id=None if best is None else best.id,
            pending_ids=tuple(t.id for t in pending),
        )

    def completed(self) -> list[TrialRecord]:
        """The completed trials; re-read only when their count changes (the page polls every few seconds)."""
        count = self.storage.count_trials(self.campaign.id)[TrialState.COMPLETED]
        cached_count, cached = self._completed_cache
        if count != cached_count:
            cached = self.storage.trials(self.campaign.id, states=[TrialState.COMPLETED])
            self._completed_cache = (len(cached), cached)
        return cached

    def completed_points(self) -> tuple[np.ndarray, np.ndarray]:
        """``(xs [N, 2], values [N])`` of the completed 2-D trials, for plots."""
        done = [t for t in self.completed() if t.x.shape == (2,)]
        return _points(done), np.array([t.value for t in done], dtype=np.float64)

    def pending_points(self) -> np.ndarray:
        """``[M, 2]`` candidates of the pending 2-D trials (context for a plot)."""
        return _points([t for t in self.storage.trials(self.campaign.id, states=PENDING_STATES) if t.x.shape == (2,)])

    def trial(self, trial_id: object) -> TrialRecord:
        """The campaign's trial ``trial_id`` (a number or its text); RatingError 404 if there is none."""
        number = parse_trial_id(trial_id)
        try:
            return self.storage.get_trial(number, campaign_id=self.campaign.id)
        except UnknownTrialError:
            raise RatingError(f"no trial {number} in campaign {self.campaign.name!r}: reload the page", 404) from None

    # -- writing ---------------------------------------------------------------------------------------------------

    def rate(self, trial_id: object, rating: object) -> TrialRecord:
        """Store ``rating`` (1 to 10) as the trial's value, rater ``"web"``; bad input raises RatingError."""
        value = parse_rating(rating)
        record = self.trial(trial_id)
        if record.finished:
            raise already_finished(record)
        try:
            record = record_outcome(self.storage, self.campaign.id, record.id, Outcome(value=value), rater=WEB_RATER)
        except TrialConflictError:  # finished by someone else between our read and write
            raise already_finished(self.trial(record.id)) from None
        if record.rater != WEB_RATER:  # the same value arrived first from elsewhere (`oboptim tell`)
            raise already_finished(record)
        with self._lock:
            self._skipped.pop(record.id, None)
        return record

    def skip(self, trial_id: object) -> TrialRecord:
        """Move a pending trial to the end of the list; nothing is written to the database."""
        record = self.trial(trial_id)
        if record.finished:
            raise already_finished(record)
        with self._lock:
            self._skipped.pop(record.id, None)
            self._skipped[record.id] = None
        return record

    def _skip_order(self, pending_ids: set[int]) -> dict[int, int]:
        """``{trial id: position}`` of the skipped trials still pending (others are forgotten)."""
        with self._lock:
            for gone in [i for i in self._skipped if i not in pending_ids]:
                del self._skipped[gone]
            return {trial_id: position for position, trial_id in enumerate(self._skipped)}


def _points(trials: list[TrialRecord]) -> np.ndarray:
    return np.stack([t.x for t in trials]).astype(np.float64) if trials else np.zeros((0, 2))


def parse_rating(rating: object) -> float:
    """A rating from what the page sent: a finite number in [1, 10], else RatingError with a hint."""
    text = "" if rating is None else str(rating).strip()
    if not text:
        raise RatingError(f"no rating given: {RATING_HINT}")
    try:
        value = float(text)
    except ValueError:
        raise RatingError(f"rating {text[:40]!r} is not a number: {RATING_HINT}") from None
    if not math.isfinite(value) or not RATING_MIN <= value <= RATING_MAX:
        raise RatingError(f"rating {text[:40]} is outside {RATING_MIN:g}-{RATING_MAX:g}: {RATING_HINT}")
    return value


def parse_trial_id(trial_id: object) -> int:
    text = "" if trial_id is None else str(trial_id).strip()
    try:
        return int(text)
    except ValueError:
        raise RatingError(f"trial id {text[:40]!r} is not a number: reload the page", 404) from None


def already_finished(record: TrialRecord) -> RatingError:
    """The error for rating or skipping a finished trial; it names what is stored."""
    if record.state == TrialState.COMPLETED:
        by = f" by {record.rater}" if record.rater else ""
        return RatingError(f"trial {record.id} was already rated {record.value:g}{by}: a rating is final", 409)
    return RatingError(f"trial {record.id} is already {record.state} ({record.error}): it cannot be rated", 409)
