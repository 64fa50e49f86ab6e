"""escalation state on alerts and their views, durable timer columns, open dedup keys

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-23 20:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import shared.db

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("router_alerts") as batch:
        batch.add_column(sa.Column("snapshot", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(sa.Column("summary", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(sa.Column("cycle", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("loop", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(
            sa.Column("exhausted", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(
            sa.Column("acknowledgements", sa.JSON(), nullable=False, server_default="[]")
        )
        batch.add_column(sa.Column("timer_kind", sa.String(length=20), nullable=True))
        batch.add_column(
            sa.Column("timer_due_at", shared.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("dedup_key", sa.String(length=200), nullable=True))
        batch.add_column(
            sa.Column("dedup_count", sa.Integer(), nullable=False, server_default="1")
        )
        batch.add_column(sa.Column("merged_into", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        batch.create_index("ix_router_alerts_timer_due_at", ["timer_due_at"], unique=False)
    with op.batch_alter_table("ingest_alert_views") as batch:
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("loop", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(
            sa.Column("exhausted", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(
            sa.Column("next_escalation_at", shared.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(
            sa.Column("acknowledgements", sa.JSON(), nullable=False, server_default="[]")
        )
        batch.add_column(sa.Column("chain", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(
            sa.Column("dedup_count", sa.Integer(), nullable=False, server_default="1")
        )
        batch.add_column(sa.Column("merged_into", sa.String(length=36), nullable=True))
        batch.create_index("ix_ingest_alert_views_raised_at", ["raised_at"], unique=False)
        batch.drop_column("status_rank")  # superseded by the router state's version
    op.create_table(
        "router_open_dedup_keys",
        sa.Column("dedup_key", sa.String(length=200), nullable=False),
        sa.Column("alert_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("dedup_key", name=op.f("pk_router_open_dedup_keys")),
    )


def downgrade() -> None:
    op.drop_table("router_open_dedup_keys")
    with op.batch_alter_table("ingest_alert_views") as batch:
        batch.add_column(
            sa.Column("status_rank", sa.Integer(), nullable=False, server_default="0")
        )
        batch.drop_index("ix_ingest_alert_views_raised_at")
        for column in (
            "merged_into", "dedup_count", "chain", "acknowledgements", "next_escalation_at",
            "exhausted", "loop", "version",
        ):
            batch.drop_column(column)
    with op.batch_alter_table("router_alerts") as batch:
        batch.drop_index("ix_router_alerts_timer_due_at")
        for column in (
            "version", "merged_into", "dedup_count", "dedup_key", "timer_due_at", "timer_kind",
            "acknowledgements", "exhausted", "loop", "cycle", "summary", "snapshot",
        ):
            batch.drop_column(column)
