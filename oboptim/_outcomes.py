"""Recording an outcome: the one path by which a trial's value or failure reaches storage.

``oboptim tell``, :meth:`oboptim.Campaign.tell` and :meth:`~oboptim.Campaign.fail`, the campaign's own loop and the
rating page all call :func:`record_outcome`. It writes the outcome (one transaction; a finished trial is immutable)
and refreshes what depends on it: the surrogate-vs-oracle gap of the trial's round, stored in the round's
diagnostics, which reveals over-optimisation (a surrogate that promises more than the oracle gives), and the count
of batches the oracle failed transiently before answering (an outage the retries cured, shown by ``oboptim status``).

It needs only the storage, not the task or its prior, so telling a value costs no model loading.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from statistics import fmean

from oboptim._records import GapSummary, Provenance
from oboptim._text import print_to_stderr
from oboptim.oracles._outcome import Outcome
from oboptim.storage._errors import TrialConflictError
from oboptim.storage._records import TrialRecord, TrialState
from oboptim.storage._store import FORCED, Storage


def record_outcome(storage: Storage, campaign_id: int, trial_id: int, outcome: Outcome, *,
                   sem: float | None = None, rater: str | None = None, by_hand: bool = False,
                   force: bool = False) -> TrialRecord:
    """Store ``outcome`` for trial ``trial_id`` of campaign ``campaign_id`` and refresh its round's gap.

    A value completes the trial (the same value again is a no-op, a different one raises
    :class:`~oboptim.storage.TrialConflictError`); an error fails it with that reason. ``by_hand`` (``oboptim
    tell``): a trial that a run is measuring is refused (``TrialBeingMeasured``) unless ``force``, which records the
    outcome as told over that run (see :meth:`Storage.complete_trial <oboptim.storage.Storage.complete_trial>`).
    """
    record = _write(storage, campaign_id, trial_id, outcome, sem=sem, rater=rater, by_hand=by_hand, force=force)
    if not outcome.failed:
        update_gaps(storage, campaign_id, [record.round])
    return record


def record_outcomes(storage: Storage, campaign_id: int, outcomes: Sequence[tuple[int, Outcome]], *,
                    rater: str | None = None, skip_conflicts: bool = False, holder: str | None = None,
                    on_dropped: Callable[[str], None] | None = None) -> list[TrialRecord | None]:
    """:func:`record_outcome` for a batch, refreshing each round's gap once, and counting in each round's
    diagnostics the batches the oracle failed transiently and was asked again (``Outcome.retried_after``).

    With ``skip_conflicts`` a trial finished meanwhile by someone else (``oboptim tell`` while the loop's oracle
    ran), or taken over by another worker after ``holder`` lost its lease, keeps the other answer and gets None here,
    instead of raising. One told by hand over this run (``oboptim tell --force``) is also said, in one line to
    ``on_dropped`` (default: standard error), since the oracle's answer is then lost.
    """
    records: list[TrialRecord | None] = []
    for trial_id, outcome in outcomes:
        try:
            records.append(_write(storage, campaign_id, trial_id, outcome, rater=rater, holder=holder))
        except TrialConflictError:
            if not skip_conflicts:
                raise
            records.append(None)
            _say_if_forced(storage, campaign_id, trial_id, outcome, on_dropped or print_to_stderr)
    update_gaps(storage, campaign_id, [r.round for r in records if r is not None and r.state == TrialState.COMPLETED])
    _count_retries(storage, campaign_id, outcomes, records)
    return records


def _say_if_forced(storage: Storage, campaign_id: int, trial_id: int, outcome: Outcome,
                   say: Callable[[str], None]) -> None:
    """One line when the trial whose outcome was refused was told by hand over this run (``tell --force``)."""
    trial = storage.get_trial(trial_id, campaign_id=campaign_id)
    if not (trial.worker or "").startswith(FORCED):
        return  # taken over by another worker after a lost lease: its answer is as good as ours
    ours = f"failure ({outcome.error})" if outcome.failed else f"value {outcome.value:.6g}"
    theirs = f"value {trial.value:.6g}" if trial.state == TrialState.COMPLETED else f"failure ({trial.error})"
    say(f"the oracle's {ours} for trial {trial_id} was dropped: the trial was told by hand meanwhile "
        f"(`oboptim tell --force`: {theirs})")


def _count_retries(storage: Storage, campaign_id: int, outcomes: Sequence[tuple[int, Outcome]],
                   records: Sequence[TrialRecord | None]) -> None:
    """Add to each round's ``retried_batches`` the retried batches its recorded outcomes went through (a batch once,
    however many of its trials are here), and store the last reason as its ``retry_reason``."""
    retries: dict[int, dict[tuple, str]] = {}
    for (_, outcome), record in zip(outcomes, records):
        if record is not None:
            for failure in outcome.retried_after:
                retries.setdefault(record.round, {})[failure.key] = failure.reason
    for round_index, events in sorted(retries.items()):
        reason = list(events.values())[-1]
        storage.update_round_diagnostics(campaign_id, round_index, {"retry_reason": reason},
                                         increments={"retried_batches": len(events)})


def _write(storage: Storage, campaign_id: int, trial_id: int, outcome: Outcome, *, sem: float | None = None,
           rater: str | None = None, holder: str | None = None, by_hand: bool = False,
           force: bool = False) -> TrialRecord:
    if outcome.failed:
        return storage.fail_trial(trial_id, outcome.error, campaign_id=campaign_id, holder=holder, by_hand=by_hand,
                                  force=force)
    return storage.complete_trial(trial_id, outcome.value, sem=sem, rater=rater, campaign_id=campaign_id,
                                  holder=holder, by_hand=by_hand, force=force)


def update_gaps(storage: Storage, campaign_id: int, rounds: Iterable[int]) -> None:
    """Store predicted-vs-observed statistics of each round's completed trials that a surrogate predicted."""
    for round_index in sorted(set(rounds)):
        gap = round_gap(storage.completed_values(campaign_id, round_index))
        if gap is not None:
            storage.update_round_diagnostics(campaign_id, round_index, gap.to_json())


def round_gap(completed: list[tuple[dict, float]]) -> GapSummary | None:
    """The gap over ``(provenance, value)`` of completed trials that a surrogate predicted (None when none was)."""
    pairs = [(p.predicted_mean, value) for provenance, value in completed
             if (p := Provenance.from_json(provenance)).has_prediction]
    if not pairs:
        return None
    predicted, observed = ([float(v) for v in column] for column in zip(*pairs))
    errors = [p - o for p, o in zip(predicted, observed)]
    return GapSummary(gap=fmean(errors), gap_rmse=math.sqrt(fmean([e * e for e in errors])),
                      observed_mean=fmean(observed), predicted_mean=fmean(predicted), observed_count=len(pairs))


__all__ = ["record_outcome", "record_outcomes", "round_gap", "update_gaps"]
