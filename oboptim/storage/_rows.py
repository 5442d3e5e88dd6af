"""Row lookups (with the locks and errors every Storage method needs) and row -> record conversion."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from oboptim.storage._arrays import bits_to_float
from oboptim.storage._errors import RoundExistsError, UnknownCampaignError, UnknownTrialError
from oboptim.storage._models import CampaignRow, ObservationRow, RoundRow, SurrogateSnapshotRow, TrialRow
from oboptim.storage._records import CampaignRecord, RoundRecord, SurrogateRecord, TrialRecord, TrialState
from oboptim.storage._validation import checked_id, normalized_json


def campaign_row(session: Session, campaign_id: int, *, lock: bool = False) -> CampaignRow:
    campaign_id = checked_id(campaign_id, "campaign")
    query = select(CampaignRow).where(CampaignRow.id == campaign_id)
    row = session.scalar(query.with_for_update() if lock else query)
    if row is None:
        raise UnknownCampaignError(f"no campaign with id {campaign_id}: list campaigns with `oboptim status`")
    return row


def trial_row(session: Session, trial_id: int, campaign_id: int | None, *, lock: bool = False) -> TrialRow:
    trial_id = checked_id(trial_id, "trial")
    query = select(TrialRow).where(TrialRow.id == trial_id)
    row = session.scalar(query.with_for_update() if lock else query.options(joinedload(TrialRow.observation)))
    if row is None or (campaign_id is not None and row.campaign_id != campaign_id):
        where = "" if campaign_id is None else f" in campaign {campaign_id}"
        raise UnknownTrialError(f"no trial with id {trial_id}{where}: check the id with `oboptim status`")
    return row


def round_row(session: Session, campaign_id: int, round: int, *, lock: bool = False) -> RoundRow | None:
    campaign_id, round = checked_id(campaign_id, "campaign"), checked_id(round, "round")
    query = select(RoundRow).where(RoundRow.campaign_id == campaign_id, RoundRow.round == round)
    return session.scalar(query.with_for_update() if lock else query)


def round_exists_error(campaign_id: int, round: int) -> RoundExistsError:
    return RoundExistsError(
        f"round {round} of campaign {campaign_id} was already proposed (by another worker?): nothing was written; "
        "reload the campaign and ask again"
    )


def surrogate_row(campaign_id: int, round: int, surrogate: dict[str, Any], now: datetime) -> SurrogateSnapshotRow:
    return SurrogateSnapshotRow(
        campaign_id=campaign_id,
        round=round,
        train_size=int(surrogate["train_size"]),
        hyperparameters=normalized_json(surrogate.get("hyperparameters", {})),
        diagnostics=normalized_json(surrogate.get("diagnostics", {})),
        created_at=now,
    )


def finish_row(row: TrialRow, state: str, now: datetime, *, error: str | None) -> None:
    row.state = state
    row.error = error
    row.finished_at = now
    row.lease_expires_at = None


def lease_end(now: datetime, lease_seconds: float | None) -> datetime | None:
    if lease_seconds is None:
        return None
    if not lease_seconds > 0:
        raise ValueError(f"lease_seconds must be positive, not {lease_seconds!r}")
    return now + timedelta(seconds=float(lease_seconds))


def campaign_record(row: CampaignRow) -> CampaignRecord:
    return CampaignRecord(
        id=row.id,
        name=row.name,
        task=row.task,
        config=row.config,
        seed=row.seed,
        schema_version=row.schema_version,
        created_at=row.created_at,
        status=row.status,
    )


_FROM_ROW = object()


def trial_record(row: TrialRow, observation: ObservationRow | None = _FROM_ROW) -> TrialRecord:
    if observation is _FROM_ROW:
        observation = row.observation
    return TrialRecord(
        id=row.id,
        campaign_id=row.campaign_id,
        number=row.number,
        round=row.round,
        state=TrialState(row.state),
        encoded_x=(bytes(row.x_data), tuple(int(n) for n in row.x_shape), row.x_dtype),
        provenance=row.provenance,
        worker=row.worker,
        lease_expires_at=row.lease_expires_at,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        error=row.error,
        value=None if observation is None else bits_to_float(observation.value_bits),
        sem=None if observation is None else observation.sem,
        rater=None if observation is None else observation.rater,
    )


def round_record(row: RoundRow) -> RoundRecord:
    return RoundRecord(
        campaign_id=row.campaign_id,
        round=row.round,
        rng_state=bytes(row.rng_state),
        diagnostics=row.diagnostics,
        created_at=row.created_at,
    )


def surrogate_record(row: SurrogateSnapshotRow) -> SurrogateRecord:
    return SurrogateRecord(
        campaign_id=row.campaign_id,
        round=row.round,
        train_size=row.train_size,
        hyperparameters=row.hyperparameters,
        diagnostics=row.diagnostics,
        created_at=row.created_at,
    )
