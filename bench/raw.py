"""The raw baseline: aio-pika alone, as the services use it, with no application around it.

Persistent ~1 KB messages published with confirms awaited in pipelined batches to a
quorum queue; then, once all are confirmed, consumed with manual acks on another
connection of the same broker. One after the other: on two cores a consumer in the same
process halves what the publisher gets (1.6k/s together against several times that
alone), and the baseline is meant to be as strong as aio-pika goes.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import aio_pika

BODY = b"x" * 1024


@dataclass(frozen=True)
class RawResult:
    """Messages per second: confirmed by the broker, and consumed + acked."""

    messages: int
    published_per_s: float
    consumed_per_s: float


async def raw_baseline(amqp_url: str, messages: int = 10_000, batch: int = 100) -> RawResult:
    """Publish ``messages`` with pipelined confirms, then consume and ack them all."""
    publisher = await aio_pika.connect(amqp_url)
    consumer = await aio_pika.connect(amqp_url)
    try:
        channel = await publisher.channel(publisher_confirms=True)
        queue = await channel.declare_queue(
            "bench.raw", durable=True, arguments={"x-queue-type": "quorum"}
        )
        receiving = await consumer.channel()
        await receiving.set_qos(prefetch_count=256)
        consumed_queue = await receiving.get_queue("bench.raw")
        done = asyncio.Event()
        received = 0

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            nonlocal received
            await message.ack()
            received += 1
            if received == messages:
                done.set()

        started = time.perf_counter()
        for first in range(0, messages, batch):
            await asyncio.gather(
                *(
                    channel.default_exchange.publish(
                        aio_pika.Message(BODY, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                        routing_key=queue.name,
                    )
                    for _ in range(min(batch, messages - first))
                )
            )
        published = time.perf_counter()
        await consumed_queue.consume(on_message)
        await asyncio.wait_for(done.wait(), timeout=120)
        consumed = time.perf_counter()
    finally:
        await publisher.close()
        await consumer.close()
    return RawResult(
        messages=messages,
        published_per_s=messages / (published - started),
        consumed_per_s=messages / (consumed - published),
    )
