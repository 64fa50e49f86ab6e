"""Fixtures of the integration suite: a migrated database per test (both backends).

Builds on tests/conftest.py (``database_url``, ``amqp_url``, ``rabbit_api``). What the
tests import (``Database``, ``tapped``, ...) lives in tests/support/.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from coord.migrate import upgrade
from shared.db import create_engine, session_factory
from tests.support.database import Database


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """``database_url`` migrated to head (Alembic's env runs its own event loop: a thread)."""
    await asyncio.to_thread(upgrade, database_url)
    engine = create_engine(database_url)
    try:
        yield Database(database_url, engine, session_factory(engine))
    finally:
        await engine.dispose()
