"""What every domain of the router shares: its outbox, inbox and the event log.

Each domain declares its own state table (``alerts.tables``, ``messages.tables``,
``recommendations.tables``); the router alone writes all of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from shared.db import Base
from shared.envelope import Envelope
from shared.event_log import EventRecord  # the router is the log's only writer
from shared.event_log import append as append_to_log
from shared.inbox import inbox_table
from shared.outbox import add_to_outbox, outbox_table
from shared.outbox_parking import parked_table

OUTBOX = outbox_table("router")
OUTBOX_PARKED = parked_table(OUTBOX)  # rows the broker refused for good
INBOX = inbox_table("router")

__all__ = [
    "INBOX",
    "OUTBOX",
    "OUTBOX_PARKED",
    "EventRecord",
]

R = TypeVar("R", bound=Base)


async def claim_due(
    session: AsyncSession,
    record_type: type[R],
    due_at: InstrumentedAttribute[datetime | None],
    now: datetime,
    batch: int,
) -> Sequence[R]:
    """Up to ``batch`` rows whose timer (``due_at``) is due by ``now``, oldest first.

    Locked for the caller's transaction with SKIP LOCKED: router replicas on PostgreSQL
    claim different rows, so no timer fires twice.
    """
    claimed = await session.scalars(
        select(record_type)
        .where(due_at <= now)
        .order_by(due_at)
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    return claimed.all()


async def stage(session: AsyncSession, envelopes: list[Envelope]) -> None:
    """Append envelopes to the event log and the outbox, in the caller's transaction."""
    await append_to_log(session, envelopes)
    await add_to_outbox(session, OUTBOX, *envelopes)
