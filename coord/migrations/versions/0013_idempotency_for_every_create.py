"""ingest: one Idempotency-Key table for every create (alerts, messages, recommendations)

A key is a person's, whatever it created: ``kind`` says what, ``subject_id`` (was
``alert_id``) which. Rows written before are alerts.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-09 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

TABLE = "ingest_idempotency_keys"


def upgrade() -> None:
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        # The default fills the rows written before (all alerts); it is dropped below, so
        # every new row names its kind.
        batch_op.add_column(
            sa.Column("kind", sa.String(length=20), nullable=False, server_default="alert")
        )
        batch_op.alter_column(
            "alert_id",
            new_column_name="subject_id",
            existing_type=sa.String(length=36),
            existing_nullable=False,
        )
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.alter_column(
            "kind",
            server_default=None,
            existing_type=sa.String(length=20),
            existing_nullable=False,
        )


def downgrade() -> None:
    # Before 0013 a key could only have made an alert: the others' keys are forgotten.
    op.execute(sa.text(f"DELETE FROM {TABLE} WHERE kind <> 'alert'"))  # noqa: S608 - a constant
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.alter_column(
            "subject_id",
            new_column_name="alert_id",
            existing_type=sa.String(length=36),
            existing_nullable=False,
        )
        batch_op.drop_column("kind")
