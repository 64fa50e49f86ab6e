"""The bus on several broker nodes (``COORD_AMQP_URLS``): the first that answers at start,
and the next one when its node goes away, with its consumers and publishing restored.

The "nodes" are TCP proxies in front of the one RabbitMQ of the test machine
(tests/support/tcp_proxy.py): to the client, killing a proxy is losing a node while the
queues live on. The 3-node cluster itself is exercised by the fault suite.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from yarl import URL

from shared.bus import ROUTER_QUEUE, Bus, to_outgoing
from shared.envelope import Envelope
from tests.support.builders import raised_envelope
from tests.support.tcp_proxy import TcpProxy, proxies

pytestmark = pytest.mark.integration


def through(proxy: TcpProxy, amqp_url: str) -> str:
    return str(URL(amqp_url).with_host("127.0.0.1").with_port(proxy.port))


@pytest.fixture
async def nodes(amqp_url: str) -> AsyncIterator[list[TcpProxy]]:
    broker = URL(amqp_url)
    async with proxies(broker.host or "127.0.0.1", broker.port or 5672, 2) as started:
        yield started


async def until(holds: Callable[[], bool], what: str, within: float) -> None:
    """Return once ``holds()``; fail naming ``what`` after ``within`` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        if holds():
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {within} s: {what}")
        await asyncio.sleep(0.05)


async def consumed_by(bus: Bus, envelopes: list[Envelope], seen: list[str]) -> None:
    await bus.publish([to_outgoing(e) for e in envelopes])
    wanted = {str(e.id) for e in envelopes}
    await until(lambda: wanted <= set(seen), "consumed", 30)


async def test_the_bus_starts_on_the_first_node_that_answers(
    amqp_url: str, nodes: list[TcpProxy]
) -> None:
    dead, alive = nodes
    await dead.kill()
    bus = Bus([through(dead, amqp_url), through(alive, amqp_url)], prefetch=10, delivery_limit=3)
    await bus.connect()
    try:
        assert bus.is_connected
        assert alive.connections == 1
        await bus.publish([to_outgoing(raised_envelope())])
    finally:
        await bus.close()


async def test_a_lost_node_is_left_for_the_next_with_consumers_restored(
    amqp_url: str, nodes: list[TcpProxy]
) -> None:
    first, second = nodes
    bus = Bus([through(first, amqp_url), through(second, amqp_url)], prefetch=10, delivery_limit=3)
    seen: list[str] = []

    async def handle(envelope: Envelope) -> None:
        seen.append(str(envelope.id))

    await bus.connect()
    try:
        await bus.consume(ROUTER_QUEUE, handle)
        await consumed_by(bus, [raised_envelope()], seen)
        assert (first.connections, second.connections) == (1, 0)

        await first.kill()  # the node goes away for good

        await until(lambda: bus.is_connected and second.connections > 0, "on the next node", 60)
        # Publishing with confirms and the consumer both work again, on the other node.
        after = [raised_envelope() for _ in range(3)]
        for attempt in range(100):
            try:
                await consumed_by(bus, after, seen)
                break
            except (ConnectionError, RuntimeError):  # channels still being restored
                if attempt == 99:
                    raise
                await asyncio.sleep(0.1)
        assert second.connections >= 1
    finally:
        await bus.close()
