"""``Database``: a migrated database of one test, as the ``db`` fixture yields it.

The fixture lives in tests/integration/conftest.py; the class is here so that test
modules and the other support modules can name its type. ``Templates`` migrates one
database per backend and process, and gives each test a copy of it: migrating every
test's database took longer than many of the tests.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import secrets
import shutil
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import asyncpg
import pytest
from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from coord.migrate import upgrade

T = TypeVar("T")

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
        recreate = [
            (f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', ()),
            (f'CREATE DATABASE "{name}" TEMPLATE "{template}"', ()),
        ]
        run_sync(lambda: _pg_admin_each(recreate))

    def drop(self) -> None:
        """Drop the PostgreSQL template (the SQLite one goes with its directory)."""
        for name in self._created:
            _drop_pg_database(name)

    def _sqlite_template(self) -> Path:
        if self._sqlite is None:
            path = self.directory / "template.db"
            upgrade(f"sqlite+aiosqlite:///{path}")
            self._sqlite = path
        return self._sqlite

    def _postgresql_template(self, like: str) -> str:
        if self._postgresql is None:
            name = f"coord_template_{secrets.token_hex(6)}"
            _create_pg_database(name)
            self._created.append(name)
            upgrade(urlunsplit(urlsplit(like)._replace(path=f"/{name}")))
            self._postgresql = name
        return self._postgresql


def run_sync(factory: Callable[[], Awaitable[T]], timeout: float = 60.0) -> T:
    """Run a coroutine to completion on a private event loop in a worker thread.

    Safe whether or not an event loop is running in the calling thread."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(factory())).result(timeout=timeout)  # type: ignore[arg-type]


def _pg_admin_parts() -> tuple[str, str, str, int]:
    parts = urlsplit(PG_ADMIN_URL)
    return (
        unquote(parts.username or "coord"),
        unquote(parts.password or ""),
        parts.hostname or "127.0.0.1",
        parts.port or 5432,
    )


async def _pg_admin_each(statements: list[tuple[str, tuple[Any, ...]]]) -> None:
    connection = await asyncpg.connect(PG_ADMIN_URL, timeout=10)
    try:
        for sql, args in statements:
            await connection.execute(sql, *args)
    finally:
        await connection.close()


def _create_pg_database(name: str) -> None:
    run_sync(lambda: _pg_admin_each([(f'CREATE DATABASE "{name}"', ())]))


def _drop_pg_database(name: str) -> None:
    terminate = (
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = $1 AND pid <> pg_backend_pid()"
    )
    drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    for _ in range(5):
        try:
            run_sync(lambda: _pg_admin_each([(terminate, (name,)), (drop, ())]))
        except Exception:
            time.sleep(1.0)
        else:
            return


@contextlib.contextmanager
def fresh_pg_database() -> Iterator[str]:
    """A new PostgreSQL database ``coord_test_<hex>``, as an async URL; dropped on exit."""
    name = f"coord_test_{secrets.token_hex(6)}"
    try:
        _create_pg_database(name)
    except (TimeoutError, OSError, concurrent.futures.TimeoutError) as error:
        message = f"PostgreSQL at {PG_ADMIN_URL} is not reachable: {error!r}"
        if os.environ.get("COORD_TEST_SKIP_PG") == "1":
            pytest.skip(message)
        pytest.fail(message + " (set COORD_TEST_SKIP_PG=1 to skip PostgreSQL tests)")
    user, password, host, port = _pg_admin_parts()
    credentials = f"{quote(user, safe='')}:{quote(password, safe='')}"
    try:
        yield f"postgresql+asyncpg://{credentials}@{host}:{port}/{name}"
    finally:
        _drop_pg_database(name)
