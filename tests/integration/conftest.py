"""Fixtures of the integration suite: a migrated database per test (both backends).

Builds on tests/conftest.py (``database_url``, ``amqp_url``, ``rabbit_api``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aio_pika
import pytest
from aio_pika.abc import AbstractQueue
from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from coord.migrate import upgrade
from shared.bus import EVENTS_EXCHANGE, Bus
from shared.db import create_engine, session_factory


@dataclass
class Database:
    """A migrated database of one test."""

    url: str
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    async def count(self, table: Table | type, *where: object) -> int:
        selectable = table if isinstance(table, Table) else table.__table__  # type: ignore[attr-defined]
        query = select(func.count()).select_from(selectable)
        if where:
            query = query.where(*where)  # type: ignore[arg-type]
        async with self.sessions() as session:
            return int((await session.execute(query)).scalar_one())


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """``database_url`` migrated to head (Alembic's env runs its own event loop: a thread)."""
    await asyncio.to_thread(upgrade, database_url)
    engine = create_engine(database_url)
    try:
        yield Database(database_url, engine, session_factory(engine))
    finally:
        await engine.dispose()


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
