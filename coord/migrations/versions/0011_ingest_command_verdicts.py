"""ingest: the router's verdicts on commands (a command's answer is the router's)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import shared.db

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ingest_command_verdicts",
        sa.Column("command_id", sa.String(length=36), nullable=False),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.Column("refusal", sa.String(length=20), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("decided_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("command_id", name=op.f("pk_ingest_command_verdicts")),
    )
    with op.batch_alter_table("ingest_command_verdicts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ingest_command_verdicts_decided_at"), ["decided_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("ingest_command_verdicts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ingest_command_verdicts_decided_at"))
    op.drop_table("ingest_command_verdicts")
