"""Transactional outbox and idempotent inbox on a real database (SQLite and PostgreSQL)
and a real RabbitMQ vhost."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import aio_pika
import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest.tables import OUTBOX as INGEST_OUTBOX
from services.router.tables import INBOX as ROUTER_INBOX
from services.router.tables import OUTBOX as ROUTER_OUTBOX
from shared.bus import ROUTER_QUEUE, Bus, OutgoingMessage, PublishOutcome
from shared.envelope import Envelope
from shared.inbox import process_once
from shared.outbox import OutboxRelay, add_to_outbox
from tests.support.builders import raised_envelope
from tests.support.database import Database

pytestmark = pytest.mark.integration


class Boom(Exception):
    pass


@pytest.fixture
async def bus(amqp_url: str) -> AsyncIterator[Bus]:
    bus = Bus(amqp_url, prefetch=10, delivery_limit=3)
    await bus.connect()
    try:
        yield bus
    finally:
        await bus.close()


@pytest.fixture
async def router_inbox_queue(amqp_url: str) -> AsyncIterator[aio_pika.abc.AbstractQueue]:
    """The ``router.inbox`` queue (declared by the bus), to read what was published."""
    connection = await aio_pika.connect(amqp_url, timeout=10)
    try:
        channel = await connection.channel()
        yield await channel.get_queue(ROUTER_QUEUE.name, ensure=False)
    finally:
        await connection.close()


def make_relay(db: Database, bus: Any, batch_size: int = 100, poll: float = 60.0) -> OutboxRelay:
    return OutboxRelay(
        "ingest", INGEST_OUTBOX, db.sessions, bus, batch_size=batch_size, poll_interval=poll
    )


@pytest.fixture
async def relays() -> AsyncIterator[list[OutboxRelay]]:
    """Relays created by a test; their commit listeners are removed afterwards."""
    created: list[OutboxRelay] = []
    yield created
    for relay in created:
        relay.close()


async def take_all(queue: aio_pika.abc.AbstractQueue, expected: int) -> list[str]:
    """Message ids in the queue, waiting (bounded) for ``expected`` of them, then draining."""
    ids: list[str] = []
    deadline = asyncio.get_running_loop().time() + 20
    while True:
        message = await queue.get(no_ack=True, fail=False)
        if message is not None:
            ids.append(str(message.message_id))
            continue
        if len(ids) >= expected or asyncio.get_running_loop().time() > deadline:
            return ids
        await asyncio.sleep(0.05)


async def stage(db: Database, *envelopes: Envelope) -> None:
    async with db.sessions() as session, session.begin():
        await add_to_outbox(session, INGEST_OUTBOX, *envelopes)


# --------------------------------------------------------------------------- outbox


async def test_rolled_back_rows_are_never_published(
    db: Database,
    bus: Bus,
    router_inbox_queue: aio_pika.abc.AbstractQueue,
    relays: list[OutboxRelay],
) -> None:
    relay = make_relay(db, bus)
    relays.append(relay)

    async def stage_then_fail() -> None:
        async with db.sessions() as session, session.begin():
            await add_to_outbox(session, INGEST_OUTBOX, raised_envelope(), raised_envelope())
            raise Boom

    with pytest.raises(Boom):
        await stage_then_fail()

    assert await relay.publish_pending() == 0
    assert await db.count(INGEST_OUTBOX) == 0
    assert await take_all(router_inbox_queue, 0) == []


async def test_committed_rows_are_published_and_deleted(
    db: Database,
    bus: Bus,
    router_inbox_queue: aio_pika.abc.AbstractQueue,
    relays: list[OutboxRelay],
) -> None:
    relay = make_relay(db, bus)
    relays.append(relay)
    batch = [raised_envelope(title=f"alert {i}") for i in range(3)]
    await stage(db, *batch)
    assert await db.count(INGEST_OUTBOX) == 3

    assert await relay.publish_pending() == 3
    assert await db.count(INGEST_OUTBOX) == 0
    assert await relay.publish_pending() == 0
    assert sorted(await take_all(router_inbox_queue, 3)) == sorted(str(e.id) for e in batch)


async def test_relay_publishes_in_batches(
    db: Database,
    bus: Bus,
    router_inbox_queue: aio_pika.abc.AbstractQueue,
    relays: list[OutboxRelay],
) -> None:
    relay = make_relay(db, bus, batch_size=4)
    relays.append(relay)
    batch = [raised_envelope() for _ in range(10)]
    await stage(db, *batch)
    assert [await relay.publish_pending() for _ in range(4)] == [4, 4, 2, 0]
    assert sorted(await take_all(router_inbox_queue, 10)) == sorted(str(e.id) for e in batch)


class FailingOnce:
    """A bus whose first publish fails (broker hiccup); later ones go to the real bus."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.calls = 0

    @property
    def is_connected(self) -> bool:
        return self.bus.is_connected

    async def publish_each(
        self, messages: Sequence[OutgoingMessage], *, within: float | None = None
    ) -> list[PublishOutcome]:
        self.calls += 1
        if self.calls == 1:
            raise ConnectionError("broker connection lost")
        return await self.bus.publish_each(messages, within=within)


async def test_failed_publish_keeps_rows_for_the_next_round(
    db: Database,
    bus: Bus,
    router_inbox_queue: aio_pika.abc.AbstractQueue,
    relays: list[OutboxRelay],
) -> None:
    flaky = FailingOnce(bus)
    relay = make_relay(db, flaky)
    relays.append(relay)
    batch = [raised_envelope() for _ in range(2)]
    await stage(db, *batch)

    with pytest.raises(ConnectionError):
        await relay.publish_pending()
    assert await db.count(INGEST_OUTBOX) == 2
    assert await take_all(router_inbox_queue, 0) == []

    assert await relay.publish_pending() == 2
    assert await db.count(INGEST_OUTBOX) == 0
    assert sorted(await take_all(router_inbox_queue, 2)) == sorted(str(e.id) for e in batch)


async def test_running_relay_survives_a_failed_publish_and_is_woken_by_commits(
    db: Database,
    bus: Bus,
    router_inbox_queue: aio_pika.abc.AbstractQueue,
    relays: list[OutboxRelay],
) -> None:
    flaky = FailingOnce(bus)
    # a short poll retries the failed round; a commit wakes the relay without waiting
    relay = make_relay(db, flaky, poll=0.2)
    relays.append(relay)
    task = asyncio.create_task(relay.run())
    try:
        first = raised_envelope()
        await stage(db, first)
        assert await take_all(router_inbox_queue, 1) == [str(first.id)]
        assert flaky.calls >= 2
        second = raised_envelope()
        await stage(db, second)
        assert await take_all(router_inbox_queue, 1) == [str(second.id)]
        assert await db.count(INGEST_OUTBOX) == 0
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_commit_wakes_an_idle_relay(
    db: Database,
    bus: Bus,
    router_inbox_queue: aio_pika.abc.AbstractQueue,
    relays: list[OutboxRelay],
) -> None:
    relay = make_relay(db, bus, poll=600.0)  # polling alone would not publish in this test
    relays.append(relay)
    task = asyncio.create_task(relay.run())
    try:
        await asyncio.sleep(0.2)  # the relay found nothing and sleeps
        envelope = raised_envelope()
        await stage(db, envelope)
        assert await take_all(router_inbox_queue, 1) == [str(envelope.id)]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


# --------------------------------------------------------------------------- inbox


def effect_adding_one_row(hold: float = 0.0) -> Any:
    """An effect that stages one new outbox row (a countable side effect)."""

    async def effect(session: AsyncSession) -> None:
        await add_to_outbox(session, ROUTER_OUTBOX, raised_envelope())
        if hold:
            await asyncio.sleep(hold)  # keep the transaction open while the other races

    return effect


async def test_process_once_twice_has_one_effect(db: Database) -> None:
    envelope = raised_envelope()
    first = await process_once(db.sessions, ROUTER_INBOX, envelope, effect_adding_one_row())
    second = await process_once(db.sessions, ROUTER_INBOX, envelope, effect_adding_one_row())
    assert (first, second) == (True, False)
    assert await db.count(ROUTER_OUTBOX) == 1
    assert await db.count(ROUTER_INBOX) == 1


@pytest.mark.parametrize("copies", [2, 5])
async def test_concurrent_copies_have_one_effect(db: Database, copies: int) -> None:
    envelope = raised_envelope()
    results = await asyncio.gather(
        *(
            process_once(db.sessions, ROUTER_INBOX, envelope, effect_adding_one_row(hold=0.2))
            for _ in range(copies)
        )
    )
    assert sorted(results) == [False] * (copies - 1) + [True]
    assert await db.count(ROUTER_OUTBOX) == 1
    assert await db.count(ROUTER_INBOX) == 1


async def test_failed_effect_is_not_recorded_so_a_redelivery_runs_it(db: Database) -> None:
    envelope = raised_envelope()

    async def failing(session: AsyncSession) -> None:
        await add_to_outbox(session, ROUTER_OUTBOX, raised_envelope())
        raise Boom

    with pytest.raises(Boom):
        await process_once(db.sessions, ROUTER_INBOX, envelope, failing)
    assert await db.count(ROUTER_INBOX) == 0
    assert await db.count(ROUTER_OUTBOX) == 0

    assert await process_once(db.sessions, ROUTER_INBOX, envelope, effect_adding_one_row())
    assert await db.count(ROUTER_OUTBOX) == 1


async def test_distinct_messages_each_have_their_effect(db: Database) -> None:
    results = await asyncio.gather(
        *(
            process_once(db.sessions, ROUTER_INBOX, raised_envelope(), effect_adding_one_row())
            for _ in range(4)
        )
    )
    assert results == [True] * 4
    assert await db.count(ROUTER_OUTBOX) == 4


async def test_outbox_rows_keep_the_serialised_envelope(db: Database) -> None:
    envelope = raised_envelope()
    await stage(db, envelope)
    async with db.sessions() as session:
        row = (await session.execute(INGEST_OUTBOX.select())).one()
    assert row.message_id == str(envelope.id)
    assert row.routing_key == "alert.raised"
    assert Envelope.model_validate_json(bytes(row.body)) == envelope
    # a second copy of the same message id cannot be staged (unique)
    with pytest.raises(IntegrityError):
        async with db.sessions() as session, session.begin():
            await session.execute(
                insert(INGEST_OUTBOX),
                [
                    {
                        "message_id": row.message_id,
                        "routing_key": row.routing_key,
                        "body": row.body,
                        "created_at": row.created_at,
                    }
                ],
            )
