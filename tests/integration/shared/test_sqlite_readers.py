"""On SQLite a long reader (``coord audit verify`` over a big log) must not stop the
services writing: read-only sessions take no write lock."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import create_engine, one_session

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("read_only", "writer_waits"),
    [
        pytest.param(True, False, id="read-only-reader-lets-writers-write"),
        pytest.param(False, True, id="a-writing-session-holds-the-lock"),
    ],
)
async def test_a_read_only_session_does_not_block_writers(
    tmp_path: Path, read_only: bool, writer_waits: bool
) -> None:
    path = tmp_path / "coord.db"
    with sqlite3.connect(path) as setup:
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE log (seq INTEGER PRIMARY KEY)")
        setup.execute("INSERT INTO log VALUES (1)")
    async with one_session(f"sqlite+aiosqlite:///{path}", read_only=read_only) as session:
        # Mid-transaction, as verify is while it streams the log.
        assert (await session.execute(text("SELECT count(*) FROM log"))).scalar_one() == 1
        writer = sqlite3.connect(path, timeout=0.5, isolation_level=None)
        try:
            writer.execute("BEGIN IMMEDIATE")
            writer.execute("INSERT INTO log VALUES (2)")
            writer.execute("COMMIT")
            blocked = False
        except sqlite3.OperationalError as error:
            blocked = "locked" in str(error)
        finally:
            writer.close()
        assert blocked is writer_waits
        if not writer_waits:  # the reader's snapshot is stable while the writer commits
            assert (await session.execute(text("SELECT count(*) FROM log"))).scalar_one() == 1


async def test_writers_on_separate_engines_queue_for_the_lock_and_none_is_lost(
    tmp_path: Path,
) -> None:
    # Three engines stand for the three services writing one file: every write must
    # get the lock in its turn (waiting on the event loop), none may fail as locked.
    url = f"sqlite+aiosqlite:///{tmp_path / 'coord.db'}"
    with sqlite3.connect(tmp_path / "coord.db") as setup:
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE counter (n INTEGER NOT NULL)")
        setup.execute("INSERT INTO counter VALUES (0)")
    engines = [create_engine(url) for _ in range(3)]
    try:

        async def bump(engine: AsyncEngine) -> None:
            async with engine.begin() as connection:
                n = (await connection.execute(text("SELECT n FROM counter"))).scalar_one()
                await asyncio.sleep(0.001)  # hold the lock across an await, as handlers do
                await connection.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})

        await asyncio.gather(*(bump(engines[i % 3]) for i in range(60)))
        async with engines[0].connect() as connection:
            assert (await connection.execute(text("SELECT n FROM counter"))).scalar_one() == 60
    finally:
        for engine in engines:
            await engine.dispose()
