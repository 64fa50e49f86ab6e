"""The three services in one process on one bus and one database: the cross-service scenarios.

``running_mission`` starts ingest, the router and the notifier as ``coord up`` does (each
unit's own ``start()``), each with a bus connection of its own:

- ``memory`` (the fast phase): a ``MemoryBus`` on one ``MemoryBroker``, handed to each unit.
  ``settle`` returns when nothing is left in flight, so a scenario checks at once;
- ``rabbitmq`` (the e2e phase): RabbitMQ's ``Bus`` on the test's vhost, built by the units
  from their settings as in production; the same checks are polled until they hold.

People call ingest's API in-process (httpx's ASGITransport) with bearer tokens; webhooks go
over HTTP to a ``WebhookReceiver``; the database is SQLite, copied from a migrated template.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import yaml
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.ingest.service import IngestService
from services.ingest.tables import OUTBOX as INGEST_OUTBOX
from services.notifier.service import NotifierService
from services.notifier.tables import OUTBOX as NOTIFIER_OUTBOX
from services.router.service import RouterService
from services.router.tables import OUTBOX as ROUTER_OUTBOX
from services.router.timers import next_due_at
from shared.db import create_engine, session_factory
from shared.envelope import utc_now
from shared.memory_bus import MemoryBroker, MemoryBus
from shared.runtime import ServiceUnit
from shared.settings import Settings
from tests.support.directories import DEMO_DIRECTORY
from tests.support.receiver import TEST_WEBHOOK_SECRET, WebhookReceiver
from tests.support.tokens import JWT_SECRET, bearer

T = TypeVar("T")

MEMORY, RABBITMQ = "memory", "rabbitmq"
WEBHOOK_SECRET = TEST_WEBHOOK_SECRET
OUTBOXES = (INGEST_OUTBOX, ROUTER_OUTBOX, NOTIFIER_OUTBOX)
POLL_TIMEOUT = 30.0  # seconds a check may take to hold on RabbitMQ (a liveness bound)
RABBITMQ_GRACE = 0.5  # seconds for what may still be on its way once the outboxes are empty


def copy_database(template: Path, target: Path) -> str:
    """A copy of the migrated SQLite ``template`` at ``target``, as an async URL."""
    with (
        contextlib.closing(sqlite3.connect(template)) as source,
        contextlib.closing(sqlite3.connect(target)) as copy,
    ):
        source.backup(copy)
    return f"sqlite+aiosqlite:///{target}"


def scenario_directory(sink_url: str, level_delay: str) -> dict[str, Any]:
    """The demo directory, its webhooks on the sink; poc-urgent's level 1 ``level_delay`` long."""
    data: dict[str, Any] = yaml.safe_load(DEMO_DIRECTORY.read_text(encoding="utf-8"))
    for person in data["people"]:
        for contact in person["contacts"]:
            if contact["channel"] == "webhook":
                contact["address"] = f"{sink_url}/{person['id']}"
    [urgent] = [p for p in data["escalation_policies"] if p["id"] == "poc-urgent"]
    urgent["levels"][0]["delay"] = level_delay  # the others stay long: one step at a time
    return data


@dataclass
class Mission:
    """The running system as a scenario sees it: people's clients, the webhooks, settling."""

    kind: str  # MEMORY or RABBITMQ
    ingest: IngestService
    sink: WebhookReceiver
    engine: AsyncEngine
    broker: MemoryBroker | None
    _clients: list[httpx.AsyncClient] = field(default_factory=list)

    def client(self, person_id: str) -> httpx.AsyncClient:
        """An API client signed in as ``person_id`` (closed with the mission)."""
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.ingest.app),
            base_url="http://ingest.test",
            headers=bearer(person_id),
        )
        self._clients.append(client)
        return client

    async def settle(self) -> None:
        """Return once what is under way is done: every outbox published, every queue idle.

        On the memory bus exactly: idle before and after the outboxes were seen empty, with
        nothing routed in between, so no handler ran that could have staged more. On
        RabbitMQ the outboxes are seen empty, then a grace for what is still on its way.
        """
        broker = self.broker
        if broker is None:
            await _poll(self._outboxes_empty, "the outboxes published")
            await asyncio.sleep(RABBITMQ_GRACE)
            return

        async def quiet() -> bool:
            try:
                async with asyncio.timeout(POLL_TIMEOUT):
                    await broker.drain()
            except TimeoutError:
                pending = {name: broker.pending(name) for name in broker.queues}
                raise AssertionError(f"the bus is still busy: {pending}") from None
            idle_since, routed = broker.idle, broker.routed
            empty = await self._outboxes_empty()
            return idle_since and empty and broker.idle and broker.routed == routed

        await _poll(quiet, "nothing left in flight", interval=0.005)

    async def eventually(self, check: Callable[[], Awaitable[T]]) -> T:
        """``check``'s result once it holds (stops raising AssertionError).

        On the memory bus it is checked once, after ``settle``: what is not there then never
        comes. On RabbitMQ it is polled, up to ``POLL_TIMEOUT`` seconds.
        """
        deadline = time.monotonic() + POLL_TIMEOUT
        while True:
            await self.settle()
            try:
                return await check()
            except AssertionError:
                if self.broker is not None or time.monotonic() > deadline:
                    raise

    async def after(self, moment: datetime) -> None:
        """Return once ``moment`` has passed, the router fired every timer due by then, and
        what they started has settled (timers run on the clock, not on the bus)."""
        await asyncio.sleep(max((moment - utc_now()).total_seconds(), 0.0))
        sessions = session_factory(self.engine)

        async def fired() -> bool:
            due = await next_due_at(sessions)
            return due is None or due > moment

        await _poll(fired, f"the timers due by {moment.isoformat()} fired")
        await self.settle()

    async def _outboxes_empty(self) -> bool:
        async with self.engine.connect() as connection:
            for outbox in OUTBOXES:
                if await connection.scalar(select(func.count()).select_from(outbox)):
                    return False
        return True


async def _poll(
    condition: Callable[[], Awaitable[bool]], what: str, interval: float = 0.02
) -> None:
    deadline = time.monotonic() + POLL_TIMEOUT
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {POLL_TIMEOUT} s: {what}")
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def running_mission(
    kind: str, database_url: str, workdir: Path, level_delay: str, amqp_url: str | None = None
) -> AsyncIterator[Mission]:
    """The three units started on ``kind``'s bus; stopped, and the bus checked, on exit."""
    async with WebhookReceiver() as sink:
        directory = workdir / "directory.yaml"
        directory.write_text(yaml.safe_dump(scenario_directory(sink.base_url, level_delay)))
        settings = Settings(
            env="development",
            database_url=database_url,
            amqp_url=amqp_url or "amqp://memory.invalid/",  # on the memory bus, never dialled
            directory=directory,
            jwt_secret=JWT_SECRET,
            webhook_secret=WEBHOOK_SECRET,
            rate_limit="1000000/minute",
            db_pool_size=5,
            timer_poll_interval=0.05,
            outbox_poll_interval=0.2,
            webhook_backoff_initial=0.01,
            webhook_backoff_max=0.05,
        )
        broker = MemoryBroker(delivery_limit=settings.delivery_limit) if kind == MEMORY else None

        def bus() -> MemoryBus | None:
            return MemoryBus(broker, prefetch=settings.prefetch) if broker is not None else None

        ingest = IngestService(settings, bus=bus())
        units: list[ServiceUnit] = [
            ingest,
            RouterService(settings, bus=bus()),
            NotifierService(settings, bus=bus()),
        ]
        engine = create_engine(database_url)
        mission = Mission(kind, ingest, sink, engine, broker)
        started: list[ServiceUnit] = []
        try:
            for unit in units:
                await unit.start()
                started.append(unit)
            yield mission
            if broker is not None:
                # At least once, and nothing lost: no handler failed, nothing dead-lettered.
                assert broker.errors == [], broker.errors
                assert broker.dead_letters == {}, broker.dead_letters
        finally:
            for client in mission._clients:
                await client.aclose()
            for unit in reversed(started):
                await unit.stop()
            await engine.dispose()
