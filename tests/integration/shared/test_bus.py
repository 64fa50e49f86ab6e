"""The bus on a real RabbitMQ (one fresh vhost per test): poison messages, delivery limit,
pipelined publishing."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import quote
from uuid import uuid4

import aio_pika
import pytest
from aio_pika.abc import AbstractIncomingMessage

from shared.bus import (
    EVENTS_EXCHANGE,
    ROUTER_QUEUE,
    Bus,
    to_outgoing,
)
from shared.envelope import Envelope
from tests.support.builders import raised_envelope
from tests.support.rabbit import RabbitAPI

pytestmark = pytest.mark.integration

DELIVERY_LIMIT = 3
POISON = b"this is not JSON {"


@pytest.fixture
async def bus(amqp_url: str) -> AsyncIterator[Bus]:
    bus = Bus(amqp_url, prefetch=10, delivery_limit=DELIVERY_LIMIT)
    await bus.connect()
    try:
        yield bus
    finally:
        await bus.close()


@pytest.fixture
async def channel(amqp_url: str) -> AsyncIterator[aio_pika.abc.AbstractChannel]:
    connection = await aio_pika.connect(amqp_url, timeout=10)
    try:
        yield await connection.channel()
    finally:
        await connection.close()


async def wait_for(
    predicate: Callable[[], bool | Awaitable[bool]],
    timeout: float = 30.0,  # noqa: ASYNC109 - a liveness bound
    what: str = "condition",
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s")
        await asyncio.sleep(0.05)


async def drain_dead_letters(
    channel: aio_pika.abc.AbstractChannel,
    queue_name: str,
    expected: int,
    timeout: float = 30.0,  # noqa: ASYNC109 - a liveness bound
) -> list[AbstractIncomingMessage]:
    """Take (no-ack) messages from a dead-letter queue until ``expected`` arrived."""
    queue = await channel.get_queue(queue_name, ensure=False)
    taken: list[AbstractIncomingMessage] = []

    async def more() -> bool:
        message = await queue.get(no_ack=True, fail=False)
        if message is not None:
            taken.append(message)
        return len(taken) >= expected

    await wait_for(more, timeout, f"{expected} message(s) in {queue_name}")
    return taken


async def ready_count(channel: aio_pika.abc.AbstractChannel, queue_name: str) -> int:
    declared = await channel.declare_queue(queue_name, passive=True)
    return int(declared.declaration_result.message_count or 0)


def death_reason(message: AbstractIncomingMessage) -> Any:
    deaths: Any = (message.headers or {}).get("x-death") or []  # a list of AMQP tables
    return deaths[0].get("reason") if deaths else None


def envelopes(n: int) -> list[Envelope]:
    return [raised_envelope(title=f"alert {i}") for i in range(n)]


async def test_poison_message_is_dead_lettered_without_blocking_valid_ones(
    bus: Bus, amqp_url: str, rabbit_api: RabbitAPI, channel: aio_pika.abc.AbstractChannel
) -> None:
    handled: list[Envelope] = []

    async def record(envelope: Envelope) -> None:
        handled.append(envelope)

    await bus.consume(ROUTER_QUEUE, record)
    await rabbit_api.publish_amqp(
        amqp_url, EVENTS_EXCHANGE, "alert.raised", POISON, message_id="poison-1"
    )
    valid = envelopes(5)
    for envelope in valid:
        message = to_outgoing(envelope)
        await rabbit_api.publish_amqp(
            amqp_url,
            EVENTS_EXCHANGE,
            message.routing_key,
            message.body,
            message_id=message.message_id,
        )

    await wait_for(lambda: len(handled) >= 5, what="5 valid envelopes handled")
    [dead] = await drain_dead_letters(channel, ROUTER_QUEUE.dead_letter_name, 1)

    assert dead.body == POISON
    assert dead.message_id == "poison-1"
    assert death_reason(dead) == "delivery_limit"
    assert sorted(str(e.id) for e in handled) == sorted(str(e.id) for e in valid)
    assert await ready_count(channel, ROUTER_QUEUE.name) == 0


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"type": "alert.raised"}', id="json-but-not-an-envelope"),
        pytest.param(b"\xff\xfe\x00", id="binary"),
    ],
)
async def test_malformed_envelopes_are_dead_lettered(
    bus: Bus,
    amqp_url: str,
    rabbit_api: RabbitAPI,
    channel: aio_pika.abc.AbstractChannel,
    body: bytes,
) -> None:
    handled: list[Envelope] = []

    async def record(envelope: Envelope) -> None:
        handled.append(envelope)

    await bus.consume(ROUTER_QUEUE, record)
    await rabbit_api.publish_amqp(amqp_url, EVENTS_EXCHANGE, "alert.raised", body)
    [dead] = await drain_dead_letters(channel, ROUTER_QUEUE.dead_letter_name, 1)
    assert dead.body == body
    assert handled == []


async def test_failing_handler_is_dead_lettered_after_the_delivery_limit(
    bus: Bus, channel: aio_pika.abc.AbstractChannel
) -> None:
    calls: Counter[str] = Counter()

    async def always_fail(envelope: Envelope) -> None:
        calls[str(envelope.id)] += 1
        raise RuntimeError("handler is broken")

    envelope = raised_envelope()
    await bus.consume(ROUTER_QUEUE, always_fail)
    await bus.publish([to_outgoing(envelope)])

    [dead] = await drain_dead_letters(channel, ROUTER_QUEUE.dead_letter_name, 1)
    assert Envelope.model_validate_json(dead.body) == envelope
    assert death_reason(dead) == "delivery_limit"
    # RabbitMQ 3.10 quorum queues count returns: the message is dead-lettered when the
    # count exceeds x-delivery-limit, i.e. after the first delivery plus `limit` redeliveries.
    assert calls == {str(envelope.id): DELIVERY_LIMIT + 1}
    await asyncio.sleep(0.5)  # nothing comes back once it is dead-lettered
    assert calls == {str(envelope.id): DELIVERY_LIMIT + 1}
    assert await ready_count(channel, ROUTER_QUEUE.name) == 0


async def test_transient_failure_is_retried_and_not_dead_lettered(
    bus: Bus, channel: aio_pika.abc.AbstractChannel
) -> None:
    calls: Counter[str] = Counter()
    done: list[Envelope] = []

    async def fail_twice(envelope: Envelope) -> None:
        calls[str(envelope.id)] += 1
        if calls[str(envelope.id)] <= 2:
            raise ConnectionError("database restarting")
        done.append(envelope)

    envelope = raised_envelope()
    await bus.consume(ROUTER_QUEUE, fail_twice)
    await bus.publish([to_outgoing(envelope)])
    await wait_for(lambda: len(done) == 1, what="handled on the third delivery")
    assert calls[str(envelope.id)] == 3
    assert await ready_count(channel, ROUTER_QUEUE.dead_letter_name) == 0


async def test_pipelined_publish_of_500_messages_arrives_once_each(
    bus: Bus, channel: aio_pika.abc.AbstractChannel
) -> None:
    batch = envelopes(500)
    # published before anyone consumes: the topology declared at connect queues them
    await bus.publish([to_outgoing(e) for e in batch])

    # persistent and identified, as they wait in the queue
    inbox = await channel.get_queue("router.inbox", ensure=False)
    first = await inbox.get(no_ack=True, fail=False, timeout=10)
    assert first is not None
    assert first.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert first.type == "alert.raised"
    assert first.message_id == str(Envelope.model_validate_json(first.body).id)

    received: Counter[str] = Counter()

    async def record(envelope: Envelope) -> None:
        received[str(envelope.id)] += 1

    await bus.consume(ROUTER_QUEUE, record)
    await wait_for(lambda: len(received) == 499, what="the other 499 distinct envelopes")
    await asyncio.sleep(0.5)
    assert set(received) | {first.message_id} == {str(e.id) for e in batch}
    assert set(received.values()) == {1}
    # only the router takes alert.raised (ingest wrote its view with the alert)
    assert await ready_count(channel, "ingest.views") == 0
    assert await ready_count(channel, "notifier.inbox") == 0


async def test_publish_requires_a_connection() -> None:
    bus = Bus("amqp://guest:guest@127.0.0.1:5672/unused", prefetch=1, delivery_limit=1)
    with pytest.raises(RuntimeError, match="not connected"):
        await bus.publish([to_outgoing(raised_envelope())])
    assert not bus.is_connected


async def test_a_paused_subscription_gets_nothing_until_it_resumes(bus: Bus) -> None:
    got: list[Envelope] = []

    async def live(envelope: Envelope) -> None:
        got.append(envelope)

    feed = await bus.subscribe(["alert.#"], live)
    await feed.pause()
    missed, seen = raised_envelope(title="missed"), raised_envelope(title="seen")
    await bus.publish([to_outgoing(missed)])  # router.inbox takes it: routable all the same
    await feed.resume()
    await bus.publish([to_outgoing(seen)])
    await wait_for(lambda: len(got) == 1, what="the event published once resumed")
    await asyncio.sleep(0.3)
    assert [e.id for e in got] == [seen.id]  # unbound meanwhile: nothing queued for it


async def test_published_message_carries_the_envelope_id_and_type(
    bus: Bus, channel: aio_pika.abc.AbstractChannel
) -> None:
    envelope = raised_envelope(alert_id=uuid4())
    await bus.publish([to_outgoing(envelope)])
    queue = await channel.get_queue("router.inbox", ensure=False)
    message = await queue.get(no_ack=True, timeout=10)
    assert message.message_id == str(envelope.id)
    assert message.routing_key == "alert.raised"
    assert Envelope.model_validate_json(message.body) == envelope


async def test_an_unroutable_message_fails_the_publish_instead_of_vanishing(
    bus: Bus, channel: aio_pika.abc.AbstractChannel
) -> None:
    """No queue bound (say, just after a broker restart): the outbox must keep the row."""
    unbound = to_outgoing(raised_envelope())
    unbound = type(unbound)(unbound.message_id, "nobody.listens", unbound.body)
    with pytest.raises(aio_pika.exceptions.PublishError):
        await bus.publish([unbound])
    # the channel stays usable for routable messages
    await bus.publish([to_outgoing(raised_envelope())])
    assert await ready_count(channel, "router.inbox") == 1


async def _close_connections_from_the_broker(rabbit_api: RabbitAPI, amqp_url: str) -> int:
    vhost = amqp_url.rsplit("/", 1)[1]
    names: list[str] = []
    deadline = time.monotonic() + 15  # the management API lists connections a moment late
    while not names and time.monotonic() < deadline:
        listed = await rabbit_api.request("GET", f"/api/vhosts/{vhost}/connections")
        names = [c["name"] for c in listed.json()]
        if not names:
            await asyncio.sleep(0.2)
    for name in names:
        await rabbit_api.request("DELETE", f"/api/connections/{quote(name, safe='')}")
    return len(names)


async def test_a_handler_under_way_finishes_when_its_channel_closes(
    bus: Bus, amqp_url: str, rabbit_api: RabbitAPI
) -> None:
    """The channel going away must not cancel a handler half-way (a notifier that has
    posted the webhook must record it); the lost ack makes the broker redeliver."""
    started, closed = asyncio.Event(), asyncio.Event()
    finished: list[str] = []

    async def slow(envelope: Envelope) -> None:
        started.set()
        await closed.wait()  # still under way when the broker closes the connection
        await asyncio.sleep(0.2)
        finished.append(str(envelope.id))

    await bus.consume(ROUTER_QUEUE, slow)
    envelope = raised_envelope()
    await bus.publish([to_outgoing(envelope)])
    await asyncio.wait_for(started.wait(), 10)
    assert await _close_connections_from_the_broker(rabbit_api, amqp_url) >= 1
    closed.set()

    await wait_for(lambda: len(finished) >= 1, timeout=10, what="the handler under way finished")
    # its ack was lost with the channel: the message comes again once the bus reconnected
    await wait_for(lambda: len(finished) >= 2, timeout=30, what="the message redelivered")
    assert set(finished) == {str(envelope.id)}
