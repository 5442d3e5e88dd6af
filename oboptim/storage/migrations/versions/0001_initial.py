"""Initial oboptim schema (schema version 1).

Revision ID: 0001_initial
Revises:
Create Date: 2025-01-01

Frozen copy of the version-1 schema: later changes to models.py must come with a new revision, never an edit here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

SCHEMA_VERSION = 1


def upgrade() -> None:
    meta = op.create_table(
        "oboptim_meta",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_oboptim_meta"),
    )
    op.create_table(
        "campaign",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("task", sa.String(255), nullable=False),
        sa.Column("config", sa.Text(), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_campaign"),
        sa.UniqueConstraint("name", name="uq_campaign_name"),
    )
    op.create_table(
        "trial",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("x_data", sa.LargeBinary(), nullable=False),
        sa.Column("x_shape", sa.Text(), nullable=False),
        sa.Column("x_dtype", sa.String(32), nullable=False),
        sa.Column("provenance", sa.Text(), nullable=False),
        sa.Column("worker", sa.String(255), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_trial"),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaign.id"], name="fk_trial_campaign_id_campaign", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("campaign_id", "number", name="uq_trial_campaign_id_number"),
    )
    op.create_index("ix_trial_campaign_id_state", "trial", ["campaign_id", "state"])
    op.create_index("ix_trial_campaign_id_round", "trial", ["campaign_id", "round"])
    op.create_table(
        "observation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trial_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("value_bits", sa.BigInteger(), nullable=False),
        sa.Column("sem", sa.Double(), nullable=True),
        sa.Column("rater", sa.String(255), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_observation"),
        sa.ForeignKeyConstraint(["trial_id"], ["trial.id"], name="fk_observation_trial_id_trial", ondelete="CASCADE"),
        sa.UniqueConstraint("trial_id", name="uq_observation_trial_id"),
    )
    op.create_table(
        "round",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("rng_state", sa.LargeBinary(), nullable=False),
        sa.Column("diagnostics", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_round"),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaign.id"], name="fk_round_campaign_id_campaign", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("campaign_id", "round", name="uq_round_campaign_id_round"),
    )
    op.create_table(
        "surrogate_snapshot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("train_size", sa.Integer(), nullable=False),
        sa.Column("hyperparameters", sa.Text(), nullable=False),
        sa.Column("diagnostics", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_surrogate_snapshot"),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaign.id"], name="fk_surrogate_snapshot_campaign_id_campaign", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_surrogate_snapshot_campaign_id_round", "surrogate_snapshot", ["campaign_id", "round"])
    op.bulk_insert(
        meta,
        [
            {"key": "application", "value": "oboptim"},
            {"key": "schema_version", "value": str(SCHEMA_VERSION)},
        ],
    )


def downgrade() -> None:
    for table in ("surrogate_snapshot", "round", "observation", "trial", "campaign", "oboptim_meta"):
        op.drop_table(table)
