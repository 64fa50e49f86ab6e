"""Running services: their shared infrastructure, HTTP servers and shutdown.

``coord up`` runs the three service units in one process, ``coord run NAME``
runs one; both go through ``run_units``.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog
import uvicorn
import uvloop
from fastapi import FastAPI
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential

from shared.bus import Bus
from shared.bus_protocol import MessageBus
from shared.db import create_engine, ping, session_factory
from shared.health import DEGRADED, check, check_value
from shared.http_server import HeaderLimits, server_config
from shared.outbox_relay import OutboxRelay
from shared.settings import Settings

log = structlog.get_logger(__name__)


class ServiceUnit(Protocol):
    """What ``run_units`` needs of a service."""

    name: str
    port: int
    app: FastAPI

    async def start(self) -> None:
        """Connect to its dependencies and start consuming."""

    def drain(self) -> None:
        """End what would hold its HTTP server open (live streams): the server is stopping."""

    async def stop(self) -> None:
        """Stop consuming and release its dependencies."""


@dataclass
class Infrastructure:
    """A service's database, bus and outbox relay."""

    service: str
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    bus: MessageBus
    relay: OutboxRelay
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    async def open(
        cls, settings: Settings, service: str, outbox: Table, bus: MessageBus | None = None
    ) -> Infrastructure:
        """Connect to the database and the broker (waiting for the broker), start the relay.

        ``bus``: another bus than RabbitMQ's at ``settings.broker_nodes`` (tests/scenarios hand
        each unit a ``shared.memory_bus.MemoryBus``); it is connected here all the same.
        """
        engine = create_engine(settings.database_url, pool_size=settings.db_pool_size)
        sessions = session_factory(engine)
        if bus is None:
            bus = Bus(
                settings.broker_nodes,
                prefetch=settings.prefetch,
                delivery_limit=settings.delivery_limit,
            )
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type((ConnectionError, OSError)),
            wait=wait_exponential(multiplier=0.2, max=5),
            before_sleep=lambda state: log.warning(
                "broker.unreachable", service=service, attempt=state.attempt_number
            ),
        ):
            with attempt:
                await bus.connect()
        relay = OutboxRelay(
            service,
            outbox,
            sessions,
            bus,
            batch_size=settings.outbox_batch_size,
            poll_interval=settings.outbox_poll_interval,
        )
        infrastructure = cls(service, engine, sessions, bus, relay)
        infrastructure.spawn(relay.run())
        return infrastructure

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run a background coroutine until ``close``."""
        self._tasks.append(asyncio.create_task(coroutine))

    async def readiness(self) -> dict[str, str]:
        """Whether the database and the broker answer, and whether the outbox has parked rows."""

        async def broker() -> None:
            if not self.bus.is_connected:
                raise ConnectionError("broker connection is closed")

        async def outbox() -> str:
            parked = await self.relay.parked_count()
            return "ok" if not parked else f"{DEGRADED}: {parked} parked"

        return {
            "database": await check(lambda: ping(self.engine)),
            "broker": await check(broker),
            "outbox": await check_value(outbox),
        }

    async def close(self) -> None:
        """Stop background work, then close the bus and the database."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.relay.close()
        await self.bus.close()
        await self.engine.dispose()


def serve(units: Sequence[ServiceUnit], host: str, limits: HeaderLimits) -> None:
    """Run ``run_units`` on uvloop until SIGTERM/SIGINT: what ``coord up`` and ``coord run`` do.

    uvloop (and httptools, which uvicorn picks up) take the event loop's and HTTP
    parsing's share of the services' CPU down by about a third (docs/performance.md).
    """
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(run_units(units, host, limits))


class _Server(uvicorn.Server):
    # Several servers share one process; run_units owns the signal handling.
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def run_units(units: Sequence[ServiceUnit], host: str, limits: HeaderLimits) -> None:
    """Start the units and their HTTP servers; stop all cleanly on SIGTERM/SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    started: list[ServiceUnit] = []
    servers: list[_Server] = []
    tasks: list[asyncio.Task[None]] = []
    try:
        for unit in units:
            await unit.start()
            started.append(unit)
        for unit in units:
            server = _Server(server_config(unit.app, host, unit.port, limits))
            servers.append(server)
            tasks.append(asyncio.create_task(server.serve()))
            log.info("service.listening", service=unit.name, url=f"http://{host}:{unit.port}")
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait([stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
    finally:
        log.info("service.stopping", services=[u.name for u in started])
        for server in servers:
            server.should_exit = True
        # A server waits for its open responses; a live stream would never end by itself.
        for unit in started:
            unit.drain()
        await asyncio.gather(*tasks, return_exceptions=True)
        for unit in reversed(started):
            await unit.stop()
