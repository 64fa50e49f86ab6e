"""``GET /v1/audit/events`` on a real database: auditors only, filters, pagination,
redaction of protected fields, and each read staged as ``audit.accessed`` in ingest's
outbox. Runs on SQLite and PostgreSQL (no broker: the app's lifespan is not run)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
import yaml
from sqlalchemy import select, text

from services.ingest.deps import ApiContext
from services.ingest.service import IngestService
from services.ingest.stream.hub import StreamHub
from services.ingest.tables import OUTBOX
from services.ingest.verdicts import VerdictWaiters
from shared.audit_export import REDACTED, exported, verify_export
from shared.auth import Authenticator, mint_token
from shared.contracts import ALERT_STATE_CHANGED, AUDIT_ACCESSED
from shared.contracts.alerts import Source
from shared.contracts.audit import AuditAccessedV1
from shared.directory import Directory
from shared.directory_store import DirectorySource
from shared.envelope import Envelope
from shared.event_log import EventRecord, append, field_digest
from shared.settings import Settings
from shared.source_protection import SourceKeyRing
from tests.support.builders import SOURCE, raised_envelope, state_changed
from tests.support.database import Database
from tests.support.directories import EXAMPLE_DIRECTORY

pytestmark = pytest.mark.integration

JWT_SECRET = "audit-jwt-secret-" + "0123456789abcdef" * 3
AUDITOR = "audit.one"  # cleared CONFIDENTIAL: sees sources redacted
STRICT_AUDITOR = "audit.strict"  # added below: cleared STRICTLY CONFIDENTIAL
EXPORTED_KEYS = {
    "seq", "event_id", "type", "schema_version", "occurred_at", "recorded_at", "producer",
    "actor", "correlation_id", "causation_id", "classification", "payload", "payload_sha256",
    "redacted", "protected_sha256", "prev_hash", "hash",
}  # fmt: skip


def audit_directory() -> Directory:
    """The reference directory plus an auditor cleared STRICTLY CONFIDENTIAL."""
    data = yaml.safe_load(EXAMPLE_DIRECTORY.read_text(encoding="utf-8"))
    data["people"].append(
        {
            "id": STRICT_AUDITOR,
            "name": "OIOS senior auditor",
            "component": "civilian",
            "roles": ["auditor"],
            "sectors": ["*"],
            "clearance": "strictly_confidential",
            "contacts": [],
        }
    )
    return Directory.model_validate(data)


def bearer(person_id: str = AUDITOR) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(person_id, JWT_SECRET)}"}


def _app(db: Database) -> Any:
    settings = Settings(jwt_secret=JWT_SECRET, directory=EXAMPLE_DIRECTORY, database_url=db.url)
    app = IngestService(settings).app
    app.state.api = ApiContext(
        DirectorySource.fixed(audit_directory()),
        db.sessions,
        Authenticator(secret=JWT_SECRET),
        StreamHub(db.sessions),
        SourceKeyRing.from_settings(settings),
        VerdictWaiters(db.sessions),
    )
    return app


@pytest.fixture
async def client(db: Database) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=_app(db))
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest.test") as client:
        yield client


async def write_log(db: Database, *envelopes: Envelope) -> None:
    """Append to the router's log as the router does: one transaction."""
    async with db.sessions() as session, session.begin():
        await append(session, envelopes)


async def log_records(db: Database) -> list[EventRecord]:
    async with db.sessions() as session:
        return list((await session.scalars(select(EventRecord).order_by(EventRecord.seq))).all())


async def accesses(db: Database) -> list[Envelope]:
    """The ``audit.accessed`` envelopes staged in ingest's outbox, oldest first."""
    async with db.sessions() as session:
        rows = (await session.execute(OUTBOX.select().order_by(OUTBOX.c.position))).all()
    envelopes = [Envelope.model_validate_json(bytes(r.body)) for r in rows]
    assert all(e.type == AUDIT_ACCESSED for e in envelopes)
    return envelopes


async def events(client: httpx.AsyncClient, person: str = AUDITOR, **params: Any) -> dict[str, Any]:
    response = await client.get("/v1/audit/events", params=params, headers=bearer(person))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def an_alert_story(db: Database) -> UUID:
    """An alert raised with a source (log record 1), then its state change (record 2)."""
    alert_id = uuid4()
    raised = raised_envelope(alert_id=alert_id, source=SOURCE)
    changed = state_changed(alert_id)
    await write_log(db, raised, changed.model_copy(update={"causation_id": raised.id}))
    return alert_id


# --------------------------------------------------------------------------- who may read


@pytest.mark.parametrize("person", ["awa.hfo", "jo.operator"])
async def test_only_auditors_may_read_the_log(
    db: Database, client: httpx.AsyncClient, person: str
) -> None:
    await an_alert_story(db)
    response = await client.get("/v1/audit/events", headers=bearer(person))
    assert response.status_code == 403
    assert response.json()["detail"].endswith(") may not audit")
    assert person in response.json()["detail"]
    # Refused before the query is even looked at.
    bad = await client.get("/v1/audit/events?cursor=%%%", headers=bearer(person))
    assert bad.status_code == 403
    assert await accesses(db) == []


async def test_no_token_is_401(db: Database, client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/audit/events")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert await accesses(db) == []


# --------------------------------------------------------------------------- reading


async def test_a_strictly_confidential_auditor_sees_every_record_and_the_source(
    db: Database, client: httpx.AsyncClient
) -> None:
    alert_id = await an_alert_story(db)
    await an_alert_story(db)
    page = await events(client, STRICT_AUDITOR)

    records = await log_records(db)
    assert page["next_cursor"] is None
    assert [i["seq"] for i in page["items"]] == [1, 2, 3, 4]
    assert page["items"] == [exported(r, reveal_protected=True) for r in records]
    first = page["items"][0]
    assert set(first) == EXPORTED_KEYS
    assert (first["type"], first["correlation_id"]) == ("alert.raised", str(alert_id))
    assert (first["payload"]["source"], first["redacted"]) == (SOURCE, [])
    assert page["items"][1]["prev_hash"] == first["hash"]
    assert page["items"][1]["causation_id"] == first["event_id"]
    assert verify_export(page["items"]) == (4, None)

    [access] = await accesses(db)
    assert (access.producer, access.actor) == ("ingest", STRICT_AUDITOR)
    assert access.correlation_id not in {r.correlation_id for r in records}
    assert AuditAccessedV1.model_validate(access.payload) == AuditAccessedV1(
        person_id=STRICT_AUDITOR,
        via="api",
        action="list",
        filters={"limit": "100"},
        protected_revealed=True,
    )


async def test_a_confidential_auditor_sees_the_source_redacted_and_the_export_verifies(
    db: Database, client: httpx.AsyncClient
) -> None:
    await an_alert_story(db)
    items = (await events(client, AUDITOR))["items"]

    raised, changed = items
    assert raised["payload"]["source"] == REDACTED
    assert SOURCE["name"] not in str(raised)
    assert raised["redacted"] == ["source"]
    assert changed["redacted"] == []
    [record, _] = await log_records(db)
    assert raised["payload_sha256"] == exported(record, reveal_protected=True)["payload_sha256"]
    assert verify_export(items) == (2, None)

    [access] = await accesses(db)
    assert access.payload["person_id"] == AUDITOR
    assert access.payload["protected_revealed"] is False


async def test_a_sealed_source_is_opened_for_strict_clearance_only(
    db: Database, client: httpx.AsyncClient
) -> None:
    """An ``alert.raised`` v2 (as ingest writes it now): the log holds the source sealed."""
    alert_id = uuid4()
    v1 = raised_envelope(alert_id=alert_id)
    sealed = SourceKeyRing.from_settings(Settings()).seal(Source(**SOURCE), alert_id)
    payload = {**v1.payload, "source": sealed.model_dump(mode="json")}
    await write_log(db, v1.model_copy(update={"schema_version": 2, "payload": payload}))

    [opened] = (await events(client, STRICT_AUDITOR))["items"]
    [hidden] = (await events(client, AUDITOR))["items"]
    assert (opened["schema_version"], opened["payload"]["source"]) == (2, SOURCE)
    assert opened["redacted"] == []
    assert (hidden["payload"]["source"], hidden["redacted"]) == (REDACTED, ["source"])
    assert SOURCE["name"] not in str(hidden)
    # Both stand on the digest of what the log holds: the sealed form.
    for item in (opened, hidden):
        assert item["protected_sha256"] == {"source": field_digest(payload["source"])}
        assert verify_export([item]) == (1, None)


async def test_an_empty_log_is_an_empty_page(db: Database, client: httpx.AsyncClient) -> None:
    assert await events(client) == {"items": [], "next_cursor": None}
    assert len(await accesses(db)) == 1


# --------------------------------------------------------------------------- filters


async def test_alert_and_type_filters(db: Database, client: httpx.AsyncClient) -> None:
    first = await an_alert_story(db)
    second = await an_alert_story(db)

    mine = (await events(client, alert=str(first)))["items"]
    assert [(i["seq"], i["correlation_id"]) for i in mine] == [(1, str(first)), (2, str(first))]
    assert verify_export(mine) == (2, None)

    changes = (await events(client, type=ALERT_STATE_CHANGED))["items"]
    assert [i["seq"] for i in changes] == [2, 4]
    assert verify_export(changes) == (2, None)  # gaps are not errors

    both = (await events(client, alert=str(second).upper(), type="alert.raised"))["items"]
    assert [i["seq"] for i in both] == [3]
    assert (await events(client, type="no.such.type"))["items"] == []

    recorded = [a.payload["filters"] for a in await accesses(db)]
    assert recorded == [
        {"alert": str(first), "limit": "100"},
        {"type": ALERT_STATE_CHANGED, "limit": "100"},
        {"alert": str(second), "type": "alert.raised", "limit": "100"},
        {"type": "no.such.type", "limit": "100"},
    ]


async def test_since_and_until_are_on_recorded_at(db: Database, client: httpx.AsyncClient) -> None:
    await an_alert_story(db)
    await asyncio.sleep(0.01)  # the second batch is recorded strictly later
    await an_alert_story(db)
    records = await log_records(db)
    boundary = records[2].recorded_at
    assert records[1].recorded_at < boundary

    later = (await events(client, since=boundary.isoformat()))["items"]
    assert [i["seq"] for i in later] == [3, 4]  # since is inclusive
    earlier = (await events(client, until=boundary.isoformat()))["items"]
    assert [i["seq"] for i in earlier] == [1, 2]  # until is exclusive
    window = await events(
        client, since=records[0].recorded_at.isoformat(), until=boundary.isoformat()
    )
    assert [i["seq"] for i in window["items"]] == [1, 2]

    first = (await accesses(db))[0]
    assert first.payload["filters"] == {"since": boundary.isoformat(), "limit": "100"}


# --------------------------------------------------------------------------- pagination


async def test_pages_reach_every_record_exactly_once(
    db: Database, client: httpx.AsyncClient
) -> None:
    for _ in range(4):
        await an_alert_story(db)  # 8 records
    seen: list[dict[str, Any]] = []
    cursors: list[str] = []
    params: dict[str, Any] = {"limit": 3}
    while True:
        page = await events(client, **params)
        assert len(page["items"]) <= 3
        seen.extend(page["items"])
        if page["next_cursor"] is None:
            break
        cursors.append(page["next_cursor"])
        params["cursor"] = page["next_cursor"]
    assert [i["seq"] for i in seen] == list(range(1, 9))
    assert verify_export(seen) == (8, None)

    recorded = [a.payload["filters"] for a in await accesses(db)]
    assert recorded == [
        {"limit": "3"},
        {"limit": "3", "cursor": cursors[0]},
        {"limit": "3", "cursor": cursors[1]},
    ]

    # A filtered listing pages too; an exactly full last page has no next cursor.
    page = await events(client, type=ALERT_STATE_CHANGED, limit=2)
    assert [i["seq"] for i in page["items"]] == [2, 4]
    rest = await events(client, type=ALERT_STATE_CHANGED, limit=2, cursor=page["next_cursor"])
    assert ([i["seq"] for i in rest["items"]], rest["next_cursor"]) == ([6, 8], None)


# --------------------------------------------------------------------------- bad requests


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode()


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        pytest.param({"cursor": "not a cursor!"}, "cursor", id="garbage-cursor"),
        pytest.param({"cursor": _b64("seq:-1")}, "cursor", id="negative-cursor"),
        pytest.param({"cursor": _b64("2026-11-23|x")}, "cursor", id="alerts-cursor"),
        pytest.param({"since": "2026-11-23T10:00:00"}, "since", id="naive-since"),
        pytest.param({"until": "yesterday"}, "until", id="malformed-until"),
        pytest.param({"alert": "not-a-uuid"}, "alert", id="bad-alert"),
        pytest.param({"limit": 0}, "limit", id="limit-0"),
        pytest.param({"limit": 1001}, "limit", id="limit-1001"),
    ],
)
async def test_bad_parameters_are_422_naming_them_and_nothing_is_read(
    db: Database, client: httpx.AsyncClient, params: dict[str, Any], parameter: str
) -> None:
    await an_alert_story(db)
    response = await client.get("/v1/audit/events", params=params, headers=bearer())
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error["loc"] == ["query", parameter]
    assert await accesses(db) == []


async def test_no_read_when_the_access_cannot_be_recorded(db: Database) -> None:
    await an_alert_story(db)
    async with db.engine.begin() as connection:
        await connection.execute(text(f"DROP TABLE {OUTBOX.name}"))
    transport = httpx.ASGITransport(app=_app(db), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest.test") as client:
        response = await client.get("/v1/audit/events", headers=bearer(STRICT_AUDITOR))
    assert response.status_code == 500
    assert SOURCE["name"] not in response.text
