"""The in-memory bus keeps the real one's promises (shared/bus_protocol.py)."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import pytest

from shared.bus import (
    INGEST_VIEWS_QUEUE,
    NOTIFIER_QUEUE,
    ROUTER_QUEUE,
    Bus,
    OutgoingMessage,
    QueueSpec,
    to_outgoing,
)
from shared.bus_protocol import MessageBus
from shared.consumer import TryAgainLater
from shared.contracts import (
    ALERT_ACKNOWLEDGE,
    ALERT_RAISED,
    ALERT_TRIGGERED,
    NOTIFICATION_REQUESTED,
)
from shared.decisions import pack, unpack
from shared.envelope import Envelope
from shared.memory_bus import MemoryBroker, MemoryBus
from shared.refusals import RefusalKind, refusal_of

pytestmark = pytest.mark.timeout(10)


def event(type_: str) -> Envelope:
    return Envelope(type=type_, producer="test", actor="test", correlation_id=uuid4(), payload={})


class Recorder:
    """A handler that records what it got and fails as told (by envelope id)."""

    def __init__(self, fail: dict[str, Exception] | None = None, times: int = 1) -> None:
        self.got: list[Envelope] = []
        self.fail = fail or {}
        self.times = times

    async def __call__(self, envelope: Envelope) -> None:
        self.got.append(envelope)
        error = self.fail.get(str(envelope.id))
        if error is not None and self.got.count(envelope) <= self.times:
            raise error


async def connected(broker: MemoryBroker, **kwargs: int) -> MemoryBus:
    bus = MemoryBus(broker, **kwargs)
    await bus.connect()
    return bus


def test_both_buses_are_message_buses() -> None:
    # mypy checks these assignments: a drift of either bus from the protocol fails the lint
    buses: list[MessageBus] = [Bus("amqp://", prefetch=1, delivery_limit=1), MemoryBus()]
    assert len(buses) == 2


async def test_a_type_reaches_the_queues_the_registry_binds_it_to() -> None:
    broker = MemoryBroker()
    bus = await connected(broker)
    router, views, notifier = Recorder(), Recorder(), Recorder()
    for spec, handler in ((ROUTER_QUEUE, router), (INGEST_VIEWS_QUEUE, views)):
        await bus.consume(spec, handler)
    await bus.consume(NOTIFIER_QUEUE, notifier)
    raised, triggered = event(ALERT_RAISED), event(ALERT_TRIGGERED)
    acknowledge = event(ALERT_ACKNOWLEDGE)
    [decisions] = pack([triggered])  # the router's events reach the views in one message
    await bus.publish([to_outgoing(raised), to_outgoing(acknowledge), to_outgoing(decisions)])
    await broker.drain()
    # alert.triggered is the router's own: not sent back to it
    assert router.got == [raised, acknowledge]
    # in publishing order; not alert.raised, whose view ingest wrote with the alert
    assert views.got == [acknowledge, decisions]
    assert unpack(decisions) == [triggered]
    assert notifier.got == []
    # and never by its own: the views' queue is not bound to it
    [alone] = await bus.publish_each([to_outgoing(triggered)])
    assert alone is not None
    await bus.close()


async def test_a_message_nobody_takes_is_refused_as_unroutable() -> None:
    bus = await connected(MemoryBroker())
    kept = OutgoingMessage("1", ALERT_RAISED, event(ALERT_RAISED).model_dump_json().encode())
    stray = OutgoingMessage("2", "nobody.takes.this", b"{}")
    ok, refused = await bus.publish_each([kept, stray])
    assert ok is None
    assert refused is not None
    refusal = refusal_of(refused)
    assert refusal is not None
    assert refusal.kind is RefusalKind.UNROUTABLE
    assert "nobody.takes.this" in refusal.detail
    with pytest.raises(type(refused)):
        await bus.publish([stray])
    await bus.close()


async def test_a_deferred_message_is_redelivered_and_not_counted_as_an_error() -> None:
    broker = MemoryBroker(back_off=0.001)
    bus = await connected(broker)
    early = event(ALERT_RAISED)
    handler = Recorder({str(early.id): TryAgainLater("its subject is not there yet")}, times=2)
    await bus.consume(ROUTER_QUEUE, handler)
    await bus.publish([to_outgoing(early)])
    await broker.drain()
    assert handler.got == [early] * 3
    assert broker.errors == []
    assert broker.dead_letters == {}
    await bus.close()


async def test_a_message_failing_past_the_delivery_limit_is_dead_lettered() -> None:
    broker = MemoryBroker(delivery_limit=2, back_off=0.001)
    bus = await connected(broker)
    poison, fine = event(ALERT_RAISED), event(ALERT_RAISED)
    handler = Recorder({str(poison.id): ValueError("cannot handle")}, times=99)
    await bus.consume(ROUTER_QUEUE, handler)
    malformed = OutgoingMessage("m", ALERT_RAISED, b"not json")
    await bus.publish([to_outgoing(poison), malformed, to_outgoing(fine)])
    await broker.drain()
    assert handler.got.count(poison) == 3  # delivered, then handed back twice: the limit
    assert handler.got.count(fine) == 1  # the good one behind it went through
    letters = broker.dead_letters[ROUTER_QUEUE.dead_letter_name]
    assert [(x.message.message_id, x.deliveries) for x in letters] == [
        (str(poison.id), 3),
        ("m", 3),
    ]
    assert "cannot handle" in letters[0].error
    assert len(broker.errors) == 6
    assert broker.pending(ROUTER_QUEUE.name) == 0
    await bus.close()


async def test_a_subscription_matches_topics_and_goes_with_its_connection() -> None:
    broker = MemoryBroker()
    bus = await connected(broker)
    live = Recorder()
    await bus.subscribe(["alert.#"], live)
    raised, requested = event(ALERT_RAISED), event(NOTIFICATION_REQUESTED)
    await bus.publish([to_outgoing(raised), to_outgoing(requested)])
    await broker.drain()
    assert live.got == [raised]
    queues = set(broker.queues)
    await bus.close()
    assert len(queues - set(broker.queues)) == 1  # the exclusive queue is gone


async def test_a_paused_subscription_gets_nothing_until_it_resumes() -> None:
    broker = MemoryBroker()
    bus = await connected(broker)
    live = Recorder()
    feed = await bus.subscribe(["alert.#"], live)
    await feed.pause()
    missed, seen = event(ALERT_ACKNOWLEDGE), event(ALERT_RAISED)
    await bus.publish([to_outgoing(missed)])
    await feed.resume()
    await bus.publish([to_outgoing(seen)])
    await broker.drain()
    assert live.got == [seen]  # what came while paused was not kept
    await bus.close()


async def test_a_closed_connection_hands_back_what_it_was_handling() -> None:
    broker = MemoryBroker()
    first, second = await connected(broker), await connected(broker)
    started, never = asyncio.Event(), asyncio.Event()

    async def stuck(envelope: Envelope) -> None:
        started.set()
        await never.wait()

    await first.consume(ROUTER_QUEUE, stuck)
    raised = event(ALERT_RAISED)
    await first.publish([to_outgoing(raised)])
    await started.wait()
    await first.close(grace=0.01)
    assert broker.pending(ROUTER_QUEUE.name) == 1  # not acked: still the queue's
    taker = Recorder()
    await second.consume(ROUTER_QUEUE, taker)
    await broker.drain()
    assert taker.got == [raised]
    await second.close()


async def test_drain_waits_for_consumed_queues_only_and_prefetch_bounds_the_handlers() -> None:
    broker = MemoryBroker()
    bus = await connected(broker, prefetch=2)
    running, most = 0, 0

    async def slow(envelope: Envelope) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.01)
        running -= 1

    await bus.consume(QueueSpec(ROUTER_QUEUE.name, ROUTER_QUEUE.bindings), slow)
    await bus.publish([to_outgoing(event(ALERT_ACKNOWLEDGE)) for _ in range(6)])
    await broker.drain()  # ingest.views has the copies, and nobody consumes it
    assert broker.pending(ROUTER_QUEUE.name) == 0
    assert broker.pending(INGEST_VIEWS_QUEUE.name) == 6
    assert most == 2
    await bus.close()


async def test_a_bus_not_connected_refuses_to_publish() -> None:
    bus = MemoryBus()
    with pytest.raises(RuntimeError, match="not connected"):
        await bus.publish([])
    await bus.connect()
    assert bus.is_connected
    await bus.close()
    assert not bus.is_connected
