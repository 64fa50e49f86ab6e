"""A TCP proxy in the test's event loop: a stand-in for one broker node that can die.

Two proxies in front of one RabbitMQ are, to a client, two nodes of a cluster: killing
one (``kill``: stop listening and cut every connection) is a node lost while the client
is connected to it, with the queues still served by the other.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class TcpProxy:
    """Forwards 127.0.0.1:<port> to ``target``; ``kill`` makes it a dead node."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.connections = 0  # accepted so far: which node a client used
        self.port = 0  # the port it listens on (kept once dead: a node's address stays)

    async def start(self) -> None:
        """Listen on an ephemeral port of 127.0.0.1."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def kill(self) -> None:
        """Stop listening and cut every connection, as a node that lost power."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        if self._server is not None:
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, upstream_writer}
        await asyncio.gather(
            self._pipe(reader, upstream_writer),
            self._pipe(upstream_reader, writer),
            return_exceptions=True,
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            self._writers.discard(writer)
            writer.transport.abort()


@contextlib.asynccontextmanager
async def proxies(host: str, port: int, count: int) -> AsyncIterator[list[TcpProxy]]:
    """``count`` proxies to ``host:port``, killed on exit."""
    started = [TcpProxy(host, port) for _ in range(count)]
    for proxy in started:
        await proxy.start()
    try:
        yield started
    finally:
        for proxy in started:
            await proxy.kill()
