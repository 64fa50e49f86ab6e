"""router: a dedup key merges only within one sector, category and classification

``router_open_dedup_keys`` is keyed by the whole dedup scope (key, sector, category,
classification) instead of the key alone. The table is recreated and its rows
copied: each open alert that held a key holds that key's scope, read from the
alert's own row (the system of record). A downgrade keeps, of the scopes sharing
a key, the one of the earliest open alert (the old table allows one per key).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08 09:00:00
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

TABLE = "router_open_dedup_keys"
SCOPE = ("dedup_key", "sector", "category", "classification")

_KEYS = sa.table(TABLE, sa.column("dedup_key", sa.String()), sa.column("alert_id", sa.String()))
_ALERTS = sa.table(
    "router_alerts",
    sa.column("alert_id", sa.String()),
    sa.column("sector", sa.String()),
    sa.column("category", sa.String()),
    sa.column("summary", sa.JSON()),
    sa.column("triggered_at", UTCDateTime()),
)


def _classification(summary: Any) -> str:
    # JSON columns come back decoded on PostgreSQL and as text on some SQLite paths.
    if isinstance(summary, str):
        summary = json.loads(summary)
    return str((summary or {}).get("classification") or "unclassified")


def _held() -> list[dict[str, Any]]:
    """Every key row with its alert's scope, earliest alert first (orphans left out)."""
    rows = op.get_bind().execute(
        sa.select(
            _KEYS.c.dedup_key,
            _KEYS.c.alert_id,
            _ALERTS.c.sector,
            _ALERTS.c.category,
            _ALERTS.c.summary,
        )
        .select_from(_KEYS.join(_ALERTS, _ALERTS.c.alert_id == _KEYS.c.alert_id))
        .order_by(_ALERTS.c.triggered_at, _ALERTS.c.alert_id)
    )
    return [
        {
            "dedup_key": key,
            "sector": sector,
            "category": category,
            "classification": _classification(summary),
            "alert_id": alert_id,
        }
        for key, alert_id, sector, category, summary in rows
    ]


def _recreate(*scope: str) -> sa.Table:
    op.drop_table(TABLE)
    lengths = {"dedup_key": 200, "sector": 100, "category": 50, "classification": 30}
    return op.create_table(
        TABLE,
        *(sa.Column(name, sa.String(length=lengths[name]), nullable=False) for name in scope),
        sa.Column("alert_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint(*scope, name=op.f("pk_router_open_dedup_keys")),
    )


def _copy(table: sa.Table, rows: list[dict[str, Any]], scope: tuple[str, ...]) -> None:
    kept: dict[tuple[str, ...], dict[str, Any]] = {}
    for row in rows:  # earliest first: it keeps the scope
        kept.setdefault(tuple(row[name] for name in scope), row)
    if kept:
        op.bulk_insert(
            table, [{name: row[name] for name in (*scope, "alert_id")} for row in kept.values()]
        )


def upgrade() -> None:
    rows = _held()
    _copy(_recreate(*SCOPE), rows, SCOPE)


def downgrade() -> None:
    rows = _held()
    _copy(_recreate("dedup_key"), rows, ("dedup_key",))
