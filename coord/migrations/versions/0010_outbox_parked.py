"""outboxes: parked rows (what the broker refused for good), one table per service

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import shared.db

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

SERVICES = ("ingest", "notifier", "router")


def upgrade() -> None:
    for service in SERVICES:
        name = f"{service}_outbox_parked"
        op.create_table(
            name,
            sa.Column("message_id", sa.String(length=36), nullable=False),
            sa.Column("position", sa.Integer(), nullable=False),
            sa.Column("routing_key", sa.String(length=100), nullable=False),
            sa.Column("body", sa.LargeBinary(), nullable=False),
            sa.Column("created_at", shared.db.UTCDateTime(timezone=True), nullable=False),
            sa.Column("parked_at", shared.db.UTCDateTime(timezone=True), nullable=False),
            sa.Column("reason", sa.Text(), nullable=False),
            sa.PrimaryKeyConstraint("message_id", name=op.f(f"pk_{name}")),
        )


def downgrade() -> None:
    for service in SERVICES:
        op.drop_table(f"{service}_outbox_parked")
