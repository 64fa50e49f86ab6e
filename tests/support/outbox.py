"""What an outbox carries, as events: the rows read back and ``router.decisions`` unpacked.

The router's outbox no longer holds one row per event: the events ingest's views take
travel in one ``router.decisions`` row per transaction (``shared.decisions.pack``), and
a ``notification.requested`` is both a row of its own (for the notifier) and inside the
decisions (for the views). ``events`` gives each event once, at the place the router
decided it (its place in the decisions when it is there), and refuses what ``pack``
never writes: an event carried twice the same way, or two copies that differ.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from uuid import UUID

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.contracts import ROUTER_DECISIONS
from shared.decisions import unpack
from shared.envelope import Envelope


def carried(messages: Sequence[Envelope]) -> list[tuple[Envelope, list[Envelope]]]:
    """Each message with the events counted at its place (each event at exactly one).

    An event both alone and in a ``router.decisions`` is counted in the decisions.
    AssertionError when a message carries an event twice in the same form (alone, or in
    decisions), or when its two copies differ.
    """
    copies: dict[tuple[UUID, bool], Envelope] = {}
    place: dict[UUID, int] = {}
    for index, message in enumerate(messages):
        packed = message.type == ROUTER_DECISIONS
        for event in unpack(message):
            form = "inside router.decisions" if packed else "alone"
            assert (event.id, packed) not in copies, f"{event.type} {event.id} twice {form}"
            other = copies.get((event.id, not packed))
            assert other is None or other == event, f"{event.type} {event.id}: copies differ"
            copies[event.id, packed] = event
            if packed or event.id not in place:
                place[event.id] = index
    return [
        (message, [e for e in unpack(message) if place[e.id] == index])
        for index, message in enumerate(messages)
    ]


def events(messages: Iterable[Envelope]) -> list[Envelope]:
    """Every event ``messages`` carry, unpacked, each once, in the order decided."""
    return [event for _, counted in carried(list(messages)) for event in counted]


async def messages(sessions: async_sessionmaker[AsyncSession], outbox: Table) -> list[Envelope]:
    """The rows of ``outbox`` as they are (``router.decisions`` not unpacked), in order."""
    async with sessions() as session:
        bodies = (await session.scalars(select(outbox.c.body).order_by(outbox.c.position))).all()
    return [Envelope.model_validate_json(bytes(body)) for body in bodies]


async def published(sessions: async_sessionmaker[AsyncSession], outbox: Table) -> list[Envelope]:
    """The events staged in ``outbox`` (``events`` of its rows), in order."""
    return events(await messages(sessions, outbox))
