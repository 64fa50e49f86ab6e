"""Database layer: SQLAlchemy 2 async engines for SQLite and PostgreSQL.

Every service declares its own tables on the one ``Base.metadata`` (one writer
per table); Alembic migrates them all from ``coord/migrations``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, Table, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator
from sqlalchemy.util import await_only

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base whose metadata holds every table of the system."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:  # noqa: ARG002 - SQLAlchemy's signature
        """Store as UTC; refuse naive datetimes (their zone is unknown)."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:  # noqa: ARG002 - SQLAlchemy's signature
        """Read back as an aware UTC datetime."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def create_engine(
    url: str, *, read_only: bool = False, pool_size: int = 10, **kwargs: Any
) -> AsyncEngine:
    """An async engine; SQLite gets WAL, a busy timeout and write-safe transactions.

    ``read_only``: for readers that never write (``coord audit``, ``coord report``):
    on SQLite their transactions take no write lock, so a long audit of the log
    does not stop the services writing.
    ``pool_size``: PostgreSQL connections kept open, sized for the handlers a service
    runs at once: the pool's overflow connections are closed when they come back, and
    opening one (TCP, TLS probe, SCRAM) costs more than the statements it carries.
    A burst may open half as many again, so a deployment's connection budget
    (PostgreSQL's ``max_connections``, 100 by default) is 1.5 x pool x processes.
    """
    if url.startswith("sqlite"):
        engine = create_async_engine(url, **kwargs)
        _configure_sqlite_transactions(engine, "BEGIN" if read_only else "BEGIN IMMEDIATE")
        return engine
    # No pool_pre_ping: on asyncpg it is three round trips (BEGIN, ";", ROLLBACK) before
    # every transaction, about a third of the statements the services sent. A connection
    # that died with the server fails its one transaction instead, which the pool then
    # invalidates with every older connection; handlers retry (the bus requeues after a
    # back-off) and an HTTP client gets a 500 and may retry with its Idempotency-Key.
    return create_async_engine(
        url, pool_size=pool_size, max_overflow=max(2, pool_size // 2), pool_recycle=1800, **kwargs
    )


# How long a writer waits for SQLite's write lock before its transaction fails.
SQLITE_LOCK_TIMEOUT = 30.0
# Between two tries for the lock: short, since transactions here last milliseconds.
_SQLITE_LOCK_RETRY = (0.0005, 0.004)


def _configure_sqlite_transactions(engine: AsyncEngine, begin: str) -> None:
    # pysqlite's deferred BEGIN lets two processes both read, then fail to
    # upgrade to a write lock (SQLITE_BUSY without waiting). BEGIN IMMEDIATE
    # takes the write lock up front, so writers queue instead.
    # A reader that never writes keeps the deferred BEGIN: under WAL it reads a
    # consistent snapshot while writers go on.
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # BEGIN IMMEDIATE waits in _wait_for_write_lock, not in SQLite's busy handler;
        # the short timeout covers the rare busy read (a checkpoint under way).
        cursor.execute("PRAGMA busy_timeout=50")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        if begin == "BEGIN":
            connection.exec_driver_sql(begin)
        else:
            _wait_for_write_lock(connection)


def _wait_for_write_lock(connection: Any) -> None:
    # SQLite's own busy handler sleeps 1, 2, 5, ... up to 100 ms between tries, so
    # with the three services writing one file a transaction often waited 100 ms
    # for a lock freed after 2. This tries again every 0.5-4 ms, and sleeps on the
    # event loop (we are inside SQLAlchemy's greenlet), not in the driver's thread.
    deadline = time.monotonic() + SQLITE_LOCK_TIMEOUT
    pause = _SQLITE_LOCK_RETRY[0]
    while True:
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except OperationalError as error:
            if "locked" not in str(error.orig) or time.monotonic() > deadline:
                raise
        else:
            return
        await_only(asyncio.sleep(pause))
        pause = min(pause * 2, _SQLITE_LOCK_RETRY[1])


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded values after commit (we hand them to callers)."""
    return async_sessionmaker(engine, expire_on_commit=False)


@contextlib.asynccontextmanager
async def one_session(database_url: str, *, read_only: bool = False) -> AsyncIterator[AsyncSession]:
    """One session on an engine of its own, disposed after: for one-off commands (the CLI)."""
    engine = create_engine(database_url, read_only=read_only)
    try:
        async with session_factory(engine)() as session:
            yield session
    finally:
        await engine.dispose()


async def ping(engine: AsyncEngine) -> None:
    """Raise if the database cannot answer a trivial query."""
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def insert_ignoring_duplicates(
    session: AsyncSession, table: Table, values: dict[str, Any]
) -> bool:
    """Insert one row unless its primary/unique key exists; True when inserted.

    On PostgreSQL a concurrent insert of the same key waits for the other
    transaction, so exactly one of two racing callers gets True.
    """
    dialect = session.bind.dialect.name if session.bind is not None else ""
    if dialect == "postgresql":
        statement: Any = postgresql.insert(table).values(values).on_conflict_do_nothing()
    else:
        statement = sqlite.insert(table).values(values).on_conflict_do_nothing()
    result = await session.execute(statement)
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]
