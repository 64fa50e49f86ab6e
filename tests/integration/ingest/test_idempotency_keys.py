"""Migration 0013: one Idempotency-Key table for alerts, messages and recommendations.

Keys written before it are alerts' and keep answering as they did; a downgrade keeps
them too (and forgets the others'). Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import text

from coord.migrate import alembic_config, upgrade
from shared.auth import mint_token
from tests.support.builders import alert_request
from tests.support.database import Database
from tests.support.ingest_client import IngestClient, ingest_client

pytestmark = pytest.mark.integration

JWT_SECRET = "idempotency-keys-jwt-secret-" + "0123456789abcdef" * 3
REVISION = "0013"


def headers(key: str, person_id: str = "jo.operator") -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(person_id, JWT_SECRET)}", "Idempotency-Key": key}


def message_request(**overrides: Any) -> dict[str, Any]:
    return {"to": {"persons": ["col.okafor"]}, "subject": "Patrol", "body": "At 14:00", **overrides}


@pytest.fixture
async def client(db: Database) -> AsyncIterator[IngestClient]:
    async with ingest_client(db, JWT_SECRET) as client:
        yield client


def _before() -> str:
    config = alembic_config("sqlite://")
    revision = ScriptDirectory.from_config(config).get_revision(REVISION)
    assert revision is not None
    before = revision.down_revision
    assert isinstance(before, str)
    return before


async def _rows(db: Database, columns: str) -> list[tuple[Any, ...]]:
    async with db.engine.connect() as connection:
        query = f"SELECT {columns} FROM ingest_idempotency_keys ORDER BY key"  # noqa: S608
        return [tuple(row) for row in await connection.execute(text(query))]


async def test_keys_of_alerts_survive_the_migration_both_ways(
    db: Database, client: IngestClient
) -> None:
    raised = await client.post("/v1/alerts", json=alert_request(), headers=headers("a-key"))
    sent = await client.post("/v1/messages", json=message_request(), headers=headers("m-key"))
    assert (raised.status_code, sent.status_code) == (201, 202)
    alert_id = raised.json()["id"]

    await db.engine.dispose()
    await asyncio.to_thread(command.downgrade, alembic_config(db.url), _before())
    # Before 0013 a key made an alert: it is kept, the message's is forgotten.
    assert await _rows(db, "key, alert_id") == [("a-key", alert_id)]

    await db.engine.dispose()
    await asyncio.to_thread(upgrade, db.url)
    assert await _rows(db, "key, kind, subject_id") == [("a-key", "alert", alert_id)]

    again = await client.post("/v1/alerts", json=alert_request(), headers=headers("a-key"))
    assert (again.status_code, again.json()["id"]) == (200, alert_id)
    other = await client.post(
        "/v1/alerts", json=alert_request(severity="extreme"), headers=headers("a-key")
    )
    as_message = await client.post("/v1/messages", json=message_request(), headers=headers("a-key"))
    assert (other.status_code, as_message.status_code) == (422, 422)
    assert "Idempotency-Key" in as_message.json()["detail"]
