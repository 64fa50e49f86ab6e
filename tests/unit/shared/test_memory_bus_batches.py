"""The in-memory bus's batch consumer keeps the real one's promises (``consume_batches``).

The same behaviours as tests/integration/shared/test_bus_batches.py on RabbitMQ: what
arrives while the consumer is busy comes in one call, in order, once; a batch that fails
is handled message by message, so a poison or malformed message is dead-lettered alone.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence

import pytest

from shared.bus import ROUTER_QUEUE, OutgoingMessage, to_outgoing
from shared.contracts import ALERT_RAISED
from shared.envelope import Envelope
from shared.memory_bus import MemoryBroker, MemoryBus
from tests.support.builders import ids, raised_envelope, raised_envelopes

pytestmark = pytest.mark.timeout(10)

DELIVERY_LIMIT = 2
SIZE = 50  # larger than any batch these tests make, unless a test says otherwise


class BatchRecorder:
    """A batch handler that records each call; it fails any batch holding a ``poison`` id.

    With ``hold_first``, its first call waits until that event is set (a busy consumer).
    """

    def __init__(
        self, poison: frozenset[str] = frozenset(), hold_first: asyncio.Event | None = None
    ) -> None:
        self.calls: list[list[Envelope]] = []
        self.given: list[Sequence[Envelope]] = []  # what the handler got, as it got it
        self.done: list[Envelope] = []  # in calls that returned (the message is acked)
        self.poison = poison
        self.hold_first = hold_first
        self.first_started = asyncio.Event()

    async def __call__(self, batch: Sequence[Envelope]) -> None:
        self.given.append(batch)
        self.calls.append(list(batch))
        if len(self.calls) == 1 and self.hold_first is not None:
            self.first_started.set()
            await self.hold_first.wait()
        if any(str(envelope.id) in self.poison for envelope in batch):
            raise RuntimeError("a poison message in the batch")
        self.done.extend(batch)


async def connected(broker: MemoryBroker) -> MemoryBus:
    bus = MemoryBus(broker, prefetch=SIZE)
    await bus.connect()
    return bus


async def test_messages_published_while_the_consumer_is_busy_arrive_together_in_order() -> None:
    broker = MemoryBroker(delivery_limit=DELIVERY_LIMIT, back_off=0.001)
    bus = await connected(broker)
    release = asyncio.Event()
    handler = BatchRecorder(hold_first=release)
    await bus.consume_batches(ROUTER_QUEUE, handler, SIZE)

    first = raised_envelope(title="first")
    await bus.publish([to_outgoing(first)])
    await asyncio.wait_for(handler.first_started.wait(), 5)
    meanwhile = raised_envelopes(20, "meanwhile")
    for envelope in meanwhile:  # one publish each: they arrive one after the other
        await bus.publish([to_outgoing(envelope)])
        await asyncio.sleep(0)
    # Busy with the first message, the consumer hands out nothing else meanwhile (batches
    # run one after the other): what arrives waits for the next batch.
    sizes = [len(call) for call in handler.calls]
    release.set()
    assert sizes == [1], f"calls made while the first was under way, by size: {sizes}"

    await broker.drain()

    assert len(handler.calls) >= 2
    assert len(handler.calls[1]) > 1, f"the next call got {len(handler.calls[1])} envelope(s)"
    # what had arrived, up to the size, in one call, in publication order
    assert ids(handler.calls[1]) == ids(meanwhile)
    assert ids([e for call in handler.calls for e in call]) == ids([first, *meanwhile])
    assert ids(handler.done) == ids([first, *meanwhile])  # each once, in order
    assert broker.pending(ROUTER_QUEUE.name) == 0
    assert broker.dead_letters == {}
    await bus.close()


async def test_a_batch_holds_at_most_size_messages_in_order() -> None:
    broker = MemoryBroker()
    bus = await connected(broker)
    waiting = raised_envelopes(20)
    await bus.publish([to_outgoing(e) for e in waiting])  # queued before anyone consumes
    handler = BatchRecorder()
    await bus.consume_batches(ROUTER_QUEUE, handler, 8)
    await broker.drain()
    assert [len(call) for call in handler.calls] == [8, 8, 4]
    assert ids(handler.done) == ids(waiting)
    assert broker.pending(ROUTER_QUEUE.name) == 0
    await bus.close()


async def test_a_poison_message_is_dead_lettered_alone_and_the_rest_of_its_batch_handled() -> None:
    broker = MemoryBroker(delivery_limit=DELIVERY_LIMIT, back_off=0.001)
    bus = await connected(broker)
    batch = raised_envelopes(6)
    poison = batch[2]
    await bus.publish([to_outgoing(e) for e in batch])  # waiting: one batch when consumed
    handler = BatchRecorder(poison=frozenset({str(poison.id)}))
    await bus.consume_batches(ROUTER_QUEUE, handler, SIZE)
    await broker.drain()

    assert ids(handler.calls[0]) == ids(batch)  # the poison message was in a batch
    others = [e for e in batch if e.id != poison.id]
    # every other message was handled once, alone, and acked
    assert Counter(ids(handler.done)) == Counter(ids(others))
    assert all(len(call) == 1 for call in handler.calls[1:])
    # the poison message alone: delivered, then handed back DELIVERY_LIMIT times
    alone = [call for call in handler.calls[1:] if ids(call) == [str(poison.id)]]
    assert len(alone) == DELIVERY_LIMIT + 1
    letters = broker.dead_letters
    assert list(letters) == [ROUTER_QUEUE.dead_letter_name]
    assert [x.message.message_id for x in letters[ROUTER_QUEUE.dead_letter_name]] == [
        str(poison.id)
    ]
    assert "poison" in letters[ROUTER_QUEUE.dead_letter_name][0].error
    assert broker.pending(ROUTER_QUEUE.name) == 0
    await bus.close()


async def test_a_malformed_body_in_a_batch_does_not_stop_the_others() -> None:
    broker = MemoryBroker(delivery_limit=DELIVERY_LIMIT, back_off=0.001)
    bus = await connected(broker)
    before, after = raised_envelope(title="before"), raised_envelope(title="after")
    malformed = OutgoingMessage("not-an-envelope", ALERT_RAISED, b'{"type": "alert.raised"}')
    await bus.publish([to_outgoing(before), malformed, to_outgoing(after)])
    handler = BatchRecorder()
    await bus.consume_batches(ROUTER_QUEUE, handler, SIZE)
    await broker.drain()

    assert Counter(ids(handler.done)) == Counter(ids([before, after]))
    assert sorted(ids(e for call in handler.calls for e in call)) == sorted(ids([before, after]))
    letters = broker.dead_letters[ROUTER_QUEUE.dead_letter_name]
    assert [(x.message.message_id, x.deliveries) for x in letters] == [
        ("not-an-envelope", DELIVERY_LIMIT + 1)
    ]
    assert broker.pending(ROUTER_QUEUE.name) == 0
    await bus.close()


async def test_a_batch_of_one_goes_to_the_handler_as_a_one_element_sequence() -> None:
    broker = MemoryBroker()
    bus = await connected(broker)
    handler = BatchRecorder()
    await bus.consume_batches(ROUTER_QUEUE, handler, SIZE)
    envelope = raised_envelope()
    await bus.publish([to_outgoing(envelope)])
    await broker.drain()
    [given] = handler.given
    assert isinstance(given, Sequence)
    assert not isinstance(given, str | bytes)
    assert list(given) == [envelope]
    assert broker.pending(ROUTER_QUEUE.name) == 0
    await bus.close()
