"""Requests per person: the ingest service started for real (broker, migrated SQLite), with a
limit of 3 a minute; over it, a 429 problem with Retry-After; others and probes unaffected."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from services.ingest.service import IngestService
from shared.auth import mint_token
from shared.problems import PROBLEM_MEDIA_TYPE
from shared.settings import Settings
from tests.support.database import Database
from tests.support.directories import EXAMPLE_DIRECTORY

# The limit does not depend on the database: SQLite alone keeps the test short.
pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

JWT_SECRET = "rate-limit-jwt-secret-" + "0123456789abcdef" * 3
LIMIT = 3


def bearer(person_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(person_id, JWT_SECRET)}"}


@pytest.fixture
async def client(db: Database, amqp_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        rate_limit=f"{LIMIT}/minute",
        jwt_secret=JWT_SECRET,
        directory=EXAMPLE_DIRECTORY,
        database_url=db.url,
        amqp_url=amqp_url,
    )
    service = IngestService(settings)
    await service.start()
    try:
        transport = httpx.ASGITransport(app=service.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest.test") as client:
            yield client
    finally:
        await service.stop()


async def test_over_the_limit_is_a_429_problem_with_retry_after(
    client: httpx.AsyncClient,
) -> None:
    for _ in range(LIMIT):
        allowed = await client.get("/v1/alerts", headers=bearer("jo.operator"))
        assert allowed.status_code == 200, allowed.text
    refused = await client.get("/v1/alerts", headers=bearer("jo.operator"))
    assert refused.status_code == 429, refused.text
    assert refused.headers["content-type"] == PROBLEM_MEDIA_TYPE
    retry_after = refused.headers["retry-after"]
    assert retry_after.isdigit()
    assert 0 < int(retry_after) <= 60
    problem = refused.json()
    assert problem["type"] == "/problems/rate-limited"
    assert problem["status"] == 429
    assert problem["title"] == "Too Many Requests"
    assert f"{LIMIT} per 1 minute" in problem["detail"]
    assert problem["instance"] == "/v1/alerts"
    # every route of the API counts against the same person's limit
    other_route = await client.post(
        "/v1/alerts/00000000-0000-0000-0000-000000000000/notes",
        json={"text": "x"},
        headers=bearer("jo.operator"),
    )
    assert other_route.status_code == 429


async def test_another_person_is_unaffected(client: httpx.AsyncClient) -> None:
    for _ in range(LIMIT + 1):
        await client.get("/v1/alerts", headers=bearer("jo.operator"))
    for _ in range(LIMIT):
        response = await client.get("/v1/alerts", headers=bearer("awa.hfo"))
        assert response.status_code == 200, response.text


async def test_authentication_comes_first_and_probes_are_not_limited(
    client: httpx.AsyncClient,
) -> None:
    for _ in range(LIMIT + 1):
        await client.get("/v1/alerts", headers=bearer("jo.operator"))
    # a bad token is told so (401), not that someone else is over their limit
    anonymous = await client.get("/v1/alerts", headers={"Authorization": "Bearer nope"})
    assert anonymous.status_code == 401
    for _ in range(LIMIT * 3):
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/readyz")).status_code == 200
