"""Idempotent consumer: an inbox of processed message ids.

A consumer records the message id in the same transaction as the effect of
the message; a redelivered copy then finds the id and has no second effect.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy import Column, String, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.db import Base, UTCDateTime
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


async def process_once(
    sessions: async_sessionmaker[AsyncSession],
    inbox: Table,
    envelope: Envelope,
    effect: Callable[[AsyncSession], Awaitable[None]],
) -> bool:
    """Run ``effect`` and record ``envelope`` in one transaction, unless already done.

    Returns False for a duplicate, which then has no effect at all.
    """

    async def run(session: AsyncSession, _envelope: Envelope) -> None:
        await effect(session)

    return bool(await process_each_once(sessions, inbox, (envelope,), run))


async def process_each_once(
    sessions: async_sessionmaker[AsyncSession],
    inbox: Table,
    envelopes: Sequence[Envelope],
    effect: Callable[[AsyncSession, Envelope], Awaitable[None]],
) -> list[Envelope]:
    """Run ``effect`` for each envelope not processed before, in order, in one transaction.

    The envelopes are recorded in the same transaction; the ones that took effect are
    returned (a duplicate has no effect at all). One failure rolls the whole back.
    """
    async with sessions() as session, session.begin():
        fresh = await first_deliveries(session, inbox, envelopes)
        for envelope in fresh:
            await effect(session, envelope)
    return fresh


async def first_deliveries(
    session: AsyncSession, inbox: Table, envelopes: Sequence[Envelope]
) -> list[Envelope]:
    """Record a batch as processed in one statement; the envelopes not processed before.

    In delivery order; a message twice in the batch counts once. On PostgreSQL a
    concurrent transaction inserting the same id makes this one wait for it, so a
    message handled by two replicas at once takes effect in exactly one.
    """
    by_id: dict[str, Envelope] = {}
    for envelope in envelopes:
        by_id.setdefault(str(envelope.id), envelope)  # the first copy, in its place
    unique = list(by_id.values())
    now = utc_now()
    # In one order (by id): two replicas handed overlapping batches wait, not deadlock.
    rows = [
        {"message_id": str(e.id), "message_type": e.type, "processed_at": now}
        for e in sorted(unique, key=lambda e: str(e.id))
    ]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(inbox).values(rows).on_conflict_do_nothing().returning(inbox.c.message_id)
    fresh = set((await session.scalars(statement)).all())
    return [e for e in unique if str(e.id) in fresh]
