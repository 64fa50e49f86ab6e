"""The public HTTP API of ingest without a broker: validation, authentication, size limit,
idempotency, never a partial write; commands on alerts (acknowledge, resolve, notes) and
lists. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any, cast
from uuid import uuid4

import httpx
import pytest
from sqlalchemy import select

from services.ingest.alerts import queries
from services.ingest.alerts.projections import apply_event
from services.ingest.alerts.tables import AlertViewRecord, TimelineRecord
from services.ingest.tables import OUTBOX, IdempotencyKeyRecord
from shared.contracts.alerts import RaiseAlertV1, SealedSource, Source
from shared.envelope import Envelope
from shared.settings import Settings
from shared.source_protection import SourceKeyRing
from tests.support.builders import SOURCE, alert_request, state_changed
from tests.support.database import Database
from tests.support.ingest_client import ingest_client
from tests.support.tokens import JWT_SECRET, bearer

pytestmark = pytest.mark.integration

MAX_BODY = 2048


@pytest.fixture
async def client(db: Database) -> AsyncIterator[httpx.AsyncClient]:
    async with ingest_client(db, JWT_SECRET, max_body_bytes=MAX_BODY) as client:
        yield client


async def nothing_written(db: Database) -> None:
    assert await db.count(AlertViewRecord) == 0
    assert await db.count(TimelineRecord) == 0
    assert await db.count(OUTBOX) == 0
    assert await db.count(IdempotencyKeyRecord) == 0


def error_locations(response: httpx.Response) -> list[list[Any]]:
    return [error["loc"] for error in response.json()["errors"]]


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
    # not routed yet: no level, chain or escalation until the router's state arrives
    assert (view["policy_id"], view["level"], view["current_level"]) == (None, None, None)
    assert (view["loop"], view["exhausted"], view["next_escalation_at"]) == (0, False, None)
    assert (view["targets"], view["chain"], view["acknowledgements"]) == ([], [], [])
    assert (view["dedup_count"], view["merged_into"]) == (1, None)
    assert (view["notified"], view["deliveries"]) == ([], [])
    assert view["title"] == body["title"]
    assert view["location"] == body["location"]
    assert [t["type"] for t in view["timeline"]] == ["alert.raised"]
    assert "source" not in view
    assert SOURCE["contact"] not in response.text

    fetched = await client.get(f"/v1/alerts/{view['id']}", headers=bearer("jo.operator"))
    assert fetched.status_code == 200
    assert fetched.json() == view

    [raised] = await outbox_envelopes(db)
    assert raised.type == "alert.raised"
    assert str(raised.correlation_id) == view["id"]
    # The source is sealed before it is written: v2, ciphertext only, opens with the ring.
    assert raised.schema_version == 2
    assert SOURCE["name"] not in raised.model_dump_json()
    sealed = SealedSource.model_validate(raised.payload["source"])
    opened = SourceKeyRing.from_settings(Settings()).open(sealed, raised.correlation_id)
    assert opened == Source.model_validate(SOURCE)
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
    errors = response.json()["errors"]
    assert [(e["loc"], e["type"]) for e in errors] == [(location, error_type)]
    assert location[-1] in response.text
    await nothing_written(db)


async def test_unknown_sector_message_lists_the_known_sectors(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/alerts", json=alert_request(sector="atlantis"), headers=bearer()
    )
    assert response.status_code == 422
    [error] = response.json()["errors"]
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
        "token signature is invalid",
        id="wrong-secret",
    ),
    pytest.param(bearer(ttl=timedelta(seconds=-10)), "expired", id="expired"),
    pytest.param({"Authorization": "Bearer not-a-jwt"}, "token is malformed", id="garbage-token"),
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
        headers, _ = cast(tuple[dict[str, str], str], case.values)
        response = await client.post("/v1/alerts", json=alert_request(), headers=headers)
        assert response.status_code == 401
        messages[str(case.id)] = response.json()["detail"]
    assert len(set(messages.values())) == len(messages), messages


async def test_unauthenticated_caller_learns_nothing_about_the_body(
    db: Database, client: httpx.AsyncClient
) -> None:
    response = await client.post("/v1/alerts", json=without("title"))
    assert response.status_code == 401
    problem = response.json()
    assert "errors" not in problem
    assert "title" not in problem["detail"]  # (a problem's own "title" is its kind's name)
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


async def test_idempotency_with_a_source_keeps_a_keyed_fingerprint_only(
    db: Database, client: httpx.AsyncClient
) -> None:
    headers = {**bearer(), "Idempotency-Key": "mavivi-source"}
    body = alert_request(source=SOURCE)
    first = await client.post("/v1/alerts", json=body, headers=headers)
    again = await client.post("/v1/alerts", json=body, headers=headers)
    other_source = alert_request(source={**SOURCE, "contact": "+243 970 000 000"})
    other = await client.post("/v1/alerts", json=other_source, headers=headers)
    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 422)
    assert await db.count(OUTBOX) == 1

    async with db.sessions() as session:
        [record] = (await session.scalars(select(IdempotencyKeyRecord))).all()
    plain = hashlib.sha256(RaiseAlertV1.model_validate(body).model_dump_json().encode())
    # A plain hash of the body would let its reader test a guessed source against it.
    assert record.request_hash != plain.hexdigest()
    assert len(record.request_hash) == 64


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
        headers, message = cast(tuple[dict[str, str], str], case.values)
        response = await client.get(f"/v1/alerts/{uuid4()}", headers=headers)
        assert response.status_code == 401, case.id
        assert message in response.json()["detail"], case.id


async def test_get_existing_alert_without_token_is_401(client: httpx.AsyncClient) -> None:
    created = await client.post("/v1/alerts", json=alert_request(), headers=bearer())
    assert created.status_code == 201
    response = await client.get(f"/v1/alerts/{created.json()['id']}")
    assert response.status_code == 401
    assert created.json()["title"] not in response.text


async def test_query_of_an_unknown_alert_is_none(db: Database) -> None:
    async with db.sessions() as session:
        assert await queries.get_alert(session, uuid4()) is None


# --------------------------------------------------------------------------- commands


async def set_state(db: Database, alert_id: str, **fields: Any) -> None:
    """Apply an ``alert.state_changed`` of the router to the alert's view."""
    async with db.sessions() as session, session.begin():
        await apply_event(session, state_changed(alert_id, **fields))


async def routed_alert(db: Database, client: httpx.AsyncClient, **state: Any) -> str:
    """An alert raised through the API whose view has the router's state (poc-urgent chain)."""
    response = await client.post("/v1/alerts", json=alert_request(), headers=bearer())
    assert response.status_code == 201, response.text
    alert_id = str(response.json()["id"])
    await set_state(db, alert_id, **state)
    return alert_id


COMMANDS = [
    pytest.param("acknowledge", None, id="acknowledge"),
    pytest.param("resolve", {"note": "done"}, id="resolve"),
    pytest.param("notes", {"text": "Patrol sent"}, id="notes"),
]


async def command(
    client: httpx.AsyncClient, alert_id: str, action: str, body: Any, person: str
) -> httpx.Response:
    return await client.post(f"/v1/alerts/{alert_id}/{action}", json=body, headers=bearer(person))


@pytest.mark.parametrize(("action", "body"), COMMANDS)
async def test_command_on_an_unknown_alert_is_404(
    db: Database, client: httpx.AsyncClient, action: str, body: Any
) -> None:
    alert_id = str(uuid4())
    response = await command(client, alert_id, action, body, "awa.hfo")
    assert response.status_code == 404, response.text
    assert alert_id in response.json()["detail"]
    assert await db.count(OUTBOX) == 0


@pytest.mark.parametrize(("action", "body"), COMMANDS)
async def test_command_needs_valid_credentials(
    db: Database, client: httpx.AsyncClient, action: str, body: Any
) -> None:
    alert_id = await routed_alert(db, client)
    for case in AUTH_CASES:
        headers, message = cast(tuple[dict[str, str], str], case.values)
        response = await client.post(f"/v1/alerts/{alert_id}/{action}", json=body, headers=headers)
        assert response.status_code == 401, case.id
        assert message in response.json()["detail"], case.id
    assert await db.count(OUTBOX) == 1  # the alert.raised alone


# What the router decides (who may, in which state; 200 with the state after it) is in
# tests/integration/ingest/test_ingest_alert_commands.py, through the real router.


@pytest.mark.parametrize(
    ("action", "body", "location", "error_type"),
    [
        pytest.param("notes", {"text": ""}, ["body", "text"], "string_too_short", id="empty"),
        pytest.param("notes", {}, ["body", "text"], "missing", id="no-text"),
        pytest.param("notes", None, ["body"], "missing", id="no-body"),
        pytest.param(
            "notes",
            {"text": "x", "urgent": True},
            ["body", "urgent"],
            "extra_forbidden",
            id="notes-unknown-field",
        ),
        pytest.param(
            "resolve",
            {"note": "x", "by": "me"},
            ["body", "by"],
            "extra_forbidden",
            id="resolve-unknown-field",
        ),
    ],
)
async def test_invalid_command_bodies_get_422_naming_the_field(  # noqa: PLR0917 - one table row
    db: Database,
    client: httpx.AsyncClient,
    action: str,
    body: Any,
    location: list[str],
    error_type: str,
) -> None:
    alert_id = await routed_alert(db, client)
    response = await command(client, alert_id, action, body, "awa.hfo")
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert [(e["loc"], e["type"]) for e in errors] == [(location, error_type)]
    assert await db.count(OUTBOX) == 1


@pytest.mark.parametrize(
    ("action", "field"),
    [pytest.param("notes", "text", id="notes"), pytest.param("resolve", "note", id="resolve")],
)
async def test_command_body_over_the_limit_gets_413(
    db: Database, client: httpx.AsyncClient, action: str, field: str
) -> None:
    alert_id = await routed_alert(db, client)
    response = await command(client, alert_id, action, {field: "x" * MAX_BODY}, "awa.hfo")
    assert response.status_code == 413
    assert str(MAX_BODY) in response.json()["detail"]
    assert await db.count(OUTBOX) == 1


# --------------------------------------------------------------------------- listing


async def raise_many(db: Database, client: httpx.AsyncClient) -> list[dict[str, Any]]:
    """Five alerts; the views as created (oldest first)."""
    bodies = [
        alert_request(sector="beni", category="abduction"),
        alert_request(sector="north", category="looting"),
        alert_request(sector="beni", category="looting"),
        alert_request(sector="south", category="displacement"),
        alert_request(sector="north", category="abduction"),
    ]
    views = []
    for body in bodies:
        response = await client.post("/v1/alerts", json=body, headers=bearer())
        assert response.status_code == 201, response.text
        views.append(response.json())
    return views


def newest_first(views: list[dict[str, Any]]) -> list[str]:
    ordered = sorted(views, key=lambda v: (datetime.fromisoformat(v["raised_at"]), v["id"]))
    return [v["id"] for v in reversed(ordered)]


async def list_ids(client: httpx.AsyncClient, **params: Any) -> list[str]:
    response = await client.get("/v1/alerts", params=params, headers=bearer("jo.operator"))
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["next_cursor"] is None
    return [item["id"] for item in page["items"]]


async def test_list_is_newest_first_with_summaries(db: Database, client: httpx.AsyncClient) -> None:
    views = await raise_many(db, client)
    response = await client.get("/v1/alerts", headers=bearer())
    assert response.status_code == 200
    page = response.json()
    assert page["next_cursor"] is None
    assert [item["id"] for item in page["items"]] == newest_first(views)
    by_id = {v["id"]: v for v in views}
    for item in page["items"]:
        view = by_id[item["id"]]
        assert set(item) == {
            "id",
            "status",
            "title",
            "category",
            "severity",
            "urgency",
            "sector",
            "location",
            "origin",
            "raised_by",
            "raised_at",
            "policy_id",
            "level",
            "exhausted",
            "next_escalation_at",
            "targets",
            "acknowledgements",
            "dedup_count",
            "code",
        }
        assert {k: view[k] for k in item} == item
    assert "description" not in response.text


async def test_list_filters(db: Database, client: httpx.AsyncClient) -> None:
    views = await raise_many(db, client)
    await set_state(db, views[2]["id"], status="acknowledged")
    await set_state(db, views[4]["id"], status="resolved")

    def ids(*indexes: int) -> list[str]:
        return newest_first([views[i] for i in indexes])

    assert await list_ids(client, sector="north") == ids(1, 4)
    assert await list_ids(client, category="looting") == ids(1, 2)
    assert await list_ids(client, sector="beni", category="looting") == ids(2)
    assert await list_ids(client, status="raised") == ids(0, 1, 3)
    assert await list_ids(client, status="acknowledged") == ids(2)
    assert await list_ids(client, status="resolved", sector="north") == ids(4)
    assert await list_ids(client, status="merged") == []
    assert await list_ids(client, sector="atlantis") == []
    since = views[2]["raised_at"]
    assert await list_ids(client, since=since) == ids(2, 3, 4)
    assert await list_ids(client, since=since, category="abduction") == ids(4)
    later = datetime.fromisoformat(views[4]["raised_at"]) + timedelta(seconds=1)
    assert await list_ids(client, since=later.isoformat()) == []


@pytest.mark.parametrize(("limit", "sizes"), [(2, [2, 2, 1]), (1, [1] * 5), (5, [5]), (7, [5])])
async def test_cursor_pagination_walks_every_alert_once(
    db: Database, client: httpx.AsyncClient, limit: int, sizes: list[int]
) -> None:
    views = await raise_many(db, client)
    seen: list[str] = []
    pages: list[int] = []
    params: dict[str, Any] = {"limit": limit}
    while True:
        response = await client.get("/v1/alerts", params=params, headers=bearer())
        assert response.status_code == 200, response.text
        page = response.json()
        seen += [item["id"] for item in page["items"]]
        pages.append(len(page["items"]))
        if page["next_cursor"] is None:
            break
        params = {"limit": limit, "cursor": page["next_cursor"]}
    assert pages == sizes
    assert seen == newest_first(views)


async def test_cursor_pagination_keeps_the_filter(db: Database, client: httpx.AsyncClient) -> None:
    views = await raise_many(db, client)
    north: dict[str, str | int] = {"sector": "north", "limit": 1}
    first = await client.get("/v1/alerts", params=north, headers=bearer())
    cursor = first.json()["next_cursor"]
    assert cursor is not None
    # the cursor is no credential
    unauthenticated = await client.get("/v1/alerts", params={**north, "cursor": cursor})
    assert unauthenticated.status_code == 401
    second = await client.get("/v1/alerts", params={**north, "cursor": cursor}, headers=bearer())
    assert second.status_code == 200
    ids = [i["id"] for i in first.json()["items"] + second.json()["items"]]
    assert ids == newest_first([views[1], views[4]])
    assert second.json()["next_cursor"] is None


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        pytest.param("not-a-cursor", id="garbage"),
        pytest.param("%%%", id="not-base64"),
        pytest.param(b64("yesterday|" + str(uuid4())), id="bad-time"),
        pytest.param(b64("2026-11-23T10:00:00+00:00|not-a-uuid"), id="bad-id"),
        pytest.param(b64("2026-11-23T10:00:00+00:00"), id="no-separator"),
        pytest.param(b64(f"2026-11-23T10:00:00+00:00|{uuid4()}|x"), id="extra-part"),
        pytest.param(base64.urlsafe_b64encode(b"\xff\xfe|x").decode(), id="not-utf8"),
        pytest.param(
            b64(f"2026-11-23T10:00:00|{uuid4()}"),
            id="time-without-zone",
        ),
    ],
)
async def test_bad_cursor_is_422_naming_the_cursor(
    db: Database, client: httpx.AsyncClient, cursor: str
) -> None:
    await raise_many(db, client)
    response = await client.get("/v1/alerts", params={"cursor": cursor}, headers=bearer())
    assert response.status_code == 422, response.text
    assert error_locations(response) == [["query", "cursor"]]
    assert "cursor" in response.json()["errors"][0]["msg"]


@pytest.mark.parametrize(
    ("params", "location"),
    [
        pytest.param({"limit": 0}, ["query", "limit"], id="limit-0"),
        pytest.param({"limit": 201}, ["query", "limit"], id="limit-201"),
        pytest.param({"limit": "many"}, ["query", "limit"], id="limit-not-int"),
        pytest.param({"status": "open"}, ["query", "status"], id="unknown-status"),
        pytest.param({"category": "riot"}, ["query", "category"], id="unknown-category"),
        pytest.param({"since": "last week"}, ["query", "since"], id="since-not-a-time"),
        pytest.param(
            {"since": "2026-11-23T10:00:00"},
            ["query", "since"],
            id="since-without-zone",
        ),
    ],
)
async def test_bad_list_parameters_get_422_naming_them(
    client: httpx.AsyncClient, params: dict[str, Any], location: list[str]
) -> None:
    response = await client.get("/v1/alerts", params=params, headers=bearer())
    assert response.status_code == 422, response.text
    assert error_locations(response) == [location]


async def test_limit_bounds_are_accepted(db: Database, client: httpx.AsyncClient) -> None:
    views = await raise_many(db, client)
    for limit in (1, 200):
        response = await client.get("/v1/alerts", params={"limit": limit}, headers=bearer())
        assert response.status_code == 200
        assert len(response.json()["items"]) == min(limit, len(views))


async def test_list_needs_valid_credentials(client: httpx.AsyncClient) -> None:
    for case in AUTH_CASES:
        headers, message = cast(tuple[dict[str, str], str], case.values)
        response = await client.get("/v1/alerts", headers=headers)
        assert response.status_code == 401, case.id
        assert message in response.json()["detail"], case.id


# --------------------------------------------------------------------------- input edge cases


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "where"),
    [
        pytest.param(
            "POST",
            "/v1/alerts",
            {"json": alert_request(title="Armed men\u0000")},
            "the body",
            id="nul-in-body",
        ),
        pytest.param(
            "GET",
            "/v1/alerts",
            {"params": {"sector": "beni\u0000"}},
            "the query string",
            id="nul-in-query",
        ),
        pytest.param(
            "POST",
            "/v1/alerts",
            {"json": alert_request(), "headers": {"Idempotency-Key": "key\u0000"}},
            "a header",
            id="nul-in-header",
        ),
    ],
)
async def test_a_nul_character_anywhere_is_a_422_and_nothing_is_written(  # noqa: PLR0917 - pytest parameters
    db: Database,
    client: httpx.AsyncClient,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    where: str,
) -> None:
    # PostgreSQL text cannot hold NUL: refused at the edge, never a 500 from the database.
    kwargs = dict(kwargs)  # the parameters are shared by both databases' runs
    headers = {**bearer(), **kwargs.pop("headers", {})}
    try:
        response = await client.request(method, path, headers=headers, **kwargs)
    except httpx.LocalProtocolError:
        pytest.skip("this HTTP client refuses NUL in a header before sending it")
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["detail"].startswith(f"{where} contains a NUL character")
    assert await db.count(OUTBOX) == 0
    assert await db.count(AlertViewRecord) == 0


@pytest.mark.parametrize("since", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"])
async def test_a_time_utc_cannot_hold_is_a_422(client: httpx.AsyncClient, since: str) -> None:
    response = await client.get("/v1/alerts", params={"since": since}, headers=bearer())
    assert response.status_code == 422, response.text
    assert "out of range once converted to UTC" in response.text
    due = await client.post(
        "/v1/messages",
        json={"to": {"persons": ["awa.hfo"]}, "subject": "s", "body": "b", "requires_ack": True,
              "ack_due_at": since},
        headers=bearer(),
    )  # fmt: skip
    assert due.status_code == 422, due.text
