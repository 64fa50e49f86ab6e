"""An in-process message bus that keeps the promises of RabbitMQ's (``shared.bus.Bus``).

The services run together without a broker (FastStream's TestClient pattern): a
``MemoryBroker`` holds the topic exchange's queues, declared from the same ``QueueSpec``s
(``shared.bus.TOPOLOGY``, from the registry), and each service connects a ``MemoryBus``
of its own to it, as each opens its own connection to RabbitMQ. Kept: topic routing, and
an unroutable message refused with the error RabbitMQ's return raises; FIFO per queue,
``prefetch`` handlers at a time per consumer, competing consumers; bodies parsed per
delivery; at least once (a handler that raises gets the message again after a back-off,
until ``delivery_limit`` dead-letters it; a connection closed mid-handling hands its
messages back). Not modelled: persistence, outages, confirms' latency. ``await drain()``
returns once every consumed queue is idle.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiormq
import structlog
from aiormq.exceptions import DeliveryError

from shared.bus import EVENTS_EXCHANGE, TOPOLOGY, OutgoingMessage, PublishOutcome, QueueSpec
from shared.consumer import BatchHandler, Handler, TryAgainLater
from shared.envelope import Envelope
from shared.topics import topic_matches

log = structlog.get_logger(__name__)

NO_ROUTE = 312  # AMQP's reply code for a mandatory message no queue is bound to
_MAX_BACK_OFF_DOUBLINGS = 6


@dataclass(frozen=True)
class DeadLetter:
    """A message its queue gave up on after ``deliveries`` deliveries; the last ``error``."""

    queue: str
    message: OutgoingMessage
    deliveries: int
    error: str


@dataclass
class _Delivery:
    message: OutgoingMessage
    returned: int = 0  # times handed back so far: RabbitMQ's x-delivery-count


@dataclass
class MemoryFeed:
    """A subscription's queue, matching its events while resumed (``LiveFeed``)."""

    queue: _Queue
    bindings: tuple[str, ...]

    async def pause(self) -> None:
        """Route nothing to the queue."""
        self.queue.bindings = ()

    async def resume(self) -> None:
        """Route its events to the queue again."""
        self.queue.bindings = self.bindings


@dataclass
class _Queue:
    name: str
    bindings: tuple[str, ...]
    ready: deque[_Delivery] = field(default_factory=deque)
    unsettled: int = 0  # ready, being handled or backing off: not yet acked or dead-lettered
    consumers: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def put(self, delivery: _Delivery, *, first: bool = False) -> None:
        (self.ready.appendleft if first else self.ready.append)(delivery)
        self.arrived.set()

    async def get(self) -> _Delivery:
        while not self.ready:
            self.arrived.clear()
            await self.arrived.wait()
        return self.ready.popleft()


class MemoryBroker:
    """The topic exchange and its queues, shared by every ``MemoryBus`` connected to it."""

    def __init__(
        self,
        *,
        delivery_limit: int = 10,
        back_off: float = 0.01,
        topology: Sequence[QueueSpec] = TOPOLOGY,
    ) -> None:
        self.delivery_limit = delivery_limit
        self.back_off = back_off  # seconds before the first redelivery, doubled each time
        self.topology = tuple(topology)
        self.queues: dict[str, _Queue] = {}
        self.dead_letters: dict[str, list[DeadLetter]] = {}
        self.errors: list[tuple[str, Exception]] = []  # handler failures but TryAgainLater
        self.routed = 0  # copies queued so far: unchanged around a check, nothing came
        self._idle = asyncio.Event()

    def declare(self, spec: QueueSpec) -> _Queue:
        """The queue ``spec`` names, created with its bindings if new (idempotent)."""
        if spec.name not in self.queues:
            self.queues[spec.name] = _Queue(spec.name, spec.bindings)
        return self.queues[spec.name]

    def route(self, message: OutgoingMessage) -> PublishOutcome:
        """Queue a copy of ``message`` on every queue a binding of which matches its key."""
        targets = [
            queue
            for queue in self.queues.values()
            if any(topic_matches(binding, message.routing_key) for binding in queue.bindings)
        ]
        if not targets:
            # What RabbitMQ's basic.return of a mandatory message raises on the real bus.
            frame = aiormq.spec.Basic.Return(
                NO_ROUTE, "NO_ROUTE", EVENTS_EXCHANGE, message.routing_key
            )
            return DeliveryError(None, frame)
        for queue in targets:
            queue.unsettled += 1
            queue.put(_Delivery(message))
        self.routed += len(targets)
        return None

    def pending(self, queue: str) -> int:
        """How many messages of ``queue`` are not settled yet (ready, handled, backing off)."""
        return self.queues[queue].unsettled

    def settle(self, queue: _Queue) -> None:
        """Count one message of ``queue`` done with (acked or dead-lettered)."""
        queue.unsettled -= 1
        self.changed()

    def give_up(self, queue: _Queue, delivery: _Delivery, error: Exception) -> bool:
        """Note a failed delivery; True when it was the last (the message is dead-lettered)."""
        if isinstance(error, TryAgainLater):
            log.info("message.deferred", queue=queue.name, reason=str(error))
        else:
            self.errors.append((queue.name, error))
            log.warning("message.failed", queue=queue.name, exc_info=error)
        if delivery.returned <= self.delivery_limit:
            return False
        letter = DeadLetter(queue.name, delivery.message, delivery.returned, repr(error))
        dead = QueueSpec(queue.name, queue.bindings).dead_letter_name
        self.dead_letters.setdefault(dead, []).append(letter)
        self.settle(queue)
        return True

    @property
    def idle(self) -> bool:
        """True when no queue that has a consumer holds an unsettled message."""
        return all(queue.unsettled == 0 for queue in self.queues.values() if queue.consumers)

    def changed(self) -> None:
        """Wake ``drain`` once every consumed queue is idle."""
        if self.idle:
            self._idle.set()

    async def drain(self) -> None:
        """Return once every consumed queue is idle: nothing ready, handled or backing off.

        A queue nobody consumes keeps its messages, as RabbitMQ's do, and is not waited for.
        """
        self._idle.clear()
        self.changed()
        await self._idle.wait()


class MemoryBus:
    """One service's connection to a ``MemoryBroker``: its consumers, what they handle."""

    _exclusive_names = itertools.count(1)

    def __init__(self, broker: MemoryBroker | None = None, *, prefetch: int = 16) -> None:
        self.broker = broker or MemoryBroker()
        self._prefetch = prefetch
        self._connected = False
        self._consumers: list[asyncio.Task[None]] = []
        self._in_flight: set[asyncio.Task[None]] = set()
        self._exclusive: list[str] = []

    @property
    def is_connected(self) -> bool:
        """True between ``connect`` and ``close``."""
        return self._connected

    async def connect(self) -> None:
        """Declare the broker's topology (every service does, as on RabbitMQ)."""
        for spec in self.broker.topology:
            self.broker.declare(spec)
        self._connected = True

    async def close(self, grace: float = 10.0) -> None:
        """Stop consuming; handlers under way get ``grace`` seconds, then hand theirs back."""
        self._connected = False
        for consumer in self._consumers:
            consumer.cancel()
        await asyncio.gather(*self._consumers, return_exceptions=True)
        self._consumers.clear()
        if self._in_flight:
            _, late = await asyncio.wait(set(self._in_flight), timeout=grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        for name in self._exclusive:  # exclusive queues go with their connection
            self.broker.queues.pop(name, None)
        self._exclusive.clear()
        self.broker.changed()

    async def drain(self) -> None:
        """``MemoryBroker.drain`` of this bus's broker: every consumed queue idle."""
        await self.broker.drain()

    async def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        """Route every message; raise the first refusal (after all were tried)."""
        for outcome in await self.publish_each(messages):
            if outcome is not None:
                raise outcome

    async def publish_each(
        self,
        messages: Sequence[OutgoingMessage],
        *,
        within: float | None = None,  # noqa: ARG002 - the protocol's; routing never waits
    ) -> list[PublishOutcome]:
        """Route each message; its outcome, in order (None = queued, else the refusal)."""
        if not self._connected:
            raise RuntimeError("bus is not connected")
        outcomes = [self.broker.route(message) for message in messages]
        await asyncio.sleep(0)  # a real publish is I/O: let the consumers run, as they would
        return outcomes

    async def consume(self, spec: QueueSpec, handler: Handler) -> None:
        """Deliver every message of ``spec``'s queue (declared if new) to ``handler``."""
        self._start(self.broker.declare(spec), handler)

    async def consume_batches(self, spec: QueueSpec, handler: BatchHandler, size: int) -> None:
        """As ``shared.bus.Bus.consume_batches``: what has arrived, up to ``size``, in one call."""
        if not self._connected:
            raise RuntimeError("bus is not connected")
        queue = self.broker.declare(spec)
        queue.consumers += 1
        self._consumers.append(asyncio.create_task(self._consume_batches(queue, handler, size)))

    async def _consume_batches(self, queue: _Queue, handler: BatchHandler, size: int) -> None:
        try:
            while True:
                batch = [await queue.get()]
                while len(batch) < size and queue.ready:
                    batch.append(queue.ready.popleft())
                task = asyncio.create_task(self._deliver_batch(queue, batch, handler))
                self._in_flight.add(task)
                task.add_done_callback(self._in_flight.discard)
                await asyncio.shield(task)  # batches one after the other
        finally:
            queue.consumers -= 1

    async def _deliver_batch(
        self, queue: _Queue, batch: list[_Delivery], handler: BatchHandler
    ) -> None:
        """Handle the batch in one call; on failure, each delivery alone, concurrently.

        The next batch waits for the handler, never for a back-off (as on RabbitMQ).
        """

        async def alone(envelope: Envelope) -> None:
            await handler((envelope,))

        try:
            if len(batch) == 1:
                error = await _handle(alone, batch[0].message)
                if error is None:
                    self.broker.settle(queue)
                else:
                    self._in_flight_task(self._hand_back(queue, batch[0], error))
                return
            try:
                await handler([Envelope.model_validate_json(d.message.body) for d in batch])
            except Exception as error:  # noqa: BLE001 - any failure: each alone, as on RabbitMQ
                log.info("batch.failed_handled_alone", queue=queue.name, error=repr(error))
            else:
                for _ in batch:
                    self.broker.settle(queue)
                return
        except asyncio.CancelledError:
            for delivery in reversed(batch):  # lost with the connection: redelivered
                queue.put(delivery, first=True)
            raise
        for delivery in batch:
            self._in_flight_task(self._deliver(queue, delivery, alone))

    def _in_flight_task(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def subscribe(self, bindings: Sequence[str], handler: Handler) -> MemoryFeed:
        """Give ``handler`` what matches ``bindings``, on a queue that goes with this connection."""
        name = f"amq.gen-{next(self._exclusive_names)}"
        self._exclusive.append(name)
        queue = self.broker.declare(QueueSpec(name, tuple(bindings)))
        self._start(queue, handler)
        return MemoryFeed(queue, tuple(bindings))

    def _start(self, queue: _Queue, handler: Handler) -> None:
        if not self._connected:
            raise RuntimeError("bus is not connected")
        queue.consumers += 1
        self._consumers.append(asyncio.create_task(self._consume(queue, handler)))

    async def _consume(self, queue: _Queue, handler: Handler) -> None:
        slots = asyncio.Semaphore(self._prefetch)  # unacked messages this consumer may hold
        try:
            while True:
                await slots.acquire()
                try:
                    delivery = await queue.get()
                except asyncio.CancelledError:
                    slots.release()
                    raise
                task = asyncio.create_task(self._deliver(queue, delivery, handler))
                self._in_flight.add(task)
                task.add_done_callback(self._in_flight.discard)
                task.add_done_callback(lambda _: slots.release())
        finally:
            queue.consumers -= 1

    async def _deliver(self, queue: _Queue, delivery: _Delivery, handler: Handler) -> None:
        try:
            error = await _handle(handler, delivery.message)
        except asyncio.CancelledError:
            queue.put(delivery, first=True)  # the ack is lost with the connection: redelivered
            raise
        if error is None:
            self.broker.settle(queue)
        else:
            await self._hand_back(queue, delivery, error)

    async def _hand_back(self, queue: _Queue, delivery: _Delivery, error: Exception) -> None:
        """Requeue a failed delivery after a back-off, or dead-letter it at the limit."""
        delivery.returned += 1
        if self.broker.give_up(queue, delivery, error):
            return
        try:
            # As the real bus: without a pause a transient fault burns through the limit.
            doublings = min(delivery.returned - 1, _MAX_BACK_OFF_DOUBLINGS)
            await asyncio.sleep(self.broker.back_off * 2**doublings)
        finally:
            queue.put(delivery)  # cancelled or not: handed back


async def _handle(handler: Handler, message: OutgoingMessage) -> Exception | None:
    """Run ``handler`` on the message as delivered (parsed from its body); its failure, if any."""
    try:
        await handler(Envelope.model_validate_json(message.body))
    except Exception as error:  # noqa: BLE001 - any failure hands the message back (at least once)
        return error
    return None
