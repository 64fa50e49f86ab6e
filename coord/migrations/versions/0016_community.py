"""the community loop: alerts' reporters, receipts and feedback; SMS triage

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 03:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import shared.db

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("router_alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reporter", sa.String(length=64), nullable=True))
    with op.batch_alter_table("ingest_alert_views", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reporter", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("receipt_at", shared.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("feedback_at", shared.db.UTCDateTime(timezone=True), nullable=True)
        )
    # A community contact's SMS is recorded under "community:<id>", never the number.
    with op.batch_alter_table("notifier_sms", schema=None) as batch_op:
        batch_op.alter_column(
            "address", existing_type=sa.String(length=32), type_=sa.String(length=80)
        )
    op.create_table(
        "ingest_sms_triage",
        sa.Column("triage_id", sa.String(length=36), nullable=False),
        sa.Column("gateway_id", sa.String(length=100), nullable=False),
        sa.Column("received_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sender", sa.JSON(), nullable=False),
        sa.Column("sender_digest", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("alert_id", sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint("triage_id", name=op.f("pk_ingest_sms_triage")),
    )
    with op.batch_alter_table("ingest_sms_triage", schema=None) as batch_op:
        for column in ("gateway_id", "received_at", "sender_digest", "status"):
            batch_op.create_index(
                batch_op.f(f"ix_ingest_sms_triage_{column}"), [column], unique=False
            )


def downgrade() -> None:
    with op.batch_alter_table("ingest_sms_triage", schema=None) as batch_op:
        for column in ("gateway_id", "received_at", "sender_digest", "status"):
            batch_op.drop_index(batch_op.f(f"ix_ingest_sms_triage_{column}"))
    op.drop_table("ingest_sms_triage")
    with op.batch_alter_table("notifier_sms", schema=None) as batch_op:
        batch_op.alter_column(
            "address", existing_type=sa.String(length=80), type_=sa.String(length=32)
        )
    with op.batch_alter_table("ingest_alert_views", schema=None) as batch_op:
        batch_op.drop_column("feedback_at")
        batch_op.drop_column("receipt_at")
        batch_op.drop_column("reporter")
    with op.batch_alter_table("router_alerts", schema=None) as batch_op:
        batch_op.drop_column("reporter")
