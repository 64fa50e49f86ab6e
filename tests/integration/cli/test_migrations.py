"""The Alembic migrations create exactly the schema the code declares (both backends)."""

from __future__ import annotations

import asyncio

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from coord.migrate import upgrade
from coord.schema import metadata
from tests.support.database import Database

pytestmark = pytest.mark.integration


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def test_migrated_schema_matches_the_models(db: Database) -> None:
    async with db.engine.connect() as connection:
        assert await connection.run_sync(_differences) == []


async def test_upgrade_twice_is_a_no_op(db: Database) -> None:
    await asyncio.to_thread(upgrade, db.url)
    async with db.engine.connect() as connection:
        assert await connection.run_sync(_differences) == []
