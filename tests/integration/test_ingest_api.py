"""The public HTTP API of ingest without a broker: validation, authentication, size limit,
idempotency, and never a partial write. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from uuid import uuid4

import httpx
import pytest

from services.ingest.api import ApiContext
from services.ingest.service import IngestService
from services.ingest.tables import (
    OUTBOX,
    AlertViewRecord,
    IdempotencyKeyRecord,
    TimelineRecord,
)
from shared.auth import mint_token
from shared.envelope import Envelope
from shared.settings import Settings
from tests.integration.conftest import Database
from tests.unit.helpers import EXAMPLE_DIRECTORY, SOURCE, alert_request, example_directory

pytestmark = pytest.mark.integration

JWT_SECRET = "integration-jwt-secret-" + "0123456789abcdef" * 3
MAX_BODY = 2048


def bearer(person_id: str = "jo.operator", **kwargs: Any) -> dict[str, str]:
    secret = kwargs.pop("secret", JWT_SECRET)
    return {"Authorization": f"Bearer {mint_token(person_id, secret, **kwargs)}"}


@pytest.fixture
async def client(db: Database) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        max_body_bytes=MAX_BODY,
        jwt_secret=JWT_SECRET,
        directory=EXAMPLE_DIRECTORY,
        database_url=db.url,
    )
    app = IngestService(settings).app
    app.state.api = ApiContext(example_directory(), db.sessions, JWT_SECRET)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest.test") as client:
        yield client


async def nothing_written(db: Database) -> None:
    assert await db.count(AlertViewRecord) == 0
    assert await db.count(TimelineRecord) == 0
    assert await db.count(OUTBOX) == 0
    assert await db.count(IdempotencyKeyRecord) == 0


def error_locations(response: httpx.Response) -> list[list[Any]]:
    return [error["loc"] for error in response.json()["detail"]]


async def outbox_envelopes(db: Database) -> list[Envelope]:
    async with db.sessions() as session:
        rows = (await session.execute(OUTBOX.select().order_by(OUTBOX.c.position))).all()
    return [Envelope.model_validate_json(bytes(r.body)) for r in rows]


# --------------------------------------------------------------------------- accepted


async def test_raise_and_read_an_alert(db: Database, client: httpx.AsyncClient) -> None:
    body = alert_request(source=SOURCE, dedup_key="mavivi-road")
    response = await client.post("/v1/alerts", json=body, headers=bearer())
    assert response.status_code == 201, response.text
    view = response.json()
    assert view["status"] == "raised"
    assert view["raised_by"] == "jo.operator"
    assert view["title"] == body["title"]
    assert view["location"] == body["location"]
    assert [t["type"] for t in view["timeline"]] == ["alert.raised"]
    assert "source" not in view
    assert SOURCE["contact"] not in response.text

    fetched = await client.get(f"/v1/alerts/{view['id']}", headers=bearer("awa.hfo"))
    assert fetched.status_code == 200
    assert fetched.json() == view

    [raised] = await outbox_envelopes(db)
    assert raised.type == "alert.raised"
    assert str(raised.correlation_id) == view["id"]
    assert raised.payload["alert_id"] == view["id"]
    assert raised.actor == "jo.operator"
    assert raised.classification.value == "confidential"
    assert await db.count(TimelineRecord) == 1


async def test_body_exactly_at_the_limit_is_accepted(client: httpx.AsyncClient) -> None:
    body = alert_request(description="")
    size = len(json.dumps(body).encode())
    body["description"] = "x" * (MAX_BODY - size)
    raw = json.dumps(body).encode()
    assert len(raw) == MAX_BODY
    response = await client.post(
        "/v1/alerts",
        content=raw,
        headers={**bearer(), "Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.text


# --------------------------------------------------------------------------- rejected


def without(field: str) -> dict[str, Any]:
    return {k: v for k, v in alert_request().items() if k != field}


@pytest.mark.parametrize(
    ("body", "location", "error_type"),
    [
        pytest.param(without("title"), ["body", "title"], "missing", id="missing-title"),
        pytest.param(without("sector"), ["body", "sector"], "missing", id="missing-sector"),
        pytest.param(
            alert_request(severity="catastrophic"), ["body", "severity"], "enum", id="bad-enum"
        ),
        pytest.param(
            alert_request(category="riot"), ["body", "category"], "enum", id="bad-category"
        ),
        pytest.param(
            alert_request(priority="high"),
            ["body", "priority"],
            "extra_forbidden",
            id="unknown-field",
        ),
        pytest.param(
            alert_request(location={"name": "Mavivi", "altitude": 3}),
            ["body", "location", "altitude"],
            "extra_forbidden",
            id="unknown-nested-field",
        ),
        pytest.param(
            alert_request(sector="atlantis"), ["body", "sector"], "value_error", id="bad-sector"
        ),
    ],
)
async def test_invalid_alerts_get_422_naming_the_field(
    db: Database,
    client: httpx.AsyncClient,
    body: dict[str, Any],
    location: list[str],
    error_type: str,
) -> None:
    response = await client.post("/v1/alerts", json=body, headers=bearer())
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    assert [(e["loc"], e["type"]) for e in errors] == [(location, error_type)]
    assert location[-1] in response.text
    await nothing_written(db)


async def test_unknown_sector_message_lists_the_known_sectors(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/alerts", json=alert_request(sector="atlantis"), headers=bearer()
    )
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert "atlantis" in error["msg"]
    assert all(sector in error["msg"] for sector in ("north", "south", "beni"))


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        pytest.param(b"{not json", "application/json", id="not-json"),
        pytest.param(b"[]", "application/json", id="json-array"),
        pytest.param(b"", "application/json", id="empty"),
    ],
)
async def test_unparseable_bodies_get_422(
    db: Database, client: httpx.AsyncClient, content: bytes, content_type: str
) -> None:
    response = await client.post(
        "/v1/alerts", content=content, headers={**bearer(), "Content-Type": content_type}
    )
    assert response.status_code == 422, response.text
    await nothing_written(db)


def too_large_body() -> bytes:
    return json.dumps(alert_request(description="x" * (MAX_BODY + 1))).encode()


async def test_body_over_the_limit_gets_413(db: Database, client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/alerts",
        content=too_large_body(),
        headers={**bearer(), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert str(MAX_BODY) in response.json()["detail"]
    assert "limit" in response.json()["detail"]
    await nothing_written(db)


async def test_streamed_body_over_the_limit_gets_413(
    db: Database, client: httpx.AsyncClient
) -> None:
    raw = too_large_body()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(raw), 512):
            yield raw[start : start + 512]

    response = await client.post(
        "/v1/alerts", content=chunks(), headers={**bearer(), "Content-Type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert str(MAX_BODY) in response.json()["detail"]
    await nothing_written(db)


async def test_oversized_body_without_a_token_is_still_413(
    db: Database, client: httpx.AsyncClient
) -> None:
    response = await client.post(
        "/v1/alerts", content=too_large_body(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    await nothing_written(db)


AUTH_CASES = [
    pytest.param({}, "missing Authorization header", id="no-token"),
    pytest.param({"Authorization": "Token abc.def.ghi"}, "must be 'Bearer <token>'", id="scheme"),
    pytest.param({"Authorization": "Bearer "}, "must be 'Bearer <token>'", id="bearer-alone"),
    pytest.param(
        bearer(secret="some-other-secret-" + "0123456789abcdef" * 3),
        "Signature verification failed",
        id="wrong-secret",
    ),
    pytest.param(bearer(ttl=timedelta(seconds=-10)), "expired", id="expired"),
    pytest.param({"Authorization": "Bearer not-a-jwt"}, "invalid token", id="garbage-token"),
    pytest.param(bearer("ghost.person"), "'ghost.person' is not a person", id="unknown-person"),
]


@pytest.mark.parametrize(("headers", "message"), AUTH_CASES)
async def test_bad_credentials_get_401_with_a_clear_message(
    db: Database, client: httpx.AsyncClient, headers: dict[str, str], message: str
) -> None:
    response = await client.post("/v1/alerts", json=alert_request(), headers=headers)
    assert response.status_code == 401, response.text
    assert message in response.json()["detail"]
    assert response.headers["www-authenticate"] == "Bearer"
    await nothing_written(db)


async def test_each_credential_problem_has_its_own_message(client: httpx.AsyncClient) -> None:
    messages: dict[str, str] = {}
    for case in AUTH_CASES:
        if case.id == "bearer-alone":  # the same problem as "scheme": a malformed header
            continue
        headers, _ = case.values
        response = await client.post("/v1/alerts", json=alert_request(), headers=headers)
        assert response.status_code == 401
        messages[str(case.id)] = response.json()["detail"]
    assert len(set(messages.values())) == len(messages), messages


async def test_unauthenticated_caller_learns_nothing_about_the_body(
    db: Database, client: httpx.AsyncClient
) -> None:
    response = await client.post("/v1/alerts", json=without("title"))
    assert response.status_code == 401
    assert "title" not in response.text
    await nothing_written(db)


# --------------------------------------------------------------------------- idempotency


async def test_same_key_same_body_replays_the_alert(
    db: Database, client: httpx.AsyncClient
) -> None:
    headers = {**bearer(), "Idempotency-Key": "mavivi-1"}
    first = await client.post("/v1/alerts", json=alert_request(), headers=headers)
    second = await client.post("/v1/alerts", json=alert_request(), headers=headers)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert await db.count(OUTBOX) == 1
    assert await db.count(AlertViewRecord) == 1


async def test_same_key_same_body_in_another_field_order_is_a_replay(
    db: Database, client: httpx.AsyncClient
) -> None:
    headers = {**bearer(), "Idempotency-Key": "mavivi-order"}
    body = alert_request()
    reordered = dict(reversed(list(body.items())))
    first = await client.post("/v1/alerts", json=body, headers=headers)
    second = await client.post("/v1/alerts", json=reordered, headers=headers)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert await db.count(OUTBOX) == 1


async def test_same_key_different_body_is_422(db: Database, client: httpx.AsyncClient) -> None:
    headers = {**bearer(), "Idempotency-Key": "mavivi-2"}
    first = await client.post("/v1/alerts", json=alert_request(), headers=headers)
    other = await client.post("/v1/alerts", json=alert_request(severity="extreme"), headers=headers)
    assert first.status_code == 201
    assert other.status_code == 422
    assert "Idempotency-Key" in other.json()["detail"]
    assert await db.count(OUTBOX) == 1
    assert await db.count(AlertViewRecord) == 1


async def test_same_key_from_two_people_makes_two_alerts(
    db: Database, client: httpx.AsyncClient
) -> None:
    key = {"Idempotency-Key": "shared-key"}
    first = await client.post(
        "/v1/alerts", json=alert_request(), headers={**bearer("jo.operator"), **key}
    )
    second = await client.post(
        "/v1/alerts", json=alert_request(), headers={**bearer("amani.cla"), **key}
    )
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["id"] != second.json()["id"]
    assert second.json()["raised_by"] == "amani.cla"
    assert await db.count(OUTBOX) == 2


async def test_without_a_key_each_request_is_a_new_alert(
    db: Database, client: httpx.AsyncClient
) -> None:
    first = await client.post("/v1/alerts", json=alert_request(), headers=bearer())
    second = await client.post("/v1/alerts", json=alert_request(), headers=bearer())
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["id"] != second.json()["id"]
    assert await db.count(OUTBOX) == 2


async def test_concurrent_requests_with_one_key_make_one_alert(
    db: Database, client: httpx.AsyncClient
) -> None:
    headers = {**bearer(), "Idempotency-Key": f"race-{uuid4()}"}
    responses = await asyncio.gather(
        *(client.post("/v1/alerts", json=alert_request(), headers=headers) for _ in range(4))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 200, 200, 201], [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert await db.count(OUTBOX) == 1
    assert await db.count(AlertViewRecord) == 1


async def test_overlong_idempotency_key_is_422(db: Database, client: httpx.AsyncClient) -> None:
    headers = {**bearer(), "Idempotency-Key": "k" * 201}
    response = await client.post("/v1/alerts", json=alert_request(), headers=headers)
    assert response.status_code == 422
    assert error_locations(response) == [["header", "idempotency-key"]]
    await nothing_written(db)


# --------------------------------------------------------------------------- reading


async def test_get_unknown_alert_is_404(client: httpx.AsyncClient) -> None:
    alert_id = uuid4()
    response = await client.get(f"/v1/alerts/{alert_id}", headers=bearer())
    assert response.status_code == 404
    assert str(alert_id) in response.json()["detail"]


async def test_get_with_a_malformed_id_is_422(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/alerts/not-a-uuid", headers=bearer())
    assert response.status_code == 422
    assert error_locations(response) == [["path", "alert_id"]]


async def test_get_needs_valid_credentials(client: httpx.AsyncClient) -> None:
    for case in AUTH_CASES:
        headers, message = case.values
        response = await client.get(f"/v1/alerts/{uuid4()}", headers=headers)
        assert response.status_code == 401, case.id
        assert message in response.json()["detail"], case.id


async def test_get_existing_alert_without_token_is_401(client: httpx.AsyncClient) -> None:
    created = await client.post("/v1/alerts", json=alert_request(), headers=bearer())
    assert created.status_code == 201
    response = await client.get(f"/v1/alerts/{created.json()['id']}")
    assert response.status_code == 401
    assert created.json()["title"] not in response.text
