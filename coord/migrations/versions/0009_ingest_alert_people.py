"""ingest: who each alert concerns by name (need-to-know in SQL)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24 09:00:00
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _names(value: Any) -> list[str]:
    # JSON columns come back decoded on PostgreSQL and as text on some SQLite paths.
    if isinstance(value, str):
        value = json.loads(value)
    return [str(item) for item in value or []]


def upgrade() -> None:
    people = op.create_table(
        "ingest_alert_people",
        sa.Column("alert_id", sa.String(length=36), nullable=False),
        sa.Column("person_id", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("alert_id", "person_id", name=op.f("pk_ingest_alert_people")),
    )
    with op.batch_alter_table("ingest_alert_people", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ingest_alert_people_person_id"), ["person_id"], unique=False
        )
    # Alerts already on the board keep being visible to everyone they paged.
    views = sa.table(
        "ingest_alert_views",
        sa.column("alert_id", sa.String),
        sa.column("targets", sa.JSON),
        sa.column("chain", sa.JSON),
    )
    rows = op.get_bind().execute(sa.select(views.c.alert_id, views.c.targets, views.c.chain))
    backfill = [
        {"alert_id": alert_id, "person_id": person_id}
        for alert_id, targets, chain in rows
        for person_id in sorted({*_names(targets), *_names(chain)})
    ]
    if backfill:
        op.bulk_insert(people, backfill)


def downgrade() -> None:
    with op.batch_alter_table("ingest_alert_people", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ingest_alert_people_person_id"))
    op.drop_table("ingest_alert_people")
