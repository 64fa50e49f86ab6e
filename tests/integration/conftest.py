"""Fixtures of the integration suite: a migrated database per test (both backends).

Builds on tests/conftest.py (``database_url``, ``amqp_url``, ``rabbit_api``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from coord.migrate import upgrade
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
