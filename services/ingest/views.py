"""The consumer of ``ingest.views``: applies each event to the read side, in order per subject.

Events of one alert, message or recommendation are applied in the order they
were delivered (the router publishes a command's events in order, its state
last), so by the time a command's verdict is recorded its other effects, such
as a note on the timeline, are there too. Different subjects go concurrently.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.ingest.verdicts import (
    KEEP_VERDICTS,
    VerdictWaiters,
    forget_older_than,
    record_verdict,
)
from shared.decisions import unpack
from shared.envelope import Envelope, utc_now

log = structlog.get_logger(__name__)

Projection = Callable[[AsyncSession, Envelope], Awaitable[None]]


class ViewKeeper:
    """Applies events to the views with ``project`` and records the router's verdicts."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        project: Projection,
        verdicts: VerdictWaiters,
    ) -> None:
        self._sessions = sessions
        self._project = project
        self._verdicts = verdicts
        # correlation id -> (its lock, how many handlers hold or wait for it)
        self._subjects: dict[str, tuple[asyncio.Lock, int]] = {}

    async def __call__(self, envelope: Envelope) -> None:
        """Apply one delivery's events (a redelivered one changes nothing), then wake waiters.

        A delivery is one event, or the router's ``router.decisions`` of one transaction,
        which may be about several subjects: it holds the lock of each.
        """
        events = unpack(envelope)
        # Taken in one order (sorted), so two deliveries about the same subjects cannot
        # each hold one lock and wait for the other's.
        keys = sorted({str(event.correlation_id) for event in events})
        for key in keys:
            lock, users = self._subjects.get(key, (asyncio.Lock(), 0))
            self._subjects[key] = (lock, users + 1)
        try:
            async with contextlib.AsyncExitStack() as held:
                # asyncio.Lock is fair: handlers started in delivery order take it in order.
                for key in keys:
                    await held.enter_async_context(self._subjects[key][0])
                await self._apply(events)
        finally:
            for key in keys:
                lock, users = self._subjects[key]
                if users == 1:
                    del self._subjects[key]
                else:
                    self._subjects[key] = (lock, users - 1)

    async def batch(self, envelopes: Sequence[Envelope]) -> None:
        """Apply a batch's events in delivery order, in one transaction, then wake waiters.

        For ``MessageBus.consume_batches``: batches come one after the other, so the events
        of a subject keep their order. A delivery alone goes through ``__call__``, whose
        per-subject lock orders the deliveries of a failed batch, which the bus retries one
        by one and concurrently.
        """
        if len(envelopes) == 1:
            await self(envelopes[0])
            return
        await self._apply([event for envelope in envelopes for event in unpack(envelope)])

    async def _apply(self, events: Sequence[Envelope]) -> None:
        async with self._sessions() as session, session.begin():
            for event in events:
                await self._project(session, event)
                await record_verdict(session, event)
        for event in events:
            self._verdicts.wake(event.causation_id)

    async def forget_old_verdicts(self, every: timedelta = timedelta(minutes=5)) -> None:
        """Delete verdicts nobody waits for any more, every ``every``, until cancelled."""
        while True:
            # Sleep first: old verdicts can wait one round, and a write transaction at
            # start-up would only compete for SQLite's one write lock with the start.
            await asyncio.sleep(every.total_seconds())
            try:
                async with self._sessions() as session, session.begin():
                    await forget_older_than(session, utc_now() - KEEP_VERDICTS)
            except Exception as error:  # noqa: BLE001 - a database hiccup must not end the loop
                log.warning("verdicts.forget_failed", error=repr(error))
