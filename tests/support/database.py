"""``Database``: a migrated database of one test, as the ``db`` fixture yields it.

The fixture lives in tests/integration/conftest.py; the class is here so that test
modules and the other support modules can name its type. ``Templates`` migrates one
database per backend and process, and gives each test a copy of it: migrating every
test's database took longer than many of the tests.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from coord.migrate import upgrade

#: Where the tests create and drop their PostgreSQL databases.
PG_ADMIN_URL = os.environ.get(
    "COORD_TEST_PG_URL", "postgresql://coord:coord@127.0.0.1:5432/postgres"
)


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


@dataclass
class Templates:
    """A database migrated to head once per backend, copied into each test's empty one.

    SQLite: the template file is copied over the test's path. PostgreSQL: the test's
    database is re-created ``TEMPLATE`` the migrated one (a file copy on the server).
    """

    directory: Path
    _sqlite: Path | None = None
    _postgresql: str | None = None
    _created: list[str] = field(default_factory=list)

    def migrate(self, url: str) -> None:
        """Bring the empty database at ``url`` to the head revision (blocking)."""
        if url.startswith("sqlite"):
            shutil.copyfile(self._sqlite_template(), urlsplit(url).path.removeprefix("/"))
            return
        name = urlsplit(url).path.lstrip("/")
        template = self._postgresql_template(url)
        asyncio.run(
            _pg_admin(
                f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
                f'CREATE DATABASE "{name}" TEMPLATE "{template}"',
            )
        )

    def drop(self) -> None:
        """Drop the PostgreSQL template (the SQLite one goes with its directory)."""
        for name in self._created:
            asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def _sqlite_template(self) -> Path:
        if self._sqlite is None:
            path = self.directory / "template.db"
            upgrade(f"sqlite+aiosqlite:///{path}")
            self._sqlite = path
        return self._sqlite

    def _postgresql_template(self, like: str) -> str:
        if self._postgresql is None:
            name = f"coord_template_{secrets.token_hex(6)}"
            asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
            self._created.append(name)
            upgrade(urlunsplit(urlsplit(like)._replace(path=f"/{name}")))
            self._postgresql = name
        return self._postgresql


async def _pg_admin(*statements: str) -> None:
    connection = await asyncpg.connect(PG_ADMIN_URL, timeout=10)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()
