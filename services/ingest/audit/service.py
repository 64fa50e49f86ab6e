"""Auditors reading the router's event log over HTTP.

Ingest only reads ``router_event_log`` (the router is its only writer). Every
read is itself audited: an ``audit.accessed`` envelope is committed to ingest's
outbox before the page is read, and the router appends it to the log.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.ingest.tables import OUTBOX
from shared.audit_export import access_event, exported, may_see_protected
from shared.directory import Person
from shared.event_log import EventRecord, LogFilter
from shared.outbox import add_to_outbox
from shared.source_protection import SourceKeyRing

PRODUCER = "ingest"


def reveals_protected(person: Person) -> bool:
    """Whether this reader sees protected fields (an alert's ``source``) unredacted."""
    return may_see_protected(person.clearance)


async def record_access(
    sessions: async_sessionmaker[AsyncSession],
    person: Person,
    filters: dict[str, str],
    *,
    revealed: bool,
    via: str = "api",
    action: str = "list",
) -> None:
    """Commit one ``audit.accessed`` to ingest's outbox (``via`` the API or the board)."""
    envelope = access_event(
        producer=PRODUCER,
        person_id=person.id,
        via=via,
        action=action,
        filters=filters,
        revealed=revealed,
    )
    async with sessions() as session, session.begin():
        await add_to_outbox(session, OUTBOX, envelope)


@dataclass(frozen=True)
class LogPage:
    """Exported records in sequence order, and where the next page starts."""

    items: list[dict[str, object]]
    next_seq: int | None


async def read_page(
    session: AsyncSession,
    where: LogFilter,
    *,
    after_seq: int,
    limit: int,
    reveal_protected: bool,
    keys: SourceKeyRing,
) -> LogPage:
    """Records after ``after_seq`` matching ``where``, ``limit`` at a time, as exported.

    ``keys`` open sealed sources when ``reveal_protected``.
    """
    query = where.apply(select(EventRecord).where(EventRecord.seq > after_seq))
    rows = (await session.scalars(query.order_by(EventRecord.seq).limit(limit + 1))).all()
    page = rows[:limit]
    return LogPage(
        items=[exported(record, reveal_protected=reveal_protected, keys=keys) for record in page],
        next_seq=page[-1].seq if len(rows) > limit else None,
    )
