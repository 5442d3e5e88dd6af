"""The proposer lease: one worker at a time proposes a campaign's next round (schema version 2).

Revision ID: 0002_proposer_lease
Revises: 0001_initial
Create Date: 2026-11-30

Adds the table `proposer_lease` (one row per campaign whose next round someone is proposing: who, until when) and
sets the schema version to 2. Frozen: later changes come with a new revision.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_proposer_lease"
down_revision = "0001_initial"
branch_labels = None
depends_on = None

SCHEMA_VERSION = 2


def upgrade() -> None:
    op.create_table(
        "proposer_lease",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("holder", sa.String(255), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"], name="fk_proposer_lease_campaign_id_campaign",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("campaign_id", name="pk_proposer_lease"),
    )
    op.execute(sa.text("UPDATE oboptim_meta SET value = :version WHERE key = 'schema_version'").bindparams(
        version=str(SCHEMA_VERSION)))


def downgrade() -> None:
    op.drop_table("proposer_lease")
    op.execute(sa.text("UPDATE oboptim_meta SET value = '1' WHERE key = 'schema_version'"))
