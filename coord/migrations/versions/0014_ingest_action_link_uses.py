"""ingest: the one-time acknowledgement links of pages, once spent

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import shared.db

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ingest_action_link_uses",
        sa.Column("nonce", sa.String(length=32), nullable=False),
        sa.Column("alert_id", sa.String(length=36), nullable=False),
        sa.Column("person_id", sa.String(length=200), nullable=False),
        sa.Column("used_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("nonce", name=op.f("pk_ingest_action_link_uses")),
    )


def downgrade() -> None:
    op.drop_table("ingest_action_link_uses")
