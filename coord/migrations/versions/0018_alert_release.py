"""alerts released to partners' CAP feed: when, on the router's alert and ingest's view

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 14:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import shared.db

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("router_alerts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("released_at", shared.db.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("ingest_alert_views", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("released_at", shared.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            batch_op.f("ix_ingest_alert_views_released_at"), ["released_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("ingest_alert_views", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ingest_alert_views_released_at"))
        batch_op.drop_column("released_at")
    with op.batch_alter_table("router_alerts", schema=None) as batch_op:
        batch_op.drop_column("released_at")
