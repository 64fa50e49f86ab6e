"""The consumer of ``ingest.views``: applies each event to the read side, in order per subject.

Events of one alert, message or recommendation are applied in the order they
were delivered (the router publishes a command's events in order, its state
last), so by the time a command's verdict is recorded its other effects, such
as a note on the timeline, are there too. Different subjects go concurrently.
"""

from __future__ import annotations

import asyncio
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
        """Apply one event (a redelivered one changes nothing), then wake its waiter."""
        key = str(envelope.correlation_id)
        lock, users = self._subjects.get(key, (asyncio.Lock(), 0))
        self._subjects[key] = (lock, users + 1)
        try:
            # asyncio.Lock is fair: handlers started in delivery order take it in that order.
            async with lock, self._sessions() as session, session.begin():
                await self._project(session, envelope)
                await record_verdict(session, envelope)
        finally:
            lock, users = self._subjects[key]
            if users == 1:
                del self._subjects[key]
            else:
                self._subjects[key] = (lock, users - 1)
        self._verdicts.wake(envelope.causation_id)

    async def batch(self, envelopes: Sequence[Envelope]) -> None:
        """Apply a batch in delivery order, in one transaction, then wake their waiters.

        For ``MessageBus.consume_batches``: batches come one after the other, so the events
        of a subject keep their order. An event alone goes through ``__call__``, whose
        per-subject lock orders the events of a failed batch, which the bus retries one by
        one and concurrently.
        """
        if len(envelopes) == 1:
            await self(envelopes[0])
            return
        async with self._sessions() as session, session.begin():
            for envelope in envelopes:
                await self._project(session, envelope)
                await record_verdict(session, envelope)
        for envelope in envelopes:
            self._verdicts.wake(envelope.causation_id)

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
