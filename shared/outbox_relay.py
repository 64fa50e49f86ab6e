"""The outbox relay: publishes what the services staged, woken by their commits.

Each message's outcome is known on its own. A row the broker refuses for good
(unroutable, too large, nacked again and again) is parked
(``shared.outbox_parking``) and the rows behind it go on; a transient failure
(connection lost, timeout) leaves the rows for the next round.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy import Select, Table, delete, event, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from shared.bus import OutgoingMessage, PublishOutcome
from shared.bus_protocol import MessageBus
from shared.contracts import OUTBOX_PARKED
from shared.contracts.registry import is_published
from shared.envelope import utc_now
from shared.metrics import OUTBOX_PARKED_ROWS, OUTBOX_PUBLISH_FAILURES, OUTBOX_PUBLISHED
from shared.outbox import PENDING_KEY, add_to_outbox
from shared.outbox_parking import OutboxRow, count_parked, park, parked_event
from shared.refusals import RefusalKind, refusal_of

log = structlog.get_logger(__name__)

# The relay holds its transaction (and on SQLite the write lock) while the
# broker confirms; a half-dead connection must not hold it for long.
PUBLISH_TIMEOUT_SECONDS = 10.0
# Larger messages are parked unpublished: RabbitMQ closes the channel on a message over
# its max_message_size (16 MiB by default since 4.0), which would fail the whole batch.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
# A nack says the broker could not take the message now; this many in a row, and for as
# long as the grace below, it never will.
NACKS_BEFORE_PARKING = 5
# A type the registry routes that comes back unroutable is most likely a topology not yet
# restored (a broker restart, a reconnecting channel re-binding its queues), and a nack a
# quorum queue without a leader yet: either is retried (costing nothing downstream: nothing
# was delivered) and parked only if it lasts this long. A type no queue takes in this
# release is parked at once.
REFUSAL_GRACE_SECONDS = 60.0
# While publishing fails, say so at least this often (seconds), not only when it starts.
STILL_FAILING_LOG_SECONDS = 60.0
# How often the relay recounts the parked rows for the gauge (an operator may retry some).
PARKED_REFRESH_SECONDS = 5.0


@dataclass
class _Strikes:
    """The broker's refusals of one row, in a row."""

    count: int
    since: float


@dataclass
class _Round:
    """What became of one batch."""

    published: list[OutboxRow] = field(default_factory=list)
    parked: list[tuple[OutboxRow, str]] = field(default_factory=list)
    failures: list[Exception] = field(default_factory=list)  # rows left for later

    @property
    def handled(self) -> int:
        return len(self.published) + len(self.parked)


class OutboxRelay:
    """Publishes an outbox's rows; woken at once by a commit that added rows."""

    def __init__(
        self,
        service: str,
        outbox: Table,
        sessions: async_sessionmaker[AsyncSession],
        bus: MessageBus,
        *,
        batch_size: int,
        poll_interval: float,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        still_failing_log_seconds: float = STILL_FAILING_LOG_SECONDS,
        refusal_grace_seconds: float = REFUSAL_GRACE_SECONDS,
    ) -> None:
        self._service = service
        self._outbox = outbox
        self._sessions = sessions
        self._bus = bus
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._max_message_bytes = max_message_bytes
        self._still_failing_log_seconds = still_failing_log_seconds
        self._refusal_grace_seconds = refusal_grace_seconds
        self._strikes: dict[str, _Strikes] = {}  # message id -> the broker's refusals in a row
        self._failing_since: float | None = None
        self._failed_rounds = 0
        self._failure_said_at = 0.0
        self._parked_counted_at = float("-inf")
        self._wake = asyncio.Event()
        event.listen(Session, "after_commit", self._after_commit)

    def close(self) -> None:
        """Stop listening to commits."""
        event.remove(Session, "after_commit", self._after_commit)

    def _after_commit(self, session: Session) -> None:
        # Each relay takes only its own outbox's name: under `coord up` the three
        # services' relays all hear every commit, and one that took the whole set left
        # the others to their poll (0.5 s on every alert of `make run`).
        pending: set[str] = session.info.get(PENDING_KEY, set())
        if self._outbox.name in pending:
            pending.discard(self._outbox.name)
            self._wake.set()

    async def run(self) -> None:
        """Publish until cancelled; polls too, for rows left by a crashed process."""
        while True:
            try:
                while await self.publish_pending():
                    pass
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - any failure: the rows stay, retry
                self._note_failure(error)
            else:
                self._note_success()
            if time.monotonic() - self._parked_counted_at >= PARKED_REFRESH_SECONDS:
                with contextlib.suppress(Exception):  # the database may be down: next time
                    await self.parked_count()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll_interval)
            self._wake.clear()

    def _note_failure(self, error: Exception) -> None:
        # Broker or database down, or rows the broker refuses for now. Said when it
        # starts and then once a minute, so a long outage is not one line in the past.
        OUTBOX_PUBLISH_FAILURES.labels(service=self._service).inc()
        now = time.monotonic()
        self._failed_rounds += 1
        if self._failing_since is None:
            self._failing_since = self._failure_said_at = now
            log.warning("outbox.publish_failing", service=self._service, error=repr(error))
        elif now - self._failure_said_at >= self._still_failing_log_seconds:
            self._failure_said_at = now
            log.warning(
                "outbox.publish_still_failing",
                service=self._service,
                for_seconds=round(now - self._failing_since, 1),
                rounds=self._failed_rounds,
                error=repr(error),
            )

    def _note_success(self) -> None:
        if self._failing_since is None:
            return
        log.info(
            "outbox.publish_recovered",
            service=self._service,
            after_seconds=round(time.monotonic() - self._failing_since, 1),
            rounds=self._failed_rounds,
        )
        self._failing_since = None
        self._failed_rounds = 0

    async def parked_count(self) -> int:
        """How many of this outbox's rows are parked (and the gauge set to it)."""
        async with self._sessions() as session:
            count = await count_parked(session, self._outbox)
        OUTBOX_PARKED_ROWS.labels(service=self._service).set(count)
        self._parked_counted_at = time.monotonic()
        return count

    async def publish_pending(self) -> int:
        """Publish one batch of pending rows; the number published or parked.

        Rows confirmed are deleted and rows refused for good are parked, both
        committed; then, if some rows failed for now, the first failure is raised.
        """
        if not self._bus.is_connected:
            # Do not even open a transaction: the rows wait for the broker.
            raise ConnectionError("broker connection is closed")
        if _is_sqlite(self._sessions):
            outcome = await self._publish_pending_sqlite()
        else:
            async with self._sessions() as session, session.begin():
                # SKIP LOCKED lets replicas on PostgreSQL share the outbox without
                # waiting on each other; row locks do not block new inserts.
                query = self._pending().with_for_update(skip_locked=True)
                rows = _rows((await session.execute(query)).all())
                outcome = await self._publish(rows)
                await self._settle(session, outcome)
        OUTBOX_PUBLISHED.labels(service=self._service).inc(len(outcome.published))
        if outcome.parked:
            self._say_parked(outcome.parked)
            with contextlib.suppress(Exception):  # the gauge waits for the next recount
                await self.parked_count()
        if outcome.failures:
            raise outcome.failures[0]  # after the commit: what went out is not sent again
        return outcome.handled

    async def _publish_pending_sqlite(self) -> _Round:
        # SQLite has one write lock for the whole file: holding it while the
        # broker confirms would stall every API request behind a slow broker.
        # Read, publish, then settle, each step short (one relay per SQLite file).
        async with self._sessions() as session:
            rows = _rows((await session.execute(self._pending())).all())
        outcome = await self._publish(rows)
        if outcome.handled:
            async with self._sessions() as session, session.begin():
                await self._settle(session, outcome)
        return outcome

    def _pending(self) -> Select[tuple[int, str, str, bytes, Any]]:
        table = self._outbox
        return (
            select(
                table.c.position,
                table.c.message_id,
                table.c.routing_key,
                table.c.body,
                table.c.created_at,
            )
            .order_by(table.c.position)
            .limit(self._batch_size)
        )

    async def _publish(self, rows: Sequence[OutboxRow]) -> _Round:
        outcome = _Round()
        sendable: list[OutboxRow] = []
        for row in rows:
            if len(row.body) > self._max_message_bytes:
                reason = (
                    f"too large: {len(row.body)} bytes, over the {self._max_message_bytes} "
                    "a message may have"
                )
                outcome.parked.append((row, reason))
            else:
                sendable.append(row)
        if not sendable:
            return outcome
        answers = await self._bus.publish_each(
            [OutgoingMessage(r.message_id, r.routing_key, r.body) for r in sendable],
            within=PUBLISH_TIMEOUT_SECONDS,
        )
        # Strikes of rows no longer pending (published or dropped elsewhere) are forgotten.
        pending = {r.message_id for r in sendable}
        self._strikes = {k: v for k, v in self._strikes.items() if k in pending}
        for row, answer in zip(sendable, answers, strict=True):
            self._sort(outcome, row, answer)
        return outcome

    def _sort(self, outcome: _Round, row: OutboxRow, answer: PublishOutcome) -> None:
        if answer is None:
            self._strikes.pop(row.message_id, None)
            outcome.published.append(row)
            return
        refusal = refusal_of(answer)
        if refusal is None:  # transient: the connection, a timeout
            outcome.failures.append(answer)
            return
        now = time.monotonic()
        strikes = self._strikes.setdefault(row.message_id, _Strikes(0, now))
        strikes.count += 1
        lasted = now - strikes.since
        if refusal.kind is RefusalKind.UNROUTABLE:
            for_good = not is_published(row.routing_key) or (lasted >= self._refusal_grace_seconds)
            reason = refusal.detail
            if is_published(row.routing_key):
                reason += f", {strikes.count} times over {lasted:.0f} s"
        else:
            # Rounds can follow each other within milliseconds under load, and a quorum
            # queue nacks while it elects a leader: park only a refusal that lasts.
            for_good = (
                strikes.count >= NACKS_BEFORE_PARKING and lasted >= self._refusal_grace_seconds
            )
            reason = f"{refusal.detail} {strikes.count} times in a row over {lasted:.0f} s"
        if for_good:
            self._strikes.pop(row.message_id, None)
            outcome.parked.append((row, reason))
        else:
            outcome.failures.append(answer)

    async def _settle(self, session: AsyncSession, outcome: _Round) -> None:
        """Delete what was published and park what was refused, in ``session``'s transaction."""
        table = self._outbox
        if outcome.published:
            positions = [r.position for r in outcome.published]
            await session.execute(delete(table).where(table.c.position.in_(positions)))
        await park(session, table, outcome.parked, utc_now())
        notices = [
            parked_event(self._service, row, reason)
            for row, reason in outcome.parked
            # A notice that cannot be published itself is not noticed again (it would loop).
            if row.routing_key != OUTBOX_PARKED
        ]
        await add_to_outbox(session, table, *notices)

    def _say_parked(self, parked: Sequence[tuple[OutboxRow, str]]) -> None:
        for row, reason in parked:
            log.error(
                "outbox.parked",
                service=self._service,
                message_id=row.message_id,
                routing_key=row.routing_key,
                reason=reason,
            )


def _rows(rows: Sequence[Any]) -> list[OutboxRow]:
    return [
        OutboxRow(r.position, r.message_id, r.routing_key, bytes(r.body), r.created_at)
        for r in rows
    ]


def _is_sqlite(sessions: async_sessionmaker[AsyncSession]) -> bool:
    bind = sessions.kw.get("bind")
    return bind is not None and bind.dialect.name == "sqlite"
