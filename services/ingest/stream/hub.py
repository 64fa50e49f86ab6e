"""The in-app stream: live alert events for each connected person, filtered by who may see them.

Every ingest replica subscribes to the events on its own queue and fans them
out to its connected clients. A client too slow to keep up is disconnected
rather than allowed to hold memory; it reconnects and reads the current state
from ``GET /v1/alerts``.

A stream is only as good as the token that opened it and the directory now: each
event is checked against the person as the directory says *now* (a load that lowers
a clearance or changes roles applies to the next event), and the stream ends with
an ``event: reauthenticate`` frame when the token expires (at its ``exp``, event or
not) or when the person leaves the directory or loses the right to read. The
client then reconnects with a fresh token, and is answered as any request is.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncGenerator, Callable, Coroutine
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.ingest.alerts.projections import shown_detail
from services.ingest.alerts.queries import audience_of
from services.ingest.alerts.tables import AlertViewRecord
from shared.addressing import cleared_for
from shared.bus_protocol import LiveFeed
from shared.contracts import NOTIFICATION_REQUESTED, ROUTER_DECISIONS
from shared.contracts.registry import ROUTES
from shared.decisions import unpack
from shared.directory import Directory, Person
from shared.envelope import Envelope
from shared.permissions import Action, AlertAudience, allowed, may_see_alert

log = structlog.get_logger(__name__)

# Ingest's alert commands by their own; the router's events inside router.decisions.
STREAM_BINDINGS = ("alert.#", ROUTER_DECISIONS)
#: Every event type the stream carries (the ``event:`` names a client listens for).
STREAMED_TYPES = tuple(t for t in ROUTES if t.startswith("alert.") or t == NOTIFICATION_REQUESTED)
KEEP_ALIVE_SECONDS = 15.0
# How long the replica keeps its feed bound after its last client left: a board that
# reloads reconnects at once, and binding costs two round trips to the broker.
FEED_LINGER_SECONDS = 30.0

OVERFLOW_FRAME: Final = "event: overflow\ndata: {}\n\n"


class Lapse(StrEnum):
    """Why a stream ends for the client to reauthenticate (the ``reason`` of the frame)."""

    EXPIRED = "token_expired"
    RIGHTS_CHANGED = "rights_changed"  # left the directory, or may no longer read


def reauthenticate_frame(reason: Lapse) -> str:
    """The last frame of a stream whose token or rights no longer hold."""
    return f"event: reauthenticate\ndata: {json.dumps({'reason': reason.value})}\n\n"


@dataclass(frozen=True)
class Audience:
    """Who may see an event: whoever may see its alert (need-to-know), or one addressee."""

    alert: AlertAudience
    addressee: str | None = None

    def includes(self, person: Person) -> bool:
        """True when ``person`` may see the event."""
        if self.addressee is not None:
            # One's own page, and never above one's clearance: it may have been lowered
            # since the page was decided.
            return person.id == self.addressee and cleared_for(person, self.alert.classification)
        return may_see_alert(person, self.alert)


@dataclass(frozen=True)
class StreamEvent:
    """One server-sent event."""

    id: str
    type: str
    data: dict[str, Any]
    audience: Audience

    def encode(self) -> str:
        """The event in text/event-stream framing."""
        return f"id: {self.id}\nevent: {self.type}\ndata: {json.dumps(self.data)}\n\n"


@dataclass(eq=False)
class Subscriber:
    """One connected client: whose stream it is, and until when its token holds.

    Only the person's id is kept: who they are (clearance, roles) is read from
    ``directory`` (the directory in force now) for every event.
    """

    person_id: str
    directory: Callable[[], Directory]
    expires_at: datetime  # the token's ``exp``
    # None: the end of the stream (the hub stopped serving it; ``frames`` says why).
    queue: asyncio.Queue[StreamEvent | None] = field(
        default_factory=lambda: asyncio.Queue(maxsize=256)
    )

    def seconds_left(self) -> float:
        """Seconds until the token expires (0 or less: expired)."""
        return self.expires_at.timestamp() - time.time()


class StreamHub:
    """Fans live events out to this replica's connected clients."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        linger: float = FEED_LINGER_SECONDS,
    ) -> None:
        self._sessions = sessions
        self._linger = linger
        self._subscribers: set[Subscriber] = set()
        # The bus's feed of events: bound only while a client listens (``_sync_feed``).
        self._feed: LiveFeed | None = None
        self._feed_live: bool | None = None  # None: unknown (a switch failed)
        self._feed_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self.closed = False  # the service is stopping: streams end, and none opens
        # person id -> person of the directory last asked about: rebuilt once per swap.
        self._indexed: Directory | None = None
        self._people: dict[str, Person] = {}

    def subscribe(
        self, person: Person, *, directory: Callable[[], Directory], expires_at: datetime
    ) -> Subscriber:
        """Register a client: ``person``, as ``directory`` will say, until ``expires_at``."""
        subscriber = Subscriber(person.id, directory, expires_at)
        if self.closed:
            subscriber.queue.put_nowait(None)  # stopping: the stream ends at once
            return subscriber
        self._subscribers.add(subscriber)
        return subscriber

    def close(self) -> None:
        """End every stream now: the service is stopping (clients reconnect)."""
        self.closed = True
        for subscriber in list(self._subscribers):
            self._end(subscriber)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Forget a client; the feed pauses ``linger`` seconds after the last one left."""
        self._subscribers.discard(subscriber)
        if not self._subscribers and self._feed is not None:
            self._spawn(self._pause_later())

    def attach(self, feed: LiveFeed) -> None:
        """Take the bus's (bound) feed of events; it pauses until a client listens.

        Each event is a delivery to every replica's feed: with nobody to show it to,
        the broker routes it nowhere and the replica decodes nothing (issue 17).
        """
        self._feed, self._feed_live = feed, True
        self._spawn(self._sync_feed())

    async def ready(self) -> None:
        """Return once the feed is bound for the clients now connected.

        Awaited before ``: connected``: what happens once a client's stream is open
        reaches it.
        """
        await self._sync_feed()

    async def _pause_later(self) -> None:
        await asyncio.sleep(self._linger)
        await self._sync_feed()

    async def _sync_feed(self) -> None:
        """Bind the feed if a client listens, unbind it if none does."""
        if self._feed is None:
            return
        async with self._feed_lock:
            wanted = bool(self._subscribers) and not self.closed
            if wanted == self._feed_live:
                return
            try:
                await (self._feed.resume() if wanted else self._feed.pause())
            except Exception as error:  # noqa: BLE001 - the broker may be away: next time
                self._feed_live = None
                log.warning("stream.feed_switch_failed", wanted=wanted, error=repr(error))
            else:
                self._feed_live = wanted

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # a stream finalised outside the loop: the feed stays as it is
            coroutine.close()
            return
        task = loop.create_task(coroutine)
        self._tasks.add(task)  # kept until done: the loop holds tasks weakly
        task.add_done_callback(self._tasks.discard)

    def person_of(self, subscriber: Subscriber) -> Person | None:
        """The subscriber as the directory says now; None once they may not read the stream."""
        directory = subscriber.directory()
        if directory is not self._indexed:
            self._people = {p.id: p for p in directory.people}
            self._indexed = directory
        person = self._people.get(subscriber.person_id)
        if person is None or not allowed(person, Action.READ):
            return None
        return person

    async def on_event(self, envelope: Envelope) -> None:
        """Bus handler: turn each event delivered into a stream event for those who may see it."""
        for event in unpack(envelope):
            if event.type in STREAMED_TYPES:
                await self._on_event(event)

    async def _on_event(self, envelope: Envelope) -> None:
        if not self._subscribers:
            return
        async with self._sessions() as session:
            view = await session.get(AlertViewRecord, str(envelope.correlation_id))
        if view is None:
            return
        addressee = (
            envelope.payload.get("person_id") if envelope.type == NOTIFICATION_REQUESTED else None
        )
        # The view may not have the chain yet (the projection runs on its own queue):
        # events that name their chain or targets widen the audience themselves.
        payload = envelope.payload
        known = audience_of(view)
        named = set(payload.get("chain", ())) | set(payload.get("targets", ()))
        audience = Audience(replace(known, chain=frozenset(known.chain) | named), addressee)
        data = shown_detail(payload)
        data |= {
            "type": envelope.type,
            "at": envelope.occurred_at.isoformat(),
            "actor": envelope.actor,
        }
        self.publish(StreamEvent(str(envelope.id), envelope.type, data, audience))

    def publish(self, event: StreamEvent) -> None:
        """Queue ``event`` for every client allowed to see it now; end lagging or lapsed ones."""
        for subscriber in list(self._subscribers):
            person = self.person_of(subscriber)
            if person is None or subscriber.seconds_left() <= 0:
                self._end(subscriber)  # frames() tells the client to reauthenticate
                continue
            if not event.audience.includes(person):
                continue
            try:
                subscriber.queue.put_nowait(event)
            except asyncio.QueueFull:
                self._end(subscriber)

    def _end(self, subscriber: Subscriber) -> None:
        """Stop serving ``subscriber``: no more events, and the end-of-stream marker."""
        self.unsubscribe(subscriber)
        if subscriber.queue.full():
            subscriber.queue.get_nowait()  # make room for the end-of-stream marker
        subscriber.queue.put_nowait(None)


async def frames(hub: StreamHub, subscriber: Subscriber) -> AsyncGenerator[str, None]:
    """The text/event-stream of one client, with keep-alive comments.

    Ends with ``event: reauthenticate`` when the token expires (at its expiry, even
    with no event to send) or the person may no longer read; with ``event: overflow``
    when the client lags. Every event is checked against the person as they are now.
    """
    try:
        await hub.ready()
        yield ": connected\n\n"
        while True:
            wait = min(KEEP_ALIVE_SECONDS, max(subscriber.seconds_left(), 0.0))
            try:
                event = await asyncio.wait_for(subscriber.queue.get(), wait)
                timed_out = False
            except TimeoutError:
                event, timed_out = None, True
            if subscriber.seconds_left() <= 0:
                yield reauthenticate_frame(Lapse.EXPIRED)
                return
            person = hub.person_of(subscriber)
            if person is None:
                yield reauthenticate_frame(Lapse.RIGHTS_CHANGED)
                return
            if timed_out:
                if wait >= KEEP_ALIVE_SECONDS:  # not an early wake just before expiry
                    yield ": keep-alive\n\n"
                continue
            if event is None:
                if not hub.closed:  # a stop ends the stream plainly: the client reconnects
                    yield OVERFLOW_FRAME
                return
            if event.audience.includes(person):  # rights may have changed since it was queued
                yield event.encode()
    finally:
        hub.unsubscribe(subscriber)
