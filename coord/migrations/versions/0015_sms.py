"""alerts' short codes (router, ingest's views); notifier: SMS sent and their reports

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 23:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import shared.db

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "router_open_alert_codes",
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("alert_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_router_open_alert_codes")),
        sa.UniqueConstraint("alert_id", name=op.f("uq_router_open_alert_codes_alert_id")),
    )
    with op.batch_alter_table("ingest_alert_views", schema=None) as batch_op:
        batch_op.add_column(sa.Column("code", sa.String(length=8), nullable=True))
        batch_op.create_index(batch_op.f("ix_ingest_alert_views_code"), ["code"], unique=False)
    op.create_table(
        "notifier_sms",
        sa.Column("sms_id", sa.String(length=36), nullable=False),
        sa.Column("notification_id", sa.String(length=36), nullable=False),
        sa.Column("address", sa.String(length=32), nullable=False),
        sa.Column("segments", sa.Integer(), nullable=False),
        sa.Column("submitted_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("final", sa.Boolean(), nullable=False),
        sa.Column("reported_at", shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("sms_id", name=op.f("pk_notifier_sms")),
    )
    with op.batch_alter_table("notifier_sms", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notifier_sms_notification_id"), ["notification_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("notifier_sms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notifier_sms_notification_id"))
    op.drop_table("notifier_sms")
    with op.batch_alter_table("ingest_alert_views", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ingest_alert_views_code"))
        batch_op.drop_column("code")
    op.drop_table("router_open_alert_codes")
