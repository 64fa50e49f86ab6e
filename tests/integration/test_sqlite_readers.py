"""On SQLite a long reader (``coord audit verify`` over a big log) must not stop the
services writing: read-only sessions take no write lock."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from shared.db import one_session

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
