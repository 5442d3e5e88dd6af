"""SQLAlchemy declarative models: the schema of an oboptim database (schema version 2).

The tables hold campaigns, rounds, trials, observations and surrogate snapshots (docs/design.md). Migrations in
`migrations/versions/` create exactly this schema; a test compares the two, so change both together (and add a
migration) when the schema changes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from oboptim.storage._column_types import JSONText, TrialStateText, UTCDateTime
from oboptim.storage._records import TrialState

CURRENT_SCHEMA_VERSION = 2
APPLICATION_NAME = "oboptim"
# The Alembic revisions of migrations/versions/, oldest first; the last is the head a current database is at. Kept
# here so that opening a database needs no Alembic (a test checks it against the migration scripts).
REVISIONS = ("0001_initial", "0002_proposer_lease")

# Deterministic constraint names, so that migrations can refer to them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class MetaEntry(Base):
    """Key/value facts that make an oboptim database recognizable ("application", "schema_version")."""

    __tablename__ = "oboptim_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class CampaignRow(Base):
    __tablename__ = "campaign"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    task: Mapped[str] = mapped_column(String(255))
    config: Mapped[dict[str, Any]] = mapped_column(JSONText)
    seed: Mapped[int] = mapped_column(BigInteger)
    schema_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))


class TrialRow(Base):
    __tablename__ = "trial"
    __table_args__ = (
        UniqueConstraint("campaign_id", "number"),
        Index(None, "campaign_id", "state"),
        Index(None, "campaign_id", "round"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    round: Mapped[int] = mapped_column(Integer)
    state: Mapped[TrialState] = mapped_column(TrialStateText)
    x_data: Mapped[bytes] = mapped_column(LargeBinary)
    x_shape: Mapped[list[int]] = mapped_column(JSONText)
    x_dtype: Mapped[str] = mapped_column(String(32))
    provenance: Mapped[dict[str, Any]] = mapped_column(JSONText)
    worker: Mapped[str | None] = mapped_column(String(255), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)

    observation: Mapped[ObservationRow | None] = relationship(uselist=False)


class ObservationRow(Base):
    __tablename__ = "observation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trial.id", ondelete="CASCADE"), unique=True)
    # `value` is for SQL queries; `value_bits` keeps the exact IEEE bits, because SQLite folds -0.0 into 0.
    value: Mapped[float] = mapped_column(Double)
    value_bits: Mapped[int] = mapped_column(BigInteger)
    sem: Mapped[float | None] = mapped_column(Double, nullable=True)
    rater: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RoundRow(Base):
    __tablename__ = "round"
    __table_args__ = (UniqueConstraint("campaign_id", "round"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    round: Mapped[int] = mapped_column(Integer)
    rng_state: Mapped[bytes] = mapped_column(LargeBinary)
    diagnostics: Mapped[dict[str, Any]] = mapped_column(JSONText)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SurrogateSnapshotRow(Base):
    __tablename__ = "surrogate_snapshot"
    __table_args__ = (Index(None, "campaign_id", "round"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    round: Mapped[int] = mapped_column(Integer)
    train_size: Mapped[int] = mapped_column(Integer)
    hyperparameters: Mapped[dict[str, Any]] = mapped_column(JSONText)
    diagnostics: Mapped[dict[str, Any]] = mapped_column(JSONText)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ProposerLeaseRow(Base):
    """Who proposes a campaign's next round, until when (no row: nobody). See `Storage.acquire_proposer`."""

    __tablename__ = "proposer_lease"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), primary_key=True)
    holder: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
