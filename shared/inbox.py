"""Idempotent consumer: an inbox of processed message ids.

A consumer records the message id in the same transaction as the effect of
the message; a redelivered copy then finds the id and has no second effect.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import Column, String, Table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.db import Base, UTCDateTime, insert_ignoring_duplicates
from shared.envelope import Envelope, utc_now


def inbox_table(service: str) -> Table:
    """The inbox table owned by ``service``."""
    return Table(
        f"{service}_inbox",
        Base.metadata,
        Column("message_id", String(36), primary_key=True),
        Column("message_type", String(100), nullable=False),
        Column("processed_at", UTCDateTime(), nullable=False),
    )


async def record_first_delivery(session: AsyncSession, inbox: Table, envelope: Envelope) -> bool:
    """Record ``envelope`` as processed; False when it already was (a duplicate)."""
    return await insert_ignoring_duplicates(
        session,
        inbox,
        {
            "message_id": str(envelope.id),
            "message_type": envelope.type,
            "processed_at": utc_now(),
        },
    )


async def process_once(
    sessions: async_sessionmaker[AsyncSession],
    inbox: Table,
    envelope: Envelope,
    effect: Callable[[AsyncSession], Awaitable[None]],
) -> bool:
    """Run ``effect`` and record ``envelope`` in one transaction, unless already done.

    Returns False for a duplicate, which then has no effect at all.
    """
    async with sessions() as session, session.begin():
        if not await record_first_delivery(session, inbox, envelope):
            return False
        await effect(session)
    return True
