"""A queue of the test's own on ``coord.events``, to see what the services publish."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import aio_pika
from aio_pika.abc import AbstractQueue

from shared.bus import EVENTS_EXCHANGE, Bus


@contextlib.asynccontextmanager
async def tapped(amqp_url: str, name: str, routing_key: str) -> AsyncIterator[AbstractQueue]:
    """A queue of the test's own bound to ``routing_key`` (the topology declared first)."""
    bus = Bus(amqp_url, prefetch=1, delivery_limit=10)
    await bus.connect()
    await bus.close()
    connection = await aio_pika.connect(amqp_url, timeout=10)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(name, durable=False)
        await queue.bind(await channel.get_exchange(EVENTS_EXCHANGE), routing_key=routing_key)
        yield queue
    finally:
        await connection.close()
