"""Parked outbox rows: what the broker refused for good, set aside so the rest flows.

A row the broker will never take (unroutable, too large, nacked again and
again) would otherwise be retried forever at the head of its outbox, re-sending
the batch behind it and, once it is a batch long, holding back every later
row. The relay moves such a row, in one transaction, from ``<service>_outbox``
to ``<service>_outbox_parked`` (same columns, plus ``parked_at`` and
``reason``); an operator retries or drops it with ``coord outbox``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4

from sqlalchemy import (
    Column,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from shared.contracts import OUTBOX_PARKED
from shared.contracts.outbox import OutboxParkedV1
from shared.db import UTCDateTime
from shared.envelope import Envelope

MAX_REASON = 2000


def parked_table(outbox: Table) -> Table:
    """The parked rows of ``outbox`` (``<outbox>_parked``), declared once per metadata."""
    name = f"{outbox.name}_parked"
    existing = outbox.metadata.tables.get(name)
    if existing is not None:
        return existing
    return Table(
        name,
        outbox.metadata,
        # The message id, not the position, is the key: SQLite may give a deleted
        # position to a new outbox row, which could be parked in its turn.
        Column("message_id", String(36), primary_key=True),
        Column("position", Integer, nullable=False),  # where it was in the outbox
        Column("routing_key", String(100), nullable=False),
        Column("body", LargeBinary, nullable=False),
        Column("created_at", UTCDateTime(), nullable=False),
        Column("parked_at", UTCDateTime(), nullable=False),
        Column("reason", Text, nullable=False),
    )


@dataclass(frozen=True)
class OutboxRow:
    """One row of an outbox, as the relay read it."""

    position: int
    message_id: str
    routing_key: str
    body: bytes
    created_at: datetime


async def park(
    session: AsyncSession,
    outbox: Table,
    rows: Sequence[tuple[OutboxRow, str]],
    now: datetime,
) -> None:
    """Move each ``(row, reason)`` from ``outbox`` to its parked table (caller's transaction)."""
    if not rows:
        return
    parked = parked_table(outbox)
    ids = [row.message_id for row, _ in rows]
    # A row parked, retried and parked again replaces its earlier copy.
    await session.execute(delete(parked).where(parked.c.message_id.in_(ids)))
    await session.execute(
        insert(parked),
        [
            {
                "message_id": row.message_id,
                "position": row.position,
                "routing_key": row.routing_key,
                "body": row.body,
                "created_at": row.created_at,
                "parked_at": now,
                "reason": reason[:MAX_REASON],
            }
            for row, reason in rows
        ],
    )
    await session.execute(
        delete(outbox).where(outbox.c.position.in_([row.position for row, _ in rows]))
    )


def thread_of(message_id: str) -> UUID:
    """The correlation id of a parked row's events: its message id (a fresh one if malformed)."""
    try:
        return UUID(message_id)
    except ValueError:
        return uuid4()


def parked_event(service: str, row: OutboxRow, reason: str) -> Envelope:
    """``outbox.parked``: the router appends it to the log (it changes no state there)."""
    return Envelope(
        type=OUTBOX_PARKED,
        producer=service,
        actor=service,
        correlation_id=thread_of(row.message_id),
        payload=OutboxParkedV1(
            service=service,
            message_id=row.message_id,
            routing_key=row.routing_key,
            reason=reason[:MAX_REASON],
        ).model_dump(mode="json"),
    )


async def count_parked(session: AsyncSession, outbox: Table) -> int:
    """How many rows of ``outbox`` are parked."""
    parked = parked_table(outbox)
    return int((await session.execute(select(func.count()).select_from(parked))).scalar_one())


# --------------------------------------------------------------------------- the operator's side


@dataclass(frozen=True)
class ParkedRow:
    """A parked row as ``coord outbox list`` shows it."""

    service: str
    message_id: str
    routing_key: str
    reason: str
    parked_at: datetime
    created_at: datetime


async def list_parked(session: AsyncSession, outboxes: Mapping[str, Table]) -> list[ParkedRow]:
    """The parked rows of every service's outbox (``service -> outbox``), oldest first."""
    found: list[ParkedRow] = []
    for service, outbox in outboxes.items():
        parked = parked_table(outbox)
        query = select(
            parked.c.message_id,
            parked.c.routing_key,
            parked.c.reason,
            parked.c.parked_at,
            parked.c.created_at,
        )
        found.extend(
            ParkedRow(service, r.message_id, r.routing_key, r.reason, r.parked_at, r.created_at)
            for r in (await session.execute(query)).all()
        )
    return sorted(found, key=lambda r: (r.parked_at, r.service, r.message_id))


async def unpark(session: AsyncSession, outbox: Table, message_id: str) -> bool:
    """Move a parked row back to the end of ``outbox`` (the relay publishes it); False if absent."""
    parked = parked_table(outbox)
    query = select(parked).where(parked.c.message_id == message_id).with_for_update()
    row = (await session.execute(query)).one_or_none()
    if row is None:
        return False
    await session.execute(
        insert(outbox).values(
            message_id=row.message_id,
            routing_key=row.routing_key,
            body=row.body,
            created_at=row.created_at,
        )
    )
    await session.execute(delete(parked).where(parked.c.message_id == message_id))
    return True


async def drop_parked(session: AsyncSession, outbox: Table, message_id: str) -> bool:
    """Delete a parked row for good; False if absent."""
    parked = parked_table(outbox)
    result = await session.execute(delete(parked).where(parked.c.message_id == message_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]
