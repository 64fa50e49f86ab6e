"""event log: hash chain (prev_hash, hash) and a gapless sequence

Existing records (written before the chain) are numbered 1..n in their order
and chained, so every log verifies from its first record.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 23:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime
from shared.event_log import GENESIS, payload_digest, record_hash

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_LOG = sa.table(
    "router_event_log",
    sa.column("seq", sa.Integer()),
    sa.column("event_id", sa.String()),
    sa.column("type", sa.String()),
    sa.column("schema_version", sa.Integer()),
    sa.column("occurred_at", UTCDateTime()),
    sa.column("recorded_at", UTCDateTime()),
    sa.column("producer", sa.String()),
    sa.column("actor", sa.String()),
    sa.column("correlation_id", sa.String()),
    sa.column("causation_id", sa.String()),
    sa.column("classification", sa.String()),
    sa.column("payload", sa.JSON()),
    sa.column("prev_hash", sa.String()),
    sa.column("hash", sa.String()),
)


def upgrade() -> None:
    with op.batch_alter_table("router_event_log") as batch:
        batch.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(sa.select(_LOG).order_by(_LOG.c.seq)).mappings().all()
    prev = GENESIS
    for seq, row in enumerate(rows, start=1):
        fields = {**row, "seq": seq}
        digest = record_hash(fields, payload_digest(row["payload"]), prev)
        bind.execute(
            sa.update(_LOG)
            .where(_LOG.c.seq == row["seq"])
            .values(seq=seq, prev_hash=prev, hash=digest)
        )
        prev = digest
    with op.batch_alter_table("router_event_log") as batch:
        batch.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch.alter_column("hash", existing_type=sa.String(length=64), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("router_event_log") as batch:
        batch.drop_column("hash")
        batch.drop_column("prev_hash")
