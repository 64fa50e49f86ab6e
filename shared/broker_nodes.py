"""One robust connection to a RabbitMQ cluster of several nodes (``COORD_AMQP_URLS``).

aio-pika's robust connection reconnects to the one URL it was given: with that node
down for good (a base without power) a service would wait for it forever while two
other nodes of the cluster serve the same queues. :class:`ClusterConnection` moves to
the next node's URL each time an attempt to connect fails or the connection is lost,
so every reconnect goes round the nodes in order; channels and consumers are restored
on whichever node answers, as aio-pika restores them on one.

It hooks aio-pika's private ``__connect_transport`` (one attempt to connect), so
``tests/integration/shared/test_broker_nodes.py`` pins the behaviour on the version
in ``uv.lock``: an unreachable first node, and a node that goes away while connected.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import structlog
from aio_pika import RobustConnection
from aio_pika.exceptions import CONNECTION_EXCEPTIONS
from yarl import URL

log = structlog.get_logger(__name__)

# What a failed attempt to reach one node raises (what aio-pika itself retries on).
UNREACHABLE: tuple[type[BaseException], ...] = tuple(CONNECTION_EXCEPTIONS)


def shown(url: URL | str) -> str:
    """A node's URL as logs may show it: without its password."""
    parsed = URL(str(url))
    return str(parsed.with_password("******")) if parsed.password else str(parsed)


class ClusterConnection(RobustConnection):
    """A robust connection that goes round ``urls`` on every reconnect, from ``first``."""

    def __init__(self, urls: Sequence[str], first: int = 0, **kwargs: Any) -> None:
        self._nodes = [URL(url) for url in urls]
        self._at = first % len(self._nodes)
        super().__init__(self._nodes[self._at], **kwargs)

    def _next_node(self, why: str) -> None:
        if len(self._nodes) > 1:
            self._at = (self._at + 1) % len(self._nodes)
            self.url = self._nodes[self._at]
            log.warning("broker.next_node", node=shown(self.url), why=why)

    # aio-pika's one attempt to connect (name-mangled private method of RobustConnection).
    async def _RobustConnection__connect_transport(self) -> None:  # noqa: N802
        try:
            await super()._RobustConnection__connect_transport()  # type: ignore[misc]
        except UNREACHABLE:
            self._next_node("unreachable")
            raise

    async def _on_connection_close(self, closing: asyncio.Future[Any]) -> None:
        # Lost while connected: the node may be gone for hours; try the next one first.
        if not self._close_called:
            self._next_node("connection lost")
        await super()._on_connection_close(closing)


async def connect_cluster(urls: Sequence[str]) -> ClusterConnection:
    """A connection to the first node of ``urls`` that answers, trying each in order.

    Raises the last node's error when none answers (the caller retries, as for one node).
    """
    failure: BaseException | None = None
    for first in range(len(urls)):
        connection = ClusterConnection(urls, first)
        try:
            await connection.connect()
        except UNREACHABLE as error:
            failure = error
            await connection.close()
            continue
        return connection
    assert failure is not None  # noqa: S101 - urls is never empty (Settings.broker_nodes)
    raise failure
