"""Transactional outbox and its relay.

A service adds the envelopes it wants to publish to its outbox table in the
same transaction as the state change that caused them: no event without its
committed change. The relay then publishes pending rows with confirms and
deletes them, so an event survives a crash between commit and publish (it is
published again on restart, possibly twice; consumers are idempotent).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

import structlog
from sqlalchemy import (
    Column,
    Integer,
    LargeBinary,
    Row,
    Select,
    String,
    Table,
    delete,
    event,
    insert,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from shared.bus import Bus, OutgoingMessage, to_outgoing
from shared.db import Base, UTCDateTime
from shared.envelope import Envelope, utc_now
from shared.metrics import OUTBOX_PUBLISH_FAILURES, OUTBOX_PUBLISHED

log = structlog.get_logger(__name__)

# The relay holds its transaction (and on SQLite the write lock) while the
# broker confirms; a half-dead connection must not hold it for long.
PUBLISH_TIMEOUT_SECONDS = 10.0

_PENDING_KEY = "coord.outbox.pending"


def outbox_table(service: str) -> Table:
    """The outbox table owned by ``service``."""
    return Table(
        f"{service}_outbox",
        Base.metadata,
        Column("position", Integer, primary_key=True, autoincrement=True),
        Column("message_id", String(36), nullable=False, unique=True),
        Column("routing_key", String(100), nullable=False),
        Column("body", LargeBinary, nullable=False),
        Column("created_at", UTCDateTime(), nullable=False),
    )


async def add_to_outbox(session: AsyncSession, outbox: Table, *envelopes: Envelope) -> None:
    """Stage envelopes for publication when ``session``'s transaction commits."""
    if not envelopes:
        return
    now = utc_now()
    rows: list[dict[str, Any]] = []
    for envelope in envelopes:
        message = to_outgoing(envelope)
        rows.append(
            {
                "message_id": message.message_id,
                "routing_key": message.routing_key,
                "body": message.body,
                "created_at": now,
            }
        )
    await session.execute(insert(outbox), rows)
    session.sync_session.info.setdefault(_PENDING_KEY, set()).add(outbox.name)


class OutboxRelay:
    """Publishes an outbox's rows; woken at once by a commit that added rows."""

    def __init__(
        self,
        service: str,
        outbox: Table,
        sessions: async_sessionmaker[AsyncSession],
        bus: Bus,
        *,
        batch_size: int,
        poll_interval: float,
    ) -> None:
        self._service = service
        self._outbox = outbox
        self._sessions = sessions
        self._bus = bus
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._wake = asyncio.Event()
        event.listen(Session, "after_commit", self._after_commit)

    def close(self) -> None:
        """Stop listening to commits."""
        event.remove(Session, "after_commit", self._after_commit)

    def _after_commit(self, session: Session) -> None:
        pending = session.info.pop(_PENDING_KEY, set())
        if self._outbox.name in pending:
            self._wake.set()

    async def run(self) -> None:
        """Publish until cancelled; polls too, for rows left by a crashed process."""
        failing = False
        while True:
            try:
                while await self.publish_pending():
                    pass
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - any failure: the rows stay, retry
                # Broker or database down. Said once per outage, not on every poll.
                OUTBOX_PUBLISH_FAILURES.labels(service=self._service).inc()
                if not failing:
                    log.warning("outbox.publish_failing", service=self._service, error=repr(error))
                failing = True
            else:
                if failing:
                    log.info("outbox.publish_recovered", service=self._service)
                failing = False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll_interval)
            self._wake.clear()

    async def publish_pending(self) -> int:
        """Publish one batch of pending rows; the number published."""
        if not self._bus.is_connected:
            # Do not even open a transaction: the rows wait for the broker.
            raise ConnectionError("broker connection is closed")
        if _is_sqlite(self._sessions):
            return await self._publish_pending_sqlite()
        table = self._outbox
        async with self._sessions() as session, session.begin():
            # SKIP LOCKED lets replicas on PostgreSQL share the outbox without
            # waiting on each other; row locks do not block new inserts.
            rows = (await session.execute(self._pending().with_for_update(skip_locked=True))).all()
            if not rows:
                return 0
            await self._publish(rows)
            await session.execute(
                delete(table).where(table.c.position.in_([r.position for r in rows]))
            )
        OUTBOX_PUBLISHED.labels(service=self._service).inc(len(rows))
        return len(rows)

    async def _publish_pending_sqlite(self) -> int:
        # SQLite has one write lock for the whole file: holding it while the
        # broker confirms would stall every API request behind a slow broker.
        # Read, publish, then delete, each step short (one relay per SQLite file).
        async with self._sessions() as session:
            rows = (await session.execute(self._pending())).all()
        if not rows:
            return 0
        await self._publish(rows)
        async with self._sessions() as session, session.begin():
            await session.execute(
                delete(self._outbox).where(self._outbox.c.position.in_([r.position for r in rows]))
            )
        OUTBOX_PUBLISHED.labels(service=self._service).inc(len(rows))
        return len(rows)

    def _pending(self) -> Select[tuple[int, str, str, bytes]]:
        table = self._outbox
        return (
            select(table.c.position, table.c.message_id, table.c.routing_key, table.c.body)
            .order_by(table.c.position)
            .limit(self._batch_size)
        )

    async def _publish(self, rows: Sequence[Row[tuple[int, str, str, bytes]]]) -> None:
        await asyncio.wait_for(
            self._bus.publish(
                [OutgoingMessage(r.message_id, r.routing_key, bytes(r.body)) for r in rows]
            ),
            PUBLISH_TIMEOUT_SECONDS,
        )


def _is_sqlite(sessions: async_sessionmaker[AsyncSession]) -> bool:
    bind = sessions.kw.get("bind")
    return bind is not None and bind.dialect.name == "sqlite"
