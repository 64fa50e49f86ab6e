"""Batch consumers on a real RabbitMQ (one fresh vhost per test): ``Bus.consume_batches``.

The same behaviours as tests/unit/shared/test_memory_bus_batches.py on the in-memory bus:
what arrives while the consumer is busy comes in one call, in order, once; a batch that
fails is handled message by message, so a poison or malformed message is dead-lettered
alone and the rest of its batch is acked.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from shared.bus import ROUTER_QUEUE, Bus, OutgoingMessage, to_outgoing
from shared.contracts import ALERT_RAISED
from shared.envelope import Envelope
from tests.support.builders import ids, raised_envelope, raised_envelopes

pytestmark = [pytest.mark.integration, pytest.mark.timeout(30)]

DELIVERY_LIMIT = 2  # the poison message's back-offs: 0.1 + 0.2 + 0.4 s
SIZE = 50  # larger than any batch these tests make, unless a test says otherwise
PREFETCH = 50  # the whole of a test's messages can be delivered while the consumer is busy


@pytest.fixture
async def bus(amqp_url: str) -> AsyncIterator[Bus]:
    bus = Bus(amqp_url, prefetch=PREFETCH, delivery_limit=DELIVERY_LIMIT)
    await bus.connect()
    try:
        yield bus
    finally:
        await bus.close()  # again after a test's own close: a no-op


@pytest.fixture
async def release(bus: Bus) -> AsyncIterator[asyncio.Event]:
    """Lets a held handler go (see ``BatchRecorder``); set at the latest before the bus closes."""
    event = asyncio.Event()
    yield event
    event.set()


@pytest.fixture
async def channel(amqp_url: str) -> AsyncIterator[AbstractChannel]:
    """A channel of its own, to look at the queues (not the consumer's)."""
    connection = await aio_pika.connect(amqp_url, timeout=10)
    try:
        yield await connection.channel()
    finally:
        await connection.close()


class BatchRecorder:
    """A batch handler that records each call; it fails any batch holding a ``poison`` id.

    With ``hold``, its first call of at least ``hold_size`` messages waits until that event
    is set: a busy consumer.
    """

    def __init__(
        self,
        poison: frozenset[str] = frozenset(),
        hold: asyncio.Event | None = None,
        hold_size: int = 1,
    ) -> None:
        self.calls: list[list[Envelope]] = []
        self.given: list[Sequence[Envelope]] = []  # what the handler got, as it got it
        self.done: list[Envelope] = []  # in calls that returned (the message is acked)
        self.poison = poison
        self.hold = hold
        self.hold_size = hold_size
        self.held = asyncio.Event()  # the held call has started
        self.held_call = -1  # its index in ``calls``

    async def __call__(self, batch: Sequence[Envelope]) -> None:
        self.given.append(batch)
        self.calls.append(list(batch))
        if self.hold is not None and not self.held.is_set() and len(batch) >= self.hold_size:
            self.held_call = len(self.calls) - 1
            self.held.set()
            await self.hold.wait()
        if any(str(envelope.id) in self.poison for envelope in batch):
            raise RuntimeError("a poison message in the batch")
        self.done.extend(batch)


async def wait_for(
    predicate: Callable[[], bool | Awaitable[bool]],
    timeout: float = 15.0,  # noqa: ASYNC109 - a liveness bound
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
        await asyncio.sleep(0.02)


async def ready_count(channel: AbstractChannel, queue_name: str) -> int:
    """Messages ready in the queue (not counting those delivered and not yet acked)."""
    declared = await channel.declare_queue(queue_name, passive=True)
    return int(declared.declaration_result.message_count or 0)


async def take_all(channel: AbstractChannel, queue_name: str) -> list[AbstractIncomingMessage]:
    """Every message in the queue now (no-ack)."""
    queue = await channel.get_queue(queue_name, ensure=False)
    taken: list[AbstractIncomingMessage] = []
    while (message := await queue.get(no_ack=True, fail=False)) is not None:
        taken.append(message)
    return taken


async def _none_ready(channel: AbstractChannel) -> bool:
    return await ready_count(channel, ROUTER_QUEUE.name) == 0


async def _dead_count_is(channel: AbstractChannel, n: int) -> bool:
    return await ready_count(channel, ROUTER_QUEUE.dead_letter_name) == n


async def settled_and_empty(bus: Bus, channel: AbstractChannel) -> None:
    """Close the consumer: anything it left unacked goes back to the queue, which must be empty."""
    await bus.close()
    assert await ready_count(channel, ROUTER_QUEUE.name) == 0


async def busy_with_a_batch(bus: Bus, handler: BatchRecorder, size: int = SIZE) -> list[Envelope]:
    """Start consuming a queue that holds a few openers; the handler (``hold_size=2``) holds
    the first batch of them, so the consumer is busy with a batch: what comes meanwhile
    waits for the next one (whether or not a lone message keeps the consumer busy)."""
    openers = raised_envelopes(5, "opener")
    await bus.publish([to_outgoing(e) for e in openers])  # queued: they come in a burst
    await bus.consume_batches(ROUTER_QUEUE, handler, size)
    await asyncio.wait_for(handler.held.wait(), 10)
    return openers


async def delivered_to_the_consumer(channel: AbstractChannel) -> None:
    """Wait until the queue has handed every message to the consumer (prefetch allows)."""
    await wait_for(lambda: _none_ready(channel), what="every message delivered to the consumer")
    await asyncio.sleep(0.1)  # the last deliveries' frames reach the client


async def test_messages_published_while_the_consumer_is_busy_arrive_together_in_order(
    bus: Bus, channel: AbstractChannel, release: asyncio.Event
) -> None:
    handler = BatchRecorder(hold=release)  # holds its first call, a lone message
    await bus.consume_batches(ROUTER_QUEUE, handler, SIZE)

    first = raised_envelope(title="first")
    await bus.publish([to_outgoing(first)])
    await asyncio.wait_for(handler.held.wait(), 10)
    meanwhile = raised_envelopes(20, "meanwhile")
    for envelope in meanwhile:  # one publish each: they arrive one after the other
        await bus.publish([to_outgoing(envelope)])
    await delivered_to_the_consumer(channel)
    # Busy with the first message, the consumer hands out nothing else meanwhile (batches
    # run one after the other): what arrives waits for the next batch.
    sizes = [len(call) for call in handler.calls]
    release.set()
    assert sizes == [1], f"calls made while the first was under way, by size: {sizes}"

    await wait_for(lambda: len(handler.done) >= 21, what="the 21 messages handled")
    await asyncio.sleep(0.2)  # nothing comes twice

    assert len(handler.calls[1]) > 1, f"the next call got {len(handler.calls[1])} envelope(s)"
    # every message once, in publication order, over the calls (none failed)
    assert ids(e for call in handler.calls for e in call) == ids([first, *meanwhile])
    assert Counter(ids(handler.done)) == Counter(ids([first, *meanwhile]))
    await settled_and_empty(bus, channel)
    assert await ready_count(channel, ROUTER_QUEUE.dead_letter_name) == 0


async def test_a_batch_holds_at_most_size_messages_in_order(
    bus: Bus, channel: AbstractChannel, release: asyncio.Event
) -> None:
    handler = BatchRecorder(hold=release, hold_size=2)
    openers = await busy_with_a_batch(bus, handler, size=8)
    waiting = raised_envelopes(20)
    await bus.publish([to_outgoing(e) for e in waiting])
    await delivered_to_the_consumer(channel)
    release.set()
    await wait_for(lambda: len(handler.done) >= 25, what="the 25 messages handled")
    await asyncio.sleep(0.2)

    assert ids(e for call in handler.calls for e in call) == ids([*openers, *waiting])
    after = [len(call) for call in handler.calls[handler.held_call + 1 :]]
    left = sum(after)  # everything had arrived: full batches of 8, then the rest
    assert after == [8] * (left // 8) + ([left % 8] if left % 8 else []), after
    assert Counter(ids(handler.done)) == Counter(ids([*openers, *waiting]))
    await settled_and_empty(bus, channel)


async def test_a_poison_message_is_dead_lettered_alone_and_the_rest_of_its_batch_acked(
    bus: Bus, channel: AbstractChannel, release: asyncio.Event
) -> None:
    batch = raised_envelopes(6)
    poison = batch[2]
    handler = BatchRecorder(poison=frozenset({str(poison.id)}), hold=release, hold_size=2)
    openers = await busy_with_a_batch(bus, handler)
    await bus.publish([to_outgoing(e) for e in batch])  # they come together, after the openers
    await delivered_to_the_consumer(channel)
    release.set()

    dead_queue = await channel.get_queue(ROUTER_QUEUE.dead_letter_name, ensure=False)
    dead: list[AbstractIncomingMessage] = []

    async def dead_lettered() -> bool:
        message = await dead_queue.get(no_ack=True, fail=False)
        if message is not None:
            dead.append(message)
        return bool(dead)

    await wait_for(dead_lettered, what="the poison message dead-lettered")
    await asyncio.sleep(0.3)  # nothing else follows it there
    dead += await take_all(channel, ROUTER_QUEUE.dead_letter_name)

    in_a_batch = [call for call in handler.calls if len(call) > 1 and poison in call]
    assert in_a_batch, f"the poison message was never in a batch: {handler.calls}"
    others = [e for e in batch if e.id != poison.id]
    # every other message was handled once and acked; the poison message never succeeded
    assert Counter(ids(handler.done)) == Counter(ids([*openers, *others]))
    # ... each alone, after the batch failed
    for envelope in others:
        assert [envelope] in handler.calls, f"{envelope.payload['title']} not handled alone"
    # the poison message alone: delivered, then handed back DELIVERY_LIMIT times
    alone = [call for call in handler.calls if call == [poison]]
    assert len(alone) == DELIVERY_LIMIT + 1
    assert [message.message_id for message in dead] == [str(poison.id)]
    assert Envelope.model_validate_json(dead[0].body) == poison
    await settled_and_empty(bus, channel)


async def test_a_malformed_body_in_a_batch_does_not_stop_the_others(
    bus: Bus, channel: AbstractChannel, release: asyncio.Event
) -> None:
    before, after = raised_envelope(title="before"), raised_envelope(title="after")
    body = b'{"type": "alert.raised"}'  # JSON, but not an envelope
    malformed = OutgoingMessage("not-an-envelope", ALERT_RAISED, body)
    handler = BatchRecorder(hold=release, hold_size=2)
    openers = await busy_with_a_batch(bus, handler)
    # they come together, in the batch after the openers
    await bus.publish([to_outgoing(before), malformed, to_outgoing(after)])
    await delivered_to_the_consumer(channel)
    release.set()

    await wait_for(lambda: len(handler.done) >= 7, what="the valid messages handled")
    await wait_for(lambda: _dead_count_is(channel, 1), what="the malformed message dead-lettered")
    await asyncio.sleep(0.3)
    assert Counter(ids(handler.done)) == Counter(ids([*openers, before, after]))
    [dead] = await take_all(channel, ROUTER_QUEUE.dead_letter_name)
    assert (dead.message_id, dead.body) == ("not-an-envelope", body)
    await settled_and_empty(bus, channel)


async def test_a_batch_of_one_goes_to_the_handler_as_a_one_element_sequence(
    bus: Bus, channel: AbstractChannel
) -> None:
    handler = BatchRecorder()
    await bus.consume_batches(ROUTER_QUEUE, handler, SIZE)
    envelope = raised_envelope()
    await bus.publish([to_outgoing(envelope)])
    await wait_for(lambda: len(handler.done) == 1, what="the message handled")
    await asyncio.sleep(0.2)
    [given] = handler.given
    assert isinstance(given, Sequence)
    assert not isinstance(given, str | bytes)
    assert list(given) == [envelope]
    await settled_and_empty(bus, channel)
