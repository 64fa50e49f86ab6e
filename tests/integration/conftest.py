"""Fixtures of the integration suite: a migrated database per test (both backends).

Builds on tests/conftest.py (``database_url``, ``amqp_url``, ``rabbit_api``). What the
tests import (``Database``, ``tapped``, ...) lives in tests/support/.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from shared.db import create_engine, session_factory
from tests.support.database import Database, Templates


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Templates]:
    """A migrated database per backend, made once per test process and copied per test."""
    made = Templates(tmp_path_factory.mktemp("templates"))
    yield made
    made.drop()


@pytest.fixture
async def db(database_url: str, templates: Templates) -> AsyncIterator[Database]:
    """``database_url`` at the head revision: a copy of the migrated template.

    (In a thread: Alembic's env and the admin connection run their own event loops.)
    """
    await asyncio.to_thread(templates.migrate, database_url)
    engine = create_engine(database_url)
    try:
        yield Database(database_url, engine, session_factory(engine))
    finally:
        await engine.dispose()
