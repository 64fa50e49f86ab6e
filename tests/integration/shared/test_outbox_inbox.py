"""Transactional outbox and idempotent inbox on a real database (SQLite and PostgreSQL)
and a real RabbitMQ vhost."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import aio_pika
import pytest
from sqlalchemy import Table, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest.tables import OUTBOX as INGEST_OUTBOX
from services.router.tables import INBOX as ROUTER_INBOX
from services.router.tables import OUTBOX as ROUTER_OUTBOX
from services.router.tables import stage as router_stage
from shared.bus import ROUTER_QUEUE, Bus, OutgoingMessage, PublishOutcome
from shared.envelope import Envelope
from shared.event_log import EventRecord, verify
from shared.event_log import append as append_to_log
from shared.inbox import process_each_once, process_once
from shared.outbox import add_to_outbox
from shared.outbox_relay import OutboxRelay
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


async def outbox_drains(db: Database, within: float = 10.0) -> bool:
    """Whether ingest's outbox becomes empty within ``within`` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while await db.count(INGEST_OUTBOX):
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


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
        # the broker has the message once confirmed; the relay deletes the row just after
        assert await outbox_drains(db)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


# others: `coord up`, where the three services' relays in one process hear every
# commit. The others are told first (listeners run in the order added) and must leave
# ingest's wake-up to ingest's relay.
@pytest.mark.parametrize("others", [0, 2])
async def test_commit_wakes_an_idle_relay(
    db: Database,
    bus: Bus,
    router_inbox_queue: aio_pika.abc.AbstractQueue,
    relays: list[OutboxRelay],
    others: int,
) -> None:
    relays.extend(
        OutboxRelay("router", ROUTER_OUTBOX, db.sessions, bus, batch_size=100, poll_interval=600)
        for _ in range(others)
    )
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


# --------------------------------------------------------------------------- inbox, in batches


def caused_by(envelope: Envelope) -> Envelope:
    """A follow-up of ``envelope`` (as a handler stages): its causation names the message."""
    return raised_envelope().model_copy(update={"causation_id": envelope.id})


async def stage_in(outbox: Table, db: Database, *envelopes: Envelope) -> None:
    async with db.sessions() as session, session.begin():
        await add_to_outbox(session, outbox, *envelopes)


def redelivered(envelope: Envelope) -> Envelope:
    """Another copy of the same message, as the broker hands it back (parsed anew)."""
    return Envelope.model_validate_json(envelope.model_dump_json())


async def outbox_causes(db: Database) -> list[str]:
    """What each row of the router's outbox was caused by, in outbox order."""
    async with db.sessions() as session:
        bodies = (
            await session.scalars(select(ROUTER_OUTBOX.c.body).order_by(ROUTER_OUTBOX.c.position))
        ).all()
    return [str(Envelope.model_validate_json(bytes(body)).causation_id) for body in bodies]


async def log_rows(db: Database) -> list[tuple[int, str]]:
    """(seq, event_id) of every record of the event log, in seq order."""
    async with db.sessions() as session:
        rows = await session.execute(
            select(EventRecord.seq, EventRecord.event_id).order_by(EventRecord.seq)
        )
    return [(row.seq, row.event_id) for row in rows]


async def assert_chain_valid(db: Database, records: int) -> None:
    async with db.sessions() as session:
        check = await verify(session)
    assert check.problem is None, check.problem
    assert check.checked == records


def ids(envelopes: Sequence[Envelope]) -> list[str]:
    return [str(envelope.id) for envelope in envelopes]


async def test_a_batch_takes_effect_once_per_new_message_in_order(db: Database) -> None:
    done_before = raised_envelope(title="processed before")
    assert await process_once(db.sessions, ROUTER_INBOX, done_before, effect_adding_one_row())
    a, b, c = (raised_envelope(title=title) for title in "abc")
    batch = [a, done_before, b, redelivered(a), c]
    ran: list[Envelope] = []

    async def effect(session: AsyncSession, envelope: Envelope) -> None:
        ran.append(envelope)
        await add_to_outbox(session, ROUTER_OUTBOX, caused_by(envelope))

    fresh = await process_each_once(db.sessions, ROUTER_INBOX, batch, effect)

    assert ids(fresh) == ids([a, b, c])  # each new message once, in delivery order
    assert ids(ran) == ids([a, b, c])
    assert await db.count(ROUTER_INBOX) == 4
    assert await db.count(ROUTER_OUTBOX) == 4  # the earlier message's row, and one each
    assert (await outbox_causes(db))[1:] == ids([a, b, c])
    # the whole batch again (a redelivery): no effect at all
    assert await process_each_once(db.sessions, ROUTER_INBOX, batch, effect) == []
    assert ids(ran) == ids([a, b, c])
    assert await db.count(ROUTER_OUTBOX) == 4


async def test_a_failing_effect_rolls_back_the_whole_batch(db: Database) -> None:
    five = [raised_envelope(title=f"alert {i}") for i in range(5)]
    follow_ups = {envelope.id: caused_by(envelope) for envelope in five}
    ran: list[Envelope] = []
    failing = {five[2].id}

    async def effect(session: AsyncSession, envelope: Envelope) -> None:
        ran.append(envelope)
        await router_stage(session, [follow_ups[envelope.id]])  # the log and the outbox
        if envelope.id in failing:
            raise Boom

    with pytest.raises(Boom):
        await process_each_once(db.sessions, ROUTER_INBOX, five, effect)
    assert ids(ran) == ids(five[:3])  # the third failed, after two took effect
    assert await db.count(ROUTER_INBOX) == 0
    assert await db.count(ROUTER_OUTBOX) == 0
    assert await db.count(EventRecord) == 0

    failing.clear()  # the retry of the same batch goes through
    ran.clear()
    assert ids(await process_each_once(db.sessions, ROUTER_INBOX, five, effect)) == ids(five)
    assert ids(ran) == ids(five)
    assert await db.count(ROUTER_INBOX) == 5
    assert await outbox_causes(db) == ids(five)
    expected = [str(follow_ups[envelope.id].id) for envelope in five]
    assert await log_rows(db) == list(enumerate(expected, start=1))
    await assert_chain_valid(db, 5)


async def test_a_batch_whose_commit_fails_leaves_nothing(db: Database) -> None:
    """The log's records and the outbox rows are written as the batch commits: a write
    refused then (here a follow-up already in the outbox) rolls back the whole batch."""
    three = [raised_envelope(title=f"alert {i}") for i in range(3)]
    clash = raised_envelope(title="already staged")
    await stage_in(ROUTER_OUTBOX, db, clash)

    async def effect(session: AsyncSession, envelope: Envelope) -> None:
        await router_stage(session, [clash if envelope.id == three[1].id else caused_by(envelope)])

    with pytest.raises(IntegrityError):
        await process_each_once(db.sessions, ROUTER_INBOX, three, effect)
    assert await db.count(ROUTER_INBOX) == 0
    assert await db.count(ROUTER_OUTBOX) == 1  # the clashing row, from before
    assert await db.count(EventRecord) == 0

    async def fixed(session: AsyncSession, envelope: Envelope) -> None:
        await router_stage(session, [caused_by(envelope)])

    assert ids(await process_each_once(db.sessions, ROUTER_INBOX, three, fixed)) == ids(three)
    assert await db.count(EventRecord) == 3
    await assert_chain_valid(db, 3)


async def test_the_records_of_a_batch_follow_each_other_in_the_log(db: Database) -> None:
    async def effect(session: AsyncSession, envelope: Envelope) -> None:
        # as the router does: the message consumed, then what it caused
        await append_to_log(session, [envelope])
        await router_stage(session, [caused_by(envelope)])

    earlier = [raised_envelope(title="earlier")]
    await process_each_once(db.sessions, ROUTER_INBOX, earlier, effect)
    batch = [raised_envelope(title=f"alert {i}") for i in range(5)]
    await process_each_once(db.sessions, ROUTER_INBOX, batch, effect)

    rows = await log_rows(db)
    assert [seq for seq, _ in rows] == list(range(1, 13))  # contiguous, after the earlier two
    records = rows[2:]
    assert [event_id for _, event_id in records][::2] == ids(batch)  # each message, in order
    async with db.sessions() as session:
        causes = (
            await session.scalars(
                select(EventRecord.causation_id)
                .where(EventRecord.seq > 2)
                .order_by(EventRecord.seq)
            )
        ).all()
        recorded = set(
            (
                await session.scalars(select(EventRecord.recorded_at).where(EventRecord.seq > 2))
            ).all()
        )
    assert causes[1::2] == ids(batch)  # ... each followed by what it caused
    assert len(recorded) == 1  # written together, as the batch committed
    await assert_chain_valid(db, 12)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_concurrent_batches_append_to_the_log_without_deadlock(db: Database) -> None:
    """Ten batches at once, each writing rows the others do not touch (its inbox and outbox
    rows) and appending to the log: all commit, the log in one unbroken chain."""

    async def effect(session: AsyncSession, envelope: Envelope) -> None:
        await router_stage(session, [caused_by(envelope)])
        await asyncio.sleep(0.01)  # the transactions overlap

    batches = [[raised_envelope(title=f"batch {b} alert {i}") for i in range(3)] for b in range(10)]
    done = await asyncio.wait_for(
        asyncio.gather(
            *(process_each_once(db.sessions, ROUTER_INBOX, batch, effect) for batch in batches)
        ),
        20,
    )

    assert [ids(fresh) for fresh in done] == [ids(batch) for batch in batches]
    rows = await log_rows(db)
    assert [seq for seq, _ in rows] == list(range(1, 31))
    async with db.sessions() as session:
        found = await session.execute(select(EventRecord.seq, EventRecord.causation_id))
        cause_of = {row.seq: row.causation_id for row in found}
    for batch in batches:  # a batch's records are written together: next to each other
        seqs = sorted(seq for seq, cause in cause_of.items() if cause in ids(batch))
        assert seqs == list(range(seqs[0], seqs[0] + 3))
        assert [cause_of[seq] for seq in seqs] == ids(batch)
    assert await db.count(ROUTER_INBOX) == 30
    assert await db.count(ROUTER_OUTBOX) == 30
    await assert_chain_valid(db, 30)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_two_writers_of_one_row_both_append_to_the_log(db: Database) -> None:
    """One transaction appends, then waits for a row the other holds while appending: the
    log's lock is taken as each commits, after its row locks, so neither waits on it
    while holding what the other needs (taken at the append, this deadlocked)."""
    held = raised_envelope(title="a row both write")
    await process_once(db.sessions, ROUTER_INBOX, held, effect_adding_one_row())
    touch = (
        update(ROUTER_INBOX)
        .where(ROUTER_INBOX.c.message_id == str(held.id))
        .values(processed_at=held.occurred_at)
    )
    first, second = raised_envelope(title="first"), raised_envelope(title="second")
    first_appended, row_taken = asyncio.Event(), asyncio.Event()

    async def appends_then_writes_the_row() -> None:
        async with db.sessions() as session, session.begin():
            await append_to_log(session, [first])
            first_appended.set()
            await row_taken.wait()
            await session.execute(touch)  # waits until the other commits

    async def writes_the_row_then_appends() -> None:
        async with db.sessions() as session, session.begin():
            await first_appended.wait()
            await session.execute(touch)
            row_taken.set()
            await asyncio.sleep(0.1)  # the other is waiting for the row by now
            await append_to_log(session, [second])

    await asyncio.wait_for(
        asyncio.gather(appends_then_writes_the_row(), writes_the_row_then_appends()), 10
    )
    assert await log_rows(db) == [(1, str(second.id)), (2, str(first.id))]
    await assert_chain_valid(db, 2)


async def test_the_log_and_outbox_refuse_a_savepoint_and_nothing_is_written(
    db: Database,
) -> None:
    """Records and outbox rows are written at commit, so a savepoint's rollback could not
    take them back: staging inside one is refused, and the failed effect writes nothing."""
    message = raised_envelope()

    async def effect(session: AsyncSession, envelope: Envelope) -> None:
        await router_stage(session, [caused_by(message)])
        async with session.begin_nested():
            await router_stage(session, [caused_by(message)])

    with pytest.raises(RuntimeError, match="not in a savepoint"):
        await process_each_once(db.sessions, ROUTER_INBOX, [message], effect)
    assert await log_rows(db) == []
    async with db.sessions() as session:
        assert (await session.scalars(select(ROUTER_OUTBOX.c.message_id))).all() == []
        assert (await session.scalars(select(ROUTER_INBOX.c.message_id))).all() == []
