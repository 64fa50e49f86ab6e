"""The in-app stream: live alert events for each connected person, filtered by who may see them.

Every ingest replica subscribes to the events on its own queue and fans them
out to its connected clients. A client too slow to keep up is disconnected
rather than allowed to hold memory; it reconnects and reads the current state
from ``GET /v1/alerts``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.ingest.queries import audience_of
from services.ingest.tables import AlertViewRecord
from shared.contracts import NOTIFICATION_REQUESTED
from shared.directory import Person
from shared.envelope import Envelope
from shared.permissions import AlertAudience, may_see_alert

STREAM_BINDINGS = ("alert.#", NOTIFICATION_REQUESTED)
KEEP_ALIVE_SECONDS = 15.0
_PRIVATE_FIELDS = frozenset({"address", "contacts", "source", "alert"})


@dataclass(frozen=True)
class Audience:
    """Who may see an event: whoever may see its alert (need-to-know), or one addressee."""

    alert: AlertAudience
    addressee: str | None = None

    def includes(self, person: Person) -> bool:
        """True when ``person`` may see the event."""
        if self.addressee is not None:
            return person.id == self.addressee
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
    """One connected client."""

    person: Person
    queue: asyncio.Queue[StreamEvent | None] = field(
        default_factory=lambda: asyncio.Queue(maxsize=256)
    )


class StreamHub:
    """Fans live events out to this replica's connected clients."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._subscribers: set[Subscriber] = set()

    def subscribe(self, person: Person) -> Subscriber:
        """Register a client."""
        subscriber = Subscriber(person)
        self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Forget a client."""
        self._subscribers.discard(subscriber)

    async def on_event(self, envelope: Envelope) -> None:
        """Bus handler: turn an event into a stream event for those who may see it."""
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
        data = {k: v for k, v in payload.items() if k not in _PRIVATE_FIELDS}
        data |= {
            "type": envelope.type,
            "at": envelope.occurred_at.isoformat(),
            "actor": envelope.actor,
        }
        self.publish(StreamEvent(str(envelope.id), envelope.type, data, audience))

    def publish(self, event: StreamEvent) -> None:
        """Queue ``event`` for every client allowed to see it; drop clients that lag."""
        for subscriber in list(self._subscribers):
            if not event.audience.includes(subscriber.person):
                continue
            try:
                subscriber.queue.put_nowait(event)
            except asyncio.QueueFull:
                self.unsubscribe(subscriber)
                subscriber.queue.get_nowait()  # make room for the end-of-stream marker
                subscriber.queue.put_nowait(None)


async def frames(hub: StreamHub, subscriber: Subscriber) -> AsyncIterator[str]:
    """The text/event-stream of one client, with keep-alive comments; ends on lag."""
    try:
        yield ": connected\n\n"
        while True:
            try:
                event = await asyncio.wait_for(subscriber.queue.get(), KEEP_ALIVE_SECONDS)
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            if event is None:
                yield "event: overflow\ndata: {}\n\n"
                return
            yield event.encode()
    finally:
        hub.unsubscribe(subscriber)
