"""``Database``: a migrated database of one test, as the ``db`` fixture yields it.

The fixture lives in tests/integration/conftest.py; the class is here so that test
modules and the other support modules can name its type.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker


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
