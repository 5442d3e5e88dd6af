"""`Storage`: everything a campaign persists, one short transaction per call.

Every method opens its own transaction and returns detached records (see records.py), so a process can be killed at
any moment and the database still holds a consistent campaign. Writes take the write lock up front (SQLite:
BEGIN IMMEDIATE; PostgreSQL: row locks, SKIP LOCKED when claiming), so any number of processes may share a database.

Example:
    storage = Storage("sqlite:///runs.db")
    campaign, created = storage.get_or_create_campaign("demo", task="gmm2d", config={"alpha": 0.1}, seed=0)
    trials = storage.add_round(campaign.id, 0, xs=[np.zeros(2)], provenances=[{}], rng_state=b"", diagnostics={})
    storage.complete_trial(trials[0].id, 1.25)
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import DatabaseError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, joinedload, sessionmaker

from oboptim.storage import _crash_hook as crash_hook
from oboptim.storage._arrays import bits_to_float, encode_array, float_to_bits, same_float
from oboptim.storage._column_types import utc_now
from oboptim.storage._engine import (
    check_writable,
    create_storage_engine,
    display_url,
    operation_error,
    prepare_database,
    resolve_storage_url,
    upgrade_schema,
    writer,
)
from oboptim.storage._errors import TrialBeingMeasured, TrialConflictError, UnknownRoundError, UnknownTrialError
from oboptim.storage._models import (
    CURRENT_SCHEMA_VERSION,
    CampaignRow,
    ObservationRow,
    ProposerLeaseRow,
    RoundRow,
    SurrogateSnapshotRow,
    TrialRow,
)
from oboptim.storage._records import (
    ALL_STATES,
    ASKED_PREFIX,
    CAMPAIGN_ACTIVE,
    CAMPAIGN_STATUSES,
    FINISHED_STATES,
    CampaignRecord,
    RoundRecord,
    SurrogateRecord,
    TrialRecord,
    TrialState,
)
from oboptim.storage._rows import (
    campaign_record,
    campaign_row,
    finish_row,
    lease_end,
    round_exists_error,
    round_record,
    round_row,
    surrogate_record,
    surrogate_row,
    trial_record,
    trial_row,
)
from oboptim.storage._validation import (
    checked_id,
    checked_states,
    finite_value,
    normalized_json,
    valid_campaign_name,
    valid_sem,
)

if TYPE_CHECKING:
    import numpy as np

FORCED = "tell --force"
"""What a trial told by hand over a run says: its worker becomes ``tell --force over WORKER``, its rater
``tell --force``."""


class Storage:
    """A campaign database at an SQLAlchemy URL (default: $OBOPTIM_STORAGE, else sqlite:///oboptim.db).

    An empty database gets the current schema (if `create`); any other must be an oboptim database at the current
    schema, else NotAnOboptimDatabase / SchemaTooOld / SchemaTooNew explain what to do. With `read_only` nothing is
    created or written (a command that only reads, e.g. on a file in a read-only directory). A database error while
    reading or writing (a damaged file, a full disk, a read-only file) is a one-line StorageError.
    """

    def __init__(self, url: str | None = None, *, create: bool = True, read_only: bool = False) -> None:
        self.url = resolve_storage_url(url)
        self.read_only = read_only
        self._engine = create_storage_engine(self.url, create=create and not read_only, read_only=read_only)
        try:
            prepare_database(self._engine, self.url, create=create and not read_only)
        except BaseException:
            self._engine.dispose()
            raise
        self._read_sessions = sessionmaker(self._engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(writer(self._engine), expire_on_commit=False)

    def __repr__(self) -> str:
        return f"Storage({display_url(self.url)!r})"

    def __enter__(self) -> Storage:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """Release all connections (the database stays as it is)."""
        self._engine.dispose()

    def upgrade(self) -> None:
        """Bring the schema to the current version (a no-op when it already is)."""
        upgrade_schema(self._engine)

    def check_writable(self) -> None:
        """Raise StorageReadOnly (one line) unless writes would succeed; writes nothing."""
        check_writable(self._engine, self.url)

    @contextmanager
    def _read(self) -> Iterator[Session]:
        try:
            with self._read_sessions.begin() as session:
                yield session
        except DatabaseError as failure:
            if not _environmental(failure):
                raise
            raise operation_error(self._engine, self.url, failure, writing=False) from None

    @contextmanager
    def _write(self) -> Iterator[Session]:
        try:
            with self._write_sessions.begin() as session:
                yield session
                session.flush()
                crash_hook.before_commit()
        except DatabaseError as failure:
            # an IntegrityError is a race the caller resolves (a round or campaign written first by another worker)
            if not _environmental(failure):
                raise
            raise operation_error(self._engine, self.url, failure, writing=True) from None
        crash_hook.after_commit()

    # ---------------------------------------------------------------- campaigns

    def get_or_create_campaign(
        self, name: str, task: str, config: dict[str, Any], seed: int
    ) -> tuple[CampaignRecord, bool]:
        """The campaign called `name`, created if missing; the flag says whether this call created it.

        Race-safe: concurrent callers all end up with the same row. Comparing `config` with a stored one is the
        caller's job.
        """
        existing = self.get_campaign(name)
        if existing is not None:
            return existing, False
        valid_campaign_name(name)
        config = normalized_json(config)
        try:
            with self._write() as session:
                row = session.scalar(select(CampaignRow).where(CampaignRow.name == name))
                if row is not None:
                    return campaign_record(row), False
                row = CampaignRow(
                    name=name,
                    task=task,
                    config=config,
                    seed=int(seed),
                    schema_version=CURRENT_SCHEMA_VERSION,
                    created_at=utc_now(),
                    status=CAMPAIGN_ACTIVE,
                )
                session.add(row)
                session.flush()
                return campaign_record(row), True
        except IntegrityError:
            existing = self.get_campaign(name)
            if existing is None:
                raise
            return existing, False

    def get_campaign(self, name: str) -> CampaignRecord | None:
        with self._read() as session:
            row = session.scalar(select(CampaignRow).where(CampaignRow.name == name))
            return None if row is None else campaign_record(row)

    def get_campaign_by_id(self, campaign_id: int) -> CampaignRecord:
        with self._read() as session:
            return campaign_record(campaign_row(session, campaign_id))

    def list_campaigns(self) -> list[CampaignRecord]:
        """All campaigns, oldest first."""
        with self._read() as session:
            return [campaign_record(row) for row in session.scalars(select(CampaignRow).order_by(CampaignRow.id))]

    def missing_campaign_message(self, name: str) -> str:
        """One line for a campaign ``name`` that is not here: the known ones, or how to create one."""
        known = [c.name for c in self.list_campaigns()]
        hint = (f"known: {', '.join(known)}" if known
                else "it has no campaigns; create one with `oboptim run TASK --name NAME`")
        return f"no campaign {name!r} in {display_url(self.url)}; {hint}"

    def set_campaign_status(self, campaign_id: int, status: str) -> None:
        if status not in CAMPAIGN_STATUSES:
            raise ValueError(f"campaign status must be one of {CAMPAIGN_STATUSES}, not {status!r}")
        with self._write() as session:
            campaign_row(session, campaign_id).status = status

    def update_campaign_config(self, campaign_id: int, updates: dict[str, Any]) -> CampaignRecord:
        """Set top-level keys of a campaign's stored config (its budget, its oracle), in one transaction; the
        settings themselves never change."""
        updates = normalized_json(updates)
        with self._write() as session:
            row = campaign_row(session, campaign_id)
            row.config = {**row.config, **updates}
            session.flush()
            return campaign_record(row)

    # ---------------------------------------------------------------- rounds

    def add_round(
        self,
        campaign_id: int,
        round: int,
        xs: Sequence[np.ndarray],
        provenances: Sequence[dict[str, Any]],
        rng_state: bytes,
        diagnostics: dict[str, Any],
        surrogate: dict[str, Any] | None = None,
        state: str = TrialState.WAITING,
        worker: str | None = None,
        lease_seconds: float | None = None,
        max_trials: int | None = None,
        proposer: str | None = None,
    ) -> list[TrialRecord]:
        """Persist one ask in ONE transaction: the round row, an optional surrogate snapshot and its trials.

        `xs` are candidates `[*sample_shape]` (one per trial, numbered after the campaign's last trial);
        `surrogate` holds train_size, hyperparameters and diagnostics. If the round already exists, raises
        RoundExistsError and writes nothing. state="running" hands the trials to `worker` with a lease. Waiting trials
        with a `worker` are *held* by it (asked for someone who will tell their values): no worker claims them until
        they are released or their lease (if any) expires.
        `max_trials` caps the campaign's trials that are neither abandoned nor held (a budget shared by concurrent
        workers): only the first candidates that fit are stored, and if none fits nothing is written and [] is
        returned. With `proposer`, that holder's proposer lease is given back in the same transaction.
        """
        if len(xs) != len(provenances):
            raise ValueError(f"got {len(xs)} candidates but {len(provenances)} provenances: pass one per candidate")
        if state not in (TrialState.WAITING, TrialState.RUNNING):
            raise ValueError(f"new trials are 'waiting' or 'running', not {state!r}")
        if state == TrialState.RUNNING and not worker:
            raise ValueError("running trials need a worker name: pass worker=...")
        if surrogate is not None and "train_size" not in surrogate:
            raise ValueError("a surrogate snapshot needs 'train_size' (and optionally hyperparameters, diagnostics)")
        lease_end(utc_now(), lease_seconds)  # validates lease_seconds before anything is written
        encoded = [encode_array(x) for x in xs]
        provenances = [normalized_json(p) for p in provenances]
        diagnostics = normalized_json(diagnostics)
        now = utc_now()
        try:
            with self._write() as session:
                # Locking the campaign row serializes concurrent asks (trial numbers, round uniqueness).
                campaign_row(session, campaign_id, lock=True)
                if proposer is not None:
                    _drop_proposer_lease(session, campaign_id, proposer)
                if round_row(session, campaign_id, round) is not None:
                    raise round_exists_error(campaign_id, round)
                if max_trials is not None:
                    held = and_(TrialRow.state == TrialState.WAITING, TrialRow.worker.is_not(None))
                    taken = session.scalar(
                        select(func.count()).where(
                            TrialRow.campaign_id == campaign_id, TrialRow.state != TrialState.ABANDONED, ~held
                        )
                    )
                    room = max(0, int(max_trials) - taken)
                    if room == 0:
                        return []
                    encoded, provenances = encoded[:room], provenances[:room]
                session.add(
                    RoundRow(
                        campaign_id=campaign_id,
                        round=round,
                        rng_state=bytes(rng_state),
                        diagnostics=diagnostics,
                        created_at=now,
                    )
                )
                if surrogate is not None:
                    session.add(surrogate_row(campaign_id, round, surrogate, now))
                last = session.scalar(select(func.max(TrialRow.number)).where(TrialRow.campaign_id == campaign_id))
                first_number = 0 if last is None else last + 1
                running = state == TrialState.RUNNING
                held = worker is not None
                rows = [
                    TrialRow(
                        campaign_id=campaign_id,
                        number=first_number + i,
                        round=round,
                        state=state,
                        x_data=data,
                        x_shape=shape,
                        x_dtype=dtype,
                        provenance=provenance,
                        worker=worker if held else None,
                        lease_expires_at=lease_end(now, lease_seconds) if held and lease_seconds is not None else None,
                        created_at=now,
                        started_at=now if running else None,
                        observation=None,
                    )
                    for i, ((data, shape, dtype), provenance) in enumerate(zip(encoded, provenances))
                ]
                session.add_all(rows)
                session.flush()
                return [trial_record(row) for row in rows]
        except IntegrityError:
            if self.get_round(campaign_id, round) is not None:
                raise round_exists_error(campaign_id, round) from None
            raise

    def rounds(self, campaign_id: int) -> list[RoundRecord]:
        with self._read() as session:
            rows = session.scalars(
                select(RoundRow)
                .where(RoundRow.campaign_id == checked_id(campaign_id, "campaign"))
                .order_by(RoundRow.round)
            )
            return [round_record(row) for row in rows]

    def round_diagnostics(self, campaign_id: int) -> list[dict[str, Any]]:
        """Each round's diagnostics, in round order, without the rest of the round (its generator state)."""
        with self._read() as session:
            return list(session.scalars(
                select(RoundRow.diagnostics)
                .where(RoundRow.campaign_id == checked_id(campaign_id, "campaign"))
                .order_by(RoundRow.round)
            ))

    def get_round(self, campaign_id: int, round: int) -> RoundRecord | None:
        with self._read() as session:
            row = round_row(session, campaign_id, round)
            return None if row is None else round_record(row)

    def update_round_diagnostics(self, campaign_id: int, round: int, updates: dict[str, Any], *,
                                 increments: dict[str, int] | None = None) -> None:
        """Shallow-merge `updates` into the round's diagnostics (e.g. results known only after the oracle ran), and
        add `increments` to the counts stored under their keys (0 where none is), in the same transaction, so that
        concurrent workers' counts add up."""
        updates = normalized_json(updates)
        with self._write() as session:
            row = round_row(session, campaign_id, round, lock=True)
            if row is None:
                name = campaign_row(session, campaign_id).name
                raise UnknownRoundError(f"campaign {name!r} has no round {round}: list them with rounds()")
            counts = {key: int(row.diagnostics.get(key) or 0) + int(n) for key, n in (increments or {}).items()}
            row.diagnostics = {**row.diagnostics, **updates, **counts}

    def surrogate_snapshots(self, campaign_id: int) -> list[SurrogateRecord]:
        with self._read() as session:
            rows = session.scalars(
                select(SurrogateSnapshotRow)
                .where(SurrogateSnapshotRow.campaign_id == checked_id(campaign_id, "campaign"))
                .order_by(SurrogateSnapshotRow.round, SurrogateSnapshotRow.id)
            )
            return [surrogate_record(row) for row in rows]

    # ---------------------------------------------------------------- trial leases

    def claim_trials(
        self, campaign_id: int, worker: str, lease_seconds: float, limit: int | None = None, *,
        resume_own: bool = False,
    ) -> list[TrialRecord]:
        """Atomically hand free waiting trials, and held or running ones whose lease expired, to `worker` (by number).

        Each trial goes to exactly one of any number of concurrent callers. A waiting trial held without a lease (asked
        for someone) is never claimed. With `resume_own`, `worker`'s own running trials come first whatever their
        lease: a worker that comes back under the same name finishes its own work before anyone else's.
        """
        if not worker:
            raise ValueError("claim_trials needs a worker name")
        if limit is not None and limit <= 0:
            return []
        with self._write() as session:
            now = utc_now()
            expired = and_(TrialRow.lease_expires_at.is_not(None), TrialRow.lease_expires_at < now)
            mine = and_(TrialRow.state == TrialState.RUNNING, TrialRow.worker == worker)
            claimable = or_(
                and_(TrialRow.state == TrialState.WAITING, or_(TrialRow.worker.is_(None), expired)),
                and_(TrialRow.state == TrialState.RUNNING, expired),
                *([mine] if resume_own else []),
            )
            query = (
                select(TrialRow)
                .where(TrialRow.campaign_id == checked_id(campaign_id, "campaign"), claimable)
                .order_by(mine.desc(), TrialRow.number)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            rows = list(session.scalars(query))
            for row in rows:
                row.state = TrialState.RUNNING
                row.worker = worker
                row.started_at = now
                row.lease_expires_at = lease_end(now, lease_seconds)
            return [trial_record(row, observation=None) for row in rows]

    def renew_lease(self, trial_ids: Iterable[int], worker: str, lease_seconds: float) -> list[int]:
        """Extend the leases of `worker`'s running trials; returns the ids renewed (others were lost or finished)."""
        ids = [int(i) for i in trial_ids]
        if not ids:
            return []
        with self._write() as session:
            held = (TrialRow.id.in_(ids), TrialRow.state == TrialState.RUNNING, TrialRow.worker == worker)
            renewed = list(session.scalars(select(TrialRow.id).where(*held).with_for_update()))
            if renewed:
                session.execute(
                    update(TrialRow)
                    .where(TrialRow.id.in_(renewed))
                    .values(lease_expires_at=lease_end(utc_now(), lease_seconds))
                )
            return sorted(renewed)

    # ---------------------------------------------------------------- the proposer lease

    def acquire_proposer(self, campaign_id: int, holder: str, lease_seconds: float) -> bool:
        """Become the one worker proposing the campaign's next round, for `lease_seconds` (renew it while working).

        True if `holder` now holds the lease (it was free, expired, or already its own); False if another holds it.
        `add_round(..., proposer=holder)` gives it back in the round's own transaction.
        """
        checked_id(campaign_id, "campaign")
        now = utc_now()
        try:
            with self._write() as session:
                row = session.get(ProposerLeaseRow, campaign_id, with_for_update=True)
                if row is None:
                    session.add(ProposerLeaseRow(campaign_id=campaign_id, holder=holder,
                                                 expires_at=lease_end(now, lease_seconds)))
                    return True
                if row.holder != holder and row.expires_at >= now:
                    return False
                row.holder, row.expires_at = holder, lease_end(now, lease_seconds)
                return True
        except IntegrityError:  # another worker inserted the lease first
            return False

    def renew_proposer(self, campaign_id: int, holder: str, lease_seconds: float) -> bool:
        """Extend `holder`'s proposer lease; False if it no longer holds it."""
        with self._write() as session:
            row = session.get(ProposerLeaseRow, checked_id(campaign_id, "campaign"), with_for_update=True)
            if row is None or row.holder != holder:
                return False
            row.expires_at = lease_end(utc_now(), lease_seconds)
            return True

    def release_proposer(self, campaign_id: int, holder: str) -> None:
        """Give up `holder`'s proposer lease (a no-op, writing nothing, if it does not hold it)."""
        current = self.proposer(campaign_id)
        if current is None or current[0] != holder:
            return
        with self._write() as session:
            _drop_proposer_lease(session, campaign_id, holder)

    def proposer(self, campaign_id: int) -> tuple[str, Any] | None:
        """``(holder, expires_at)`` of the campaign's proposer lease, or None."""
        with self._read() as session:
            row = session.get(ProposerLeaseRow, checked_id(campaign_id, "campaign"))
            return None if row is None else (row.holder, row.expires_at)

    def count_held(self, campaign_id: int) -> int:
        """Waiting trials held for someone (asked, not yet told) whose hold has not expired."""
        now = utc_now()
        with self._read() as session:
            return int(session.scalar(
                select(func.count()).where(
                    TrialRow.campaign_id == checked_id(campaign_id, "campaign"),
                    TrialRow.state == TrialState.WAITING,
                    TrialRow.worker.is_not(None),
                    or_(TrialRow.lease_expires_at.is_(None), TrialRow.lease_expires_at >= now),
                )
            ))

    def release_trial(self, trial_id: int, *, worker: str | None = None, campaign_id: int | None = None) -> TrialRecord:
        """Put a running or held trial back to free waiting (holder and lease cleared), so any worker may claim it."""
        with self._write() as session:
            row = _trial_row(session, trial_id, campaign_id, lock=True)
            if row.state in FINISHED_STATES:
                raise TrialConflictError(f"trial {row.id} is already {row.state}: a finished trial cannot be released")
            if worker is not None and row.state == TrialState.RUNNING and row.worker != worker:
                raise TrialConflictError(
                    f"trial {row.id} is held by worker {row.worker!r}, not {worker!r}: only its holder may release it"
                )
            row.state = TrialState.WAITING
            row.worker = None
            row.started_at = None
            row.lease_expires_at = None
            return trial_record(row)

    # ---------------------------------------------------------------- trial outcomes

    def complete_trial(
        self,
        trial_id: int,
        value: float,
        *,
        sem: float | None = None,
        rater: str | None = None,
        campaign_id: int | None = None,
        holder: str | None = None,
        by_hand: bool = False,
        force: bool = False,
    ) -> TrialRecord:
        """Record a trial's finite value (and optional sem, rater) and mark it completed, in one transaction.

        Idempotent for the bitwise-same value; a different value, or a failed/abandoned trial, raises
        TrialConflictError, as does an unfinished trial no longer held by `holder` (when given: a worker whose lease
        ran out, and whose trial another worker took over).

        `by_hand`: the value comes from a person outside any run (`oboptim tell`). A trial that a run is measuring
        (running, held by a worker) is that run's: TrialBeingMeasured, unless `force`, which records the value
        anyway and says so (the trial's worker becomes ``tell --force over WORKER``, the rater ``tell --force``), so
        that the run's own value, when it comes, is dropped with a message instead of silently.
        """
        value = finite_value(value, trial_id)
        sem = valid_sem(sem, trial_id)
        with self._write() as session:
            row = _trial_row(session, trial_id, campaign_id, lock=True)
            if row.state == TrialState.COMPLETED:
                stored = bits_to_float(row.observation.value_bits)
                if same_float(stored, value):
                    return trial_record(row)
                raise TrialConflictError(
                    f"trial {row.id} was already completed with value {stored!r}, you reported {value!r}: finished "
                    "trials are immutable"
                )
            if row.state in FINISHED_STATES:
                raise TrialConflictError(
                    f"trial {row.id} is already {row.state} ({row.error}), you reported value {value!r}: finished "
                    "trials are immutable"
                )
            _check_holder(row, holder)
            if by_hand and _measured_by_a_run(row):
                rater = _take_over(row, force, rater)
            now = utc_now()
            row.observation = ObservationRow(
                value=value, value_bits=float_to_bits(value), sem=sem, rater=rater, created_at=now
            )
            finish_row(row, TrialState.COMPLETED, now, error=None)
            session.flush()
            return trial_record(row)

    def fail_trial(self, trial_id: int, reason: str, *, campaign_id: int | None = None,
                   holder: str | None = None, by_hand: bool = False, force: bool = False) -> TrialRecord:
        """Mark a trial failed with `reason`; repeating the same failure is a no-op (`holder`, `by_hand` and `force`
        as for :meth:`complete_trial`)."""
        return self._finish_without_value(trial_id, TrialState.FAILED, str(reason), campaign_id, holder,
                                          by_hand=by_hand, force=force)

    def abandon_trial(self, trial_id: int, reason: str, *, campaign_id: int | None = None) -> TrialRecord:
        """Mark a waiting or running trial abandoned (it will never be scored); repeating it is a no-op."""
        return self._finish_without_value(trial_id, TrialState.ABANDONED, str(reason), campaign_id)

    def _finish_without_value(self, trial_id: int, state: str, reason: str, campaign_id: int | None,
                              holder: str | None = None, *, by_hand: bool = False,
                              force: bool = False) -> TrialRecord:
        with self._write() as session:
            row = _trial_row(session, trial_id, campaign_id, lock=True)
            if row.state == state and row.error == reason:
                return trial_record(row)
            if row.state in FINISHED_STATES:
                outcome = (
                    f"value {bits_to_float(row.observation.value_bits)!r}"
                    if row.state == TrialState.COMPLETED
                    else f"reason {row.error!r}"
                )
                raise TrialConflictError(
                    f"trial {row.id} is already {row.state} with {outcome}, you marked it {state} with reason "
                    f"{reason!r}: finished trials are immutable"
                )
            _check_holder(row, holder)
            if by_hand and _measured_by_a_run(row):
                _take_over(row, force, None)
            finish_row(row, state, utc_now(), error=reason)
            return trial_record(row)

    # ---------------------------------------------------------------- trial queries

    def get_trial(self, trial_id: int, *, campaign_id: int | None = None) -> TrialRecord:
        with self._read() as session:
            return trial_record(_trial_row(session, trial_id, campaign_id))

    def trials(
        self, campaign_id: int, states: Iterable[str] | None = None, round: int | None = None
    ) -> list[TrialRecord]:
        """The campaign's trials ordered by number, optionally only those in `states` and/or `round`."""
        query = (
            select(TrialRow)
            .options(joinedload(TrialRow.observation))
            .where(TrialRow.campaign_id == checked_id(campaign_id, "campaign"))
            .order_by(TrialRow.number)
        )
        if states is not None:
            states = checked_states(states)
            query = query.where(TrialRow.state.in_(states))
        if round is not None:
            query = query.where(TrialRow.round == round)
        with self._read() as session:
            return [trial_record(row) for row in session.scalars(query)]

    def best_value(self, campaign_id: int) -> tuple[int, float] | None:
        """``(trial id, value)`` of the best completed trial (the first asked among ties), without loading any x."""
        with self._read() as session:
            row = session.execute(
                select(TrialRow.id, ObservationRow.value_bits)
                .join(ObservationRow, ObservationRow.trial_id == TrialRow.id)
                .where(TrialRow.campaign_id == checked_id(campaign_id, "campaign"),
                       TrialRow.state == TrialState.COMPLETED)
                .order_by(ObservationRow.value.desc(), TrialRow.number)
                .limit(1)
            ).first()
        return None if row is None else (int(row[0]), bits_to_float(row[1]))

    def completed_values(self, campaign_id: int, round: int) -> list[tuple[dict[str, Any], float]]:
        """``(provenance, value)`` of a round's completed trials, by number, without loading any x."""
        with self._read() as session:
            rows = session.execute(
                select(TrialRow.provenance, ObservationRow.value_bits)
                .join(ObservationRow, ObservationRow.trial_id == TrialRow.id)
                .where(TrialRow.campaign_id == checked_id(campaign_id, "campaign"), TrialRow.round == round,
                       TrialRow.state == TrialState.COMPLETED)
                .order_by(TrialRow.number)
            ).all()
        return [(provenance, bits_to_float(bits)) for provenance, bits in rows]

    def count_rounds(self, campaign_id: int) -> int:
        """Rounds proposed so far."""
        with self._read() as session:
            return int(session.scalar(
                select(func.count()).where(RoundRow.campaign_id == checked_id(campaign_id, "campaign"))))

    def count_trials(self, campaign_id: int) -> dict[str, int]:
        """Number of trials per state (every state present, zeros included)."""
        with self._read() as session:
            counts = session.execute(
                select(TrialRow.state, func.count())
                .where(TrialRow.campaign_id == checked_id(campaign_id, "campaign"))
                .group_by(TrialRow.state)
            ).all()
            return {state: 0 for state in ALL_STATES} | dict(counts)


def _trial_row(session: Session, trial_id: int, campaign_id: int | None, *, lock: bool = False) -> TrialRow:
    """:func:`trial_row`, whose error names the campaign by its name and a command that lists its trial ids."""
    try:
        return trial_row(session, trial_id, campaign_id, lock=lock)
    except UnknownTrialError:
        if campaign_id is None:
            raise UnknownTrialError(f"no trial with id {trial_id}: `oboptim export NAME` lists a campaign's trial "
                                    "ids") from None
        name = session.scalar(select(CampaignRow.name).where(CampaignRow.id == campaign_id))
        if name is None:
            raise
        raise UnknownTrialError(f"campaign {name!r} has no trial {trial_id}: `oboptim export {shlex.quote(name)}` "
                                "lists its trial ids") from None


def _environmental(failure: DatabaseError) -> bool:
    """An error of the database's surroundings (locks, disk, permissions, a damaged file), not of our SQL or a race."""
    return isinstance(failure, OperationalError) or type(failure) is DatabaseError


def _drop_proposer_lease(session: Session, campaign_id: int, holder: str) -> None:
    row = session.get(ProposerLeaseRow, campaign_id, with_for_update=True)
    if row is not None and row.holder == holder:
        session.delete(row)


def _check_holder(row: TrialRow, holder: str | None) -> None:
    """Refuse an outcome from a worker that no longer holds the trial (its lease ran out and another took it)."""
    if holder is not None and (row.state != TrialState.RUNNING or row.worker != holder):
        current = f"held by {row.worker!r}" if row.worker else "waiting"
        raise TrialConflictError(f"trial {row.id} is {current}, no longer by {holder!r}: its lease ran out")


def _measured_by_a_run(row: TrialRow) -> bool:
    """Whether a run's oracle is measuring the trial: running, held by a worker (not asked with `oboptim ask`)."""
    return row.state == TrialState.RUNNING and bool(row.worker) and not row.worker.startswith(ASKED_PREFIX)


def _take_over(row: TrialRow, force: bool, rater: str | None) -> str:
    """Refuse an outcome told by hand for a trial a run is measuring, or with `force`, hand the trial over to it
    (recorded in its worker); returns the rater to store."""
    if not force:
        raise TrialBeingMeasured(
            f"trial {row.id} is being measured by `oboptim run` (worker {row.worker}); its value will come from that "
            "run: wait for it, or stop that run, or pass --force (force=True) to record yours instead"
        )
    row.worker = f"{FORCED} over {row.worker}"[:255]
    return FORCED if rater is None else f"{rater} ({FORCED})"[:255]
