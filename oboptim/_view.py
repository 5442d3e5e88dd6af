"""A stored campaign read from its database alone: what reading and telling commands need, without the task.

:class:`CampaignView` opens a campaign's record, settings and trials, and records outcomes, without loading its
task or its prior: no torch, no diffusers, no user code. ``oboptim status``, ``tell``, ``release``, ``export`` and
``report`` use it, so a lab entering values does not wait for a model to load, and a campaign whose task file moved
can still be read. :class:`oboptim.Campaign` is a view plus the task, the prior and the loop.

Example:
    >>> view = CampaignView.open("lab", storage="sqlite:///runs.db")
    >>> view.tell(17, 0.83)
    >>> view.summary().to_json()["best"]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from oboptim._outcomes import record_outcome
from oboptim._records import RoundDiagnostics
from oboptim._settings import CampaignSettings, stored_budget
from oboptim.errors import OboptimError
from oboptim.oracles._outcome import Outcome
from oboptim.sequences._space import SequenceSpace
from oboptim.storage._records import CampaignRecord, TrialRecord, TrialState, queried_count
from oboptim.storage._store import Storage
from oboptim.storage._validation import finite_value, valid_reason

if TYPE_CHECKING:
    from oboptim._task import Task

DEFAULT_BUDGET = 64


@dataclass(frozen=True)
class CampaignSummary:
    """The state of a campaign at a glance (``oboptim status``; ``--json`` prints :meth:`to_json`).

    Attributes:
        name, task, status, seed: from the campaign's record (status ``active`` or ``finished``).
        budget: finished trials a run aims for.
        finished: completed plus failed trials.
        counts: trials per state.
        held: waiting trials asked for someone (``oboptim ask``) and not yet told.
        rounds: rounds proposed so far.
        best_value, best_trial: the best completed trial, or None.
        best_x: the best candidate: a string over the alphabet for a sequence campaign, a list of numbers for a
            vector one (None for images and other arrays, which do not fit a line).
        retried_batches: batches the oracle failed transiently and that were asked again (an outage the retries
            cured); retry_reason: the last such failure's reason.
    """

    name: str
    task: str
    status: str
    seed: int
    budget: int
    finished: int
    counts: dict[str, int]
    held: int
    rounds: int
    best_value: float | None
    best_trial: int | None
    best_x: str | list[float] | None = None
    retried_batches: int = 0
    retry_reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["best"] = None if self.best_trial is None else {"trial_id": self.best_trial, "value": self.best_value}
        if data["best"] is not None and self.best_x is not None:
            data["best"]["x"] = self.best_x
        del data["best_value"], data["best_trial"], data["best_x"]
        return data

    def line(self) -> str:
        """One line of text (names are shown escaped if they hold control characters)."""
        counts = ", ".join(f"{state} {count}" for state, count in self.counts.items() if count)
        held = f" ({self.held} asked)" if self.held else ""
        best = "-" if self.best_value is None else f"{self.best_value:.6g} (trial {self.best_trial})"
        if isinstance(self.best_x, str):
            best += f" {self.best_x}"
        retried = (f", {self.retried_batches} oracle batch{'es' if self.retried_batches > 1 else ''} retried "
                   f"(last: {self.retry_reason})" if self.retried_batches else "")
        return (f"{_shown(self.name)}: task {_shown(self.task)}, {self.finished}/{self.budget} finished, "
                f"{self.rounds} rounds, {counts or 'no trials'}{held}, best {best}{retried}, {self.status}")


class CampaignView:
    """A campaign as stored: its record, settings, trials and summary; outcomes can be recorded. No task needed.

    Attributes:
        task: the campaign's task where one was loaded (always for a :class:`~oboptim.Campaign`), else None.
    """

    task: Task | None = None

    def __init__(self, storage: Storage, record: CampaignRecord) -> None:
        self.storage = storage
        self.record = record
        # a reading command never proposes: a campaign run with a plug-in kind is read where it is not registered
        self.settings = CampaignSettings.from_stored(record.config, check_kinds=False)
        self.sequence = SequenceSpace.from_json(record.config.get("space"))

    def shown_x(self, trial: TrialRecord) -> Any:
        """A trial's candidate as shown to people: a string over the alphabet for a sequence campaign, else nested
        lists of numbers."""
        return trial.x_list() if self.sequence is None else self.sequence.format(trial.x)

    @classmethod
    def open(cls, name: str, storage: Storage | str | None = None, *, read_only: bool = False) -> CampaignView:
        """The existing campaign ``name`` (a one-line error listing the known ones if there is none)."""
        store = storage if isinstance(storage, Storage) else Storage(storage, create=False, read_only=read_only)
        record = store.get_campaign(name)
        if record is None:
            raise OboptimError(store.missing_campaign_message(name))
        return cls(store, record)

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def id(self) -> int:
        return self.record.id

    @property
    def seed(self) -> int:
        return self.record.seed

    @property
    def budget(self) -> int:
        """The number of finished trials a run aims for when given no budget."""
        return stored_budget(self.record.config, DEFAULT_BUDGET)

    # -- reading ---------------------------------------------------------------------------------------------------

    def trials(self, states: Iterable[str] | None = None) -> list[TrialRecord]:
        """All trials (or those in ``states``), in the order they were asked."""
        return self.storage.trials(self.id, states=states)

    def best(self) -> TrialRecord | None:
        """The completed trial with the highest value (None before any)."""
        done = self.trials([TrialState.COMPLETED])
        return max(done, key=lambda t: t.value) if done else None

    def finished_count(self) -> int:
        """Trials that spent an oracle query: completed or failed."""
        counts = self.storage.count_trials(self.id)
        return queried_count(counts)

    def summary(self) -> CampaignSummary:
        """Counts, budget, rounds and the best value, read without loading any candidate."""
        record = self.storage.get_campaign_by_id(self.id)
        counts = self.storage.count_trials(self.id)
        best = self.storage.best_value(self.id)
        best_x = None
        if best is not None:
            trial = self.storage.get_trial(best[0], campaign_id=self.id)
            if self.sequence is not None or len(trial.encoded_x[1]) == 1:  # a sequence, or a vector
                best_x = self.shown_x(trial)
        retried, reason = self._retries()
        return CampaignSummary(
            name=record.name, task=record.task, status=record.status, seed=record.seed, budget=self.budget,
            finished=queried_count(counts),
            counts={str(state): count for state, count in counts.items()}, held=self.storage.count_held(self.id),
            rounds=self.storage.count_rounds(self.id), best_value=None if best is None else best[1],
            best_trial=None if best is None else best[0], best_x=best_x, retried_batches=retried,
            retry_reason=reason,
        )

    def _retries(self) -> tuple[int, str | None]:
        """Batches retried after a transient oracle failure, over every round, and the latest reason."""
        count, reason = 0, None
        for stored in self.storage.round_diagnostics(self.id):
            diagnostics = RoundDiagnostics.from_json(stored)
            if diagnostics.retried_batches:
                count += diagnostics.retried_batches
                reason = diagnostics.retry_reason or reason
        return count, reason

    # -- telling ---------------------------------------------------------------------------------------------------

    def tell(self, trial_id: int, value: float, *, sem: float | None = None, rater: str | None = None,
             force: bool = False) -> TrialRecord:
        """Record ``value`` for a trial; the same value again is a no-op, a different one raises (-0.0 is stored as 0).

        A trial that a run's oracle is measuring (running) is that run's: telling it raises
        :class:`~oboptim.storage._errors.TrialBeingMeasured`, naming the run, unless ``force``; then this value
        stands, the trial says it was told with ``tell --force`` over that run, and the run's own value is dropped
        (with a message). Waiting trials, asked ones (``oboptim ask``) included, are told as they are.
        """
        outcome = Outcome(value=finite_value(value, trial_id) + 0.0)  # + 0.0: -0.0 becomes 0.0
        return record_outcome(self.storage, self.id, trial_id, outcome, sem=sem, rater=rater, by_hand=True,
                              force=force)

    def fail(self, trial_id: int, reason: str, *, force: bool = False) -> TrialRecord:
        """Mark a trial failed with ``reason`` (one non-empty line, cut to 500 characters); ``force`` as for
        :meth:`tell`."""
        return record_outcome(self.storage, self.id, trial_id, Outcome(error=valid_reason(reason, trial_id)),
                              by_hand=True, force=force)

    def release(self, trial_ids: Iterable[int]) -> list[TrialRecord]:
        """Hand asked (or running) trials back to the campaign: any worker's ``run`` may then query them."""
        return [self.storage.release_trial(trial_id, campaign_id=self.id) for trial_id in trial_ids]


def _shown(text: str) -> str:
    """``text`` as is, or escaped (as by ascii()) if it holds newlines or other control characters."""
    return text if text.isprintable() else ascii(text)


__all__ = ["CampaignSummary", "CampaignView"]
