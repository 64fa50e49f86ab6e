"""The broker's work done in-process, for tests of ingest's API against the real router.

``Pump`` moves what ingest and the router staged in their outboxes to the
handlers of the queues the registry binds them to (the router's handler for
``router.inbox``; ingest's ``ViewKeeper`` for ``ingest.views``), until stopped.
Everything else - the router's rules, its verdicts, ingest's views and the API
waiting for a verdict - runs as in production, on the test's one database.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from sqlalchemy import Table, delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.ingest.tables import OUTBOX as INGEST_OUTBOX
from services.ingest.views import ViewKeeper
from services.router.handlers import RouterHandler
from services.router.tables import OUTBOX as ROUTER_OUTBOX
from shared.bus import INGEST_VIEWS_QUEUE, ROUTER_QUEUE
from shared.directory import Directory
from shared.envelope import Envelope
from tests.support.outbox import carried


@dataclass
class Pump:
    """Delivers outbox rows to the router and to ingest's views, in order, once each."""

    sessions: async_sessionmaker[AsyncSession]
    directory: Callable[[], Directory]
    views: ViewKeeper
    # Every event moved, in order, each once: a ``router.decisions`` unpacked, and a
    # ``notification.requested`` staged alone (for the notifier) counted in the decisions.
    moved: list[Envelope] = field(default_factory=list)
    taken: list[Envelope] = field(default_factory=list)  # the outbox rows, as they were
    # One drain at a time: ``settle`` drains beside ``run``, and a row is delivered once.
    _turn: asyncio.Lock = field(default_factory=asyncio.Lock, init=False, repr=False)

    async def drain(self) -> int:
        """Deliver what is staged now; the number of rows taken."""
        async with self._turn:
            router = RouterHandler(self.sessions, self.directory)
            count = 0
            for outbox in (INGEST_OUTBOX, ROUTER_OUTBOX):
                rows = await self._take(outbox)
                self.taken += rows
                for envelope, counted in carried(rows):
                    self.moved += counted  # the events, each once, as tests look for them
                    if envelope.type in ROUTER_QUEUE.bindings:
                        await router(envelope)
                    if envelope.type in INGEST_VIEWS_QUEUE.bindings:
                        await self.views(envelope)
                    count += 1
            return count

    async def settle(self) -> None:
        """Return once all that was staged is delivered, and all that it staged in turn.

        For a test that compares row counts or ``moved`` before and after a request:
        nothing is left in flight from an earlier one.
        """
        while await self.drain():
            pass

    async def _take(self, outbox: Table) -> list[Envelope]:
        async with self.sessions() as session, session.begin():
            rows = (await session.execute(select(outbox).order_by(outbox.c.position))).all()
            if rows:
                positions = [r.position for r in rows]
                await session.execute(delete(outbox).where(outbox.c.position.in_(positions)))
        return [Envelope.model_validate_json(bytes(r.body)) for r in rows]

    async def run(self, interval: float = 0.005) -> None:
        """Drain until cancelled; ``interval`` between empty rounds."""
        while True:
            if not await self.drain():
                await asyncio.sleep(interval)

    def staged(self, type_: str) -> list[Envelope]:
        """The events of ``type_`` moved so far."""
        return [e for e in self.moved if e.type == type_]


@contextlib.asynccontextmanager
async def pumping(pump: Pump) -> AsyncIterator[Pump]:
    """Run ``pump`` in the background for the block."""
    task = asyncio.create_task(pump.run())
    try:
        yield pump
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
