"""The message bus on RabbitMQ through aio-pika.

- one durable topic exchange, ``coord.events``; the routing key is the event type;
- quorum queues with a delivery limit, dead-lettering to ``<queue>.dead``;
- exact bindings, built from ``shared.contracts.registry`` (one place says where a type goes);
- persistent messages, publisher confirms awaited together (pipelined), each
  message's outcome known on its own (``publish_each``);
- manual acks through ``message.process()``; a failing handler's message is
  requeued after a short back-off, until the delivery limit dead-letters it.

Every service declares the whole topology at start, so an event published
before its consumer first ran is queued, not dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

import aio_pika
import structlog
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractRobustConnection,
)

from shared.broker_nodes import connect_cluster
from shared.consumer import (
    BatchHandler,
    Handler,
    attempt,
    hand_back,
    handle_alone,
    handled_together,
)
from shared.contracts.registry import (
    INGEST_VIEWS,
    NOTIFIER_INBOX,
    ROUTER_INBOX,
    ROUTES,
    bindings,
    in_decisions,
)
from shared.envelope import Envelope

EVENTS_EXCHANGE = "coord.events"
DEAD_LETTER_EXCHANGE = "coord.dead"

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class QueueSpec:
    """A service's work queue and the event types bound to it."""

    name: str
    bindings: tuple[str, ...]

    @property
    def dead_letter_name(self) -> str:
        """Where messages go after the delivery limit."""
        return f"{self.name}.dead"


ROUTER_QUEUE = QueueSpec(ROUTER_INBOX, bindings(ROUTER_INBOX))
NOTIFIER_QUEUE = QueueSpec(NOTIFIER_INBOX, bindings(NOTIFIER_INBOX))
INGEST_VIEWS_QUEUE = QueueSpec(INGEST_VIEWS, bindings(INGEST_VIEWS))
TOPOLOGY: tuple[QueueSpec, ...] = (ROUTER_QUEUE, NOTIFIER_QUEUE, INGEST_VIEWS_QUEUE)

# Bindings of earlier releases, removed at start: a durable queue keeps its bindings
# across restarts, and these wildcards would deliver types nobody registered for it.
RETIRED_BINDINGS: dict[str, tuple[str, ...]] = {
    # The wildcards of before the registry; alert.raised, whose view ingest writes itself;
    # the router's events, which come in router.decisions now.
    INGEST_VIEWS: (
        "alert.#",
        "notification.#",
        "message.#",
        "recommendation.#",
        "alert.raised",
        *sorted(t for t in ROUTES if in_decisions(t)),
    ),
}

#: What ``publish_each`` answers per message: None when confirmed, else why it failed.
PublishOutcome = Exception | None


def _as_outcome(result: BaseException | None) -> PublishOutcome:
    if isinstance(result, asyncio.CancelledError):
        # One publish cancelled under us (say its channel closed): had this task been
        # cancelled, gather would have raised. A transient failure, not our cancellation.
        return ConnectionError(f"publish cancelled: {result!r}")
    if result is not None and not isinstance(result, Exception):
        raise result  # KeyboardInterrupt, SystemExit: not an outcome
    return result


@dataclass(frozen=True)
class OutgoingMessage:
    """A serialised envelope ready to publish (as stored in an outbox)."""

    message_id: str
    routing_key: str
    body: bytes


def to_outgoing(envelope: Envelope) -> OutgoingMessage:
    """Serialise an envelope for the bus."""
    return OutgoingMessage(
        message_id=str(envelope.id),
        routing_key=envelope.type,
        body=envelope.model_dump_json().encode(),
    )


class Bus:
    """One robust connection: a confirming publisher channel and consumer channels."""

    def __init__(self, url: str | Sequence[str], *, prefetch: int, delivery_limit: int) -> None:
        # One node's URL, or every node of one cluster (shared.broker_nodes).
        self._urls = [url] if isinstance(url, str) else list(url)
        self._prefetch = prefetch
        self._delivery_limit = delivery_limit
        self._connection: AbstractRobustConnection | None = None
        self._publish_channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        self._batchers: list[asyncio.Task[None]] = []

    async def connect(self) -> None:
        """Connect to the first node that answers and declare the topology."""
        self._connection = await connect_cluster(self._urls)
        # on_return_raises: an unroutable message (say, a binding not yet back after a
        # broker restart) must fail the publish so the outbox keeps it; by default
        # aio-pika hands the returned message back as if it had been confirmed.
        self._publish_channel = await self._connection.channel(
            publisher_confirms=True, on_return_raises=True
        )
        self._exchange = await self._declare_topology(self._publish_channel)

    async def close(self, grace: float = 10.0) -> None:
        """Let handlers under way finish (up to ``grace`` seconds), then close the connection."""
        for batcher in self._batchers:  # takes no new batch; the one under way is in flight
            batcher.cancel()
        await asyncio.gather(*self._batchers, return_exceptions=True)
        self._batchers.clear()
        if self._in_flight:
            await asyncio.wait(set(self._in_flight), timeout=grace)
        if self._connection is not None:
            await self._connection.close()
            self._connection = None

    async def _run_to_completion(
        self, queue: str, message: AbstractIncomingMessage, handler: Handler
    ) -> None:
        """Handle a message in a task of its own, which the channel cannot cancel.

        aio-pika cancels a consumer's callbacks when its channel closes (say the broker
        stops). A handler cancelled half-way may have done what cannot be rolled back - a
        notifier that claimed a notification and posted the webhook - so it runs to its
        end; the ack is then lost with the channel, and the broker redelivers the message
        to an idempotent consumer.
        """
        await asyncio.shield(self._in_flight_task(handle_alone(queue, message, handler)))

    async def _run_batch_to_completion(
        self,
        queue: str,
        messages: Sequence[AbstractIncomingMessage],
        handler: BatchHandler,
        alone: Handler,
    ) -> None:
        """A batch in a task the channel cannot cancel (see ``_run_to_completion``).

        On failure each message goes alone, concurrently, and the next batch waits
        neither for them nor for a back-off.
        """

        async def batch() -> None:
            if len(messages) == 1:
                if await attempt(queue, messages[0], alone):
                    self._in_flight_task(hand_back(queue, messages[0]))
            elif not await handled_together(queue, messages, handler):
                for message in messages:
                    self._in_flight_task(handle_alone(queue, message, alone))

        await asyncio.shield(self._in_flight_task(batch()))

    def _in_flight_task(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(work)
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)
        return task

    @property
    def is_connected(self) -> bool:
        """True while the connection is open (False during a broker outage)."""
        return self._connection is not None and not self._connection.is_closed

    async def _declare_topology(self, channel: AbstractChannel) -> AbstractExchange:
        exchange = await channel.declare_exchange(
            EVENTS_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
        )
        dead = await channel.declare_exchange(
            DEAD_LETTER_EXCHANGE, aio_pika.ExchangeType.DIRECT, durable=True
        )
        for spec in TOPOLOGY:
            dead_queue = await channel.declare_queue(
                spec.dead_letter_name, durable=True, arguments={"x-queue-type": "quorum"}
            )
            await dead_queue.bind(dead, routing_key=spec.name)
            queue = await channel.declare_queue(
                spec.name, durable=True, arguments=self._queue_arguments(spec)
            )
            for binding in spec.bindings:
                await queue.bind(exchange, routing_key=binding)
            for retired in RETIRED_BINDINGS.get(spec.name, ()):
                await queue.unbind(exchange, routing_key=retired)  # a no-op when absent
        return exchange

    def _queue_arguments(self, spec: QueueSpec) -> dict[str, Any]:
        # No x-quorum-initial-group-size: RabbitMQ places a new quorum queue on every node
        # of the cluster (3 replicas on 3), and refuses to declare an existing queue again
        # with a group size it was not created with (docs/deploy.md).
        return {
            "x-queue-type": "quorum",
            "x-delivery-limit": self._delivery_limit,
            "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
            "x-dead-letter-routing-key": spec.name,
        }

    async def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        """Publish persistent messages and wait until the broker confirmed them all.

        Raises the first failure (after every message has its answer).
        """
        for outcome in await self.publish_each(messages):
            if outcome is not None:
                raise outcome

    async def publish_each(
        self, messages: Sequence[OutgoingMessage], *, within: float | None = None
    ) -> list[PublishOutcome]:
        """Publish persistent messages; each one's outcome, in order (None = confirmed).

        The publishes are sent back to back and their confirms awaited together,
        so a batch costs about one round trip, not one per message; one message
        refused (see ``shared.refusals``) or timed out does not hide the others' fate.
        ``within`` bounds each message (its outcome is then a ``TimeoutError``).
        """
        if self._exchange is None:
            raise RuntimeError("bus is not connected")
        exchange = self._exchange

        async def one(m: OutgoingMessage) -> None:
            # asyncio.timeout, not wait_for: the publish stays in this task, which
            # aiormq needs to undo a publish cancelled before it was written.
            async with asyncio.timeout(within):
                await exchange.publish(
                    aio_pika.Message(
                        m.body,
                        message_id=m.message_id,
                        type=m.routing_key,
                        content_type="application/json",
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    ),
                    routing_key=m.routing_key,
                    mandatory=True,
                )

        outcomes = await asyncio.gather(*(one(m) for m in messages), return_exceptions=True)
        return [_as_outcome(outcome) for outcome in outcomes]

    async def _work_queue(self, spec: QueueSpec) -> aio_pika.abc.AbstractQueue:
        """``spec``'s queue on a consumer channel of its own, ``prefetch`` unacked at a time."""
        if self._connection is None:
            raise RuntimeError("bus is not connected")
        channel = await self._connection.channel()
        await channel.set_qos(prefetch_count=self._prefetch)
        return await channel.declare_queue(
            spec.name, durable=True, arguments=self._queue_arguments(spec)
        )

    async def consume(self, spec: QueueSpec, handler: Handler) -> None:
        """Deliver every message of ``spec``'s queue to ``handler``, prefetch at a time."""
        queue = await self._work_queue(spec)

        async def on_message(message: AbstractIncomingMessage) -> None:
            await self._run_to_completion(spec.name, message, handler)

        await queue.consume(on_message)

    async def consume_batches(self, spec: QueueSpec, handler: BatchHandler, size: int) -> None:
        """Deliver ``spec``'s messages to ``handler`` up to ``size`` at a time, at least once.

        A batch is what has arrived (up to ``size``) when the previous one is done, so
        under load one transaction carries many messages and when idle a message goes
        alone at once. Batches run one after the other, each message in delivery order.
        A batch that fails is not retried as a batch: each of its messages is handled
        alone, as ``consume`` would, so one poison message is backed off and
        dead-lettered without holding back the others.
        """
        queue = await self._work_queue(spec)
        arrived: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()

        async def on_message(message: AbstractIncomingMessage) -> None:
            arrived.put_nowait(message)  # settled by the batcher

        async def alone(envelope: Envelope) -> None:
            await handler((envelope,))

        async def batches() -> None:
            while True:
                batch = [await arrived.get()]
                while len(batch) < size and not arrived.empty():
                    batch.append(arrived.get_nowait())
                await self._run_batch_to_completion(spec.name, batch, handler, alone)

        self._batchers.append(asyncio.create_task(batches()))
        await queue.consume(on_message)

    async def subscribe(self, bindings: Sequence[str], handler: Handler) -> BoundFeed:
        """Give ``handler`` a live copy of every matching event, for this process only.

        A server-named, exclusive queue that disappears with the connection (the
        robust connection re-declares it after a reconnect). For live views such
        as the in-app stream: what is missed while disconnected is not replayed.
        The feed it answers unbinds the queue while nobody listens (``pause``).
        """
        if self._connection is None or self._exchange is None:
            raise RuntimeError("bus is not connected")
        channel = await self._connection.channel()
        await channel.set_qos(prefetch_count=self._prefetch)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        exchange = await channel.get_exchange(EVENTS_EXCHANGE)
        feed = BoundFeed(queue, exchange, tuple(bindings))
        await feed.resume()

        async def on_message(message: AbstractIncomingMessage) -> None:
            await handle_alone(queue.name, message, handler)

        await queue.consume(on_message)
        return feed


@dataclass
class BoundFeed:
    """A subscription's queue, bound to its events while resumed (``LiveFeed``)."""

    queue: aio_pika.abc.AbstractQueue
    exchange: aio_pika.abc.AbstractExchange
    bindings: tuple[str, ...]

    async def pause(self) -> None:
        """Unbind: the broker routes nothing to the queue."""
        for binding in self.bindings:
            await self.queue.unbind(self.exchange, routing_key=binding)

    async def resume(self) -> None:
        """Bind again (binding twice is a no-op for the broker)."""
        for binding in self.bindings:
            await self.queue.bind(self.exchange, routing_key=binding)


async def publish_once(
    url: str | Sequence[str],
    envelopes: Sequence[Envelope],
    *,
    delivery_limit: int,
    timeout: float,  # noqa: ASYNC109 - each of connect and publish gets this bound
) -> None:
    """Connect, publish with confirms, close: for one-off commands such as the CLI's."""
    bus = Bus(url, prefetch=1, delivery_limit=delivery_limit)
    await asyncio.wait_for(bus.connect(), timeout)
    try:
        await asyncio.wait_for(bus.publish([to_outgoing(e) for e in envelopes]), timeout)
    finally:
        await bus.close()
