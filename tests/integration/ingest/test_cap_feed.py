"""Releasing alerts to partners, and the partners' CAP feed (docs/cap.md, "The partner feed").

The release is a command: ingest checks the role, the real router (pumped in-process)
checks need-to-know and the classification and puts ``alert.released`` on the log. A
partner reads, with its token, an Atom feed of exactly the released alerts of its
sectors, each entry linking a CAP message whose scope is Public. Runs on SQLite and
PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx
import pytest
from lxml import etree
from sqlalchemy import event, select

from services.ingest.alerts import partner_feed, queries
from services.ingest.alerts.cap_export import versions
from services.ingest.cap.atom import ATOM, to_xml
from services.ingest.cap.profile import CapProfile
from services.ingest.cap.schema import NAMESPACE, schema_errors
from shared.directory import Directory
from shared.event_log import EventRecord
from shared.partners import DEMO_TOKEN, Partner, token_digest
from tests.support.builders import SOURCE, alert_request
from tests.support.database import Database
from tests.support.directories import example_directory
from tests.support.ingest_client import IngestClient, ingest_client
from tests.support.tokens import JWT_SECRET, bearer

pytestmark = pytest.mark.integration

NS = {"a": ATOM, "cap": NAMESPACE}
BENI_TOKEN, NORTH_TOKEN = "beni-partner-token-0123456789", "north-partner-token-0123456789"


def with_partners() -> Directory:
    partners = [
        Partner(id="ocha-beni", name="OCHA Beni", token_sha256=token_digest(BENI_TOKEN),
                sectors=["beni"]),
        Partner(id="wfp-north", name="WFP North", token_sha256=token_digest(NORTH_TOKEN),
                sectors=["north"]),
        Partner(id="demo", name="Demo", token_sha256=token_digest(DEMO_TOKEN)),
    ]  # fmt: skip
    return example_directory().model_copy(update={"partners": partners})


@pytest.fixture
async def client(db: Database) -> AsyncIterator[IngestClient]:
    async with ingest_client(
        db, JWT_SECRET, directory=with_partners(), router=True, public_url="https://joc.example/"
    ) as client:
        yield client


def partner(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def raised(client: IngestClient, **overrides: Any) -> str:
    fields: dict[str, Any] = {"classification": "unclassified", "source": SOURCE} | overrides
    response = await client.post(
        "/v1/alerts", json=alert_request(**fields), headers=bearer("jo.operator")
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def release(client: IngestClient, alert_id: str, person: str = "jo.operator") -> Any:
    return await client.post(f"/v1/alerts/{alert_id}/release", headers=bearer(person))


async def feed(client: httpx.AsyncClient, token: str = BENI_TOKEN) -> etree._Element:
    response = await client.get("/v1/cap/feed", headers=partner(token))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/atom+xml")
    return etree.fromstring(response.content)


def entry_ids(root: etree._Element) -> list[str]:
    return [str(e.findtext("a:id", namespaces=NS)) for e in root.findall("a:entry", NS)]


async def logged(db: Database, type_: str, alert_id: str) -> int:
    async with db.sessions() as session:
        rows = await session.scalars(
            select(EventRecord.seq).where(
                EventRecord.type == type_, EventRecord.correlation_id == alert_id
            )
        )
        return len(rows.all())


async def test_a_released_alert_is_on_the_log_and_in_its_partners_feed(
    db: Database, client: IngestClient
) -> None:
    alert_id = await raised(client, title="Armed men near Mavivi")
    before = await client.get(f"/v1/alerts/{alert_id}.cap", headers=bearer())
    assert etree.fromstring(before.content).findtext("cap:scope", namespaces=NS) == "Restricted"
    assert entry_ids(await feed(client)) == []

    response = await release(client, alert_id)

    assert response.status_code == 200, response.text
    assert response.json()["released_at"] is not None, response.json()["timeline"]
    assert "alert.released" in [e["type"] for e in response.json()["timeline"]]
    assert await logged(db, "alert.released", alert_id) == 1
    # The beni partner reads it; the north partner does not.
    root = await feed(client)
    assert entry_ids(root) == [f"urn:uuid:{alert_id}"]
    assert entry_ids(await feed(client, NORTH_TOKEN)) == []
    [entry] = root.findall("a:entry", NS)
    assert entry.findtext("a:title", namespaces=NS) == "Armed men near Mavivi"
    link = entry.find("a:link[@rel='alternate']", NS)
    assert link is not None
    assert link.get("type") == "application/cap+xml"
    assert link.get("href") == f"https://joc.example/v1/cap/alerts/{alert_id}"
    self_link = root.find("a:link[@rel='self']", NS)
    assert self_link is not None
    assert self_link.get("href") == "https://joc.example/v1/cap/feed"
    # The entry's link, with the partner's token: the CAP message, Public, and no source.
    message = await client.get(f"/v1/cap/alerts/{alert_id}", headers=partner(BENI_TOKEN))
    assert message.status_code == 200, message.text
    cap = etree.fromstring(message.content)
    assert schema_errors(cap) == []
    assert cap.findtext("cap:scope", namespaces=NS) == "Public"
    assert cap.find("cap:restriction", NS) is None
    assert SOURCE["name"] not in message.text
    assert SOURCE["contact"] not in message.text


async def test_releasing_twice_changes_nothing(db: Database, client: IngestClient) -> None:
    alert_id = await raised(client)
    first = await release(client, alert_id)
    second = await release(client, alert_id, "grace.dsrsg")
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json()["released_at"] == first.json()["released_at"]
    assert await logged(db, "alert.released", alert_id) == 1


@pytest.mark.parametrize(
    "refusal",
    [
        # The router: only UNCLASSIFIED leaves the mission, whoever asks.
        pytest.param(
            ("jo.operator", {"classification": "confidential"}, 409, "only unclassified"),
            id="classified",
        ),
        # Ingest: a role that does not release (the permissions table).
        pytest.param(("col.okafor", {}, 403, "may not release"), id="military"),
        pytest.param(("amani.cla", {}, 403, "may not release"), id="cla"),
        # The router: need-to-know, the same 404 as for an alert that does not exist.
        pytest.param(("lucas.ho", {"sector": "south"}, 404, "no alert"), id="not-concerned"),
    ],
)
async def test_a_refused_release_says_why_and_feeds_nothing(
    db: Database, client: IngestClient, refusal: tuple[str, dict[str, Any], int, str]
) -> None:
    person, overrides, status, reason = refusal
    alert_id = await raised(client, **overrides)
    response = await release(client, alert_id, person)
    assert response.status_code == status, response.text
    assert reason in response.text
    assert await logged(db, "alert.released", alert_id) == 0
    assert entry_ids(await feed(client)) == []
    unreleased = await client.get(f"/v1/cap/alerts/{alert_id}", headers=partner(BENI_TOKEN))
    assert unreleased.status_code == 404


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing Authorization"),
        (partner("not-a-partner-token"), "not a partner token"),
        # A person's token is not a partner's.
        (bearer("jo.operator"), "not a partner token"),
    ],
)
async def test_the_feed_needs_a_partner_token(
    client: IngestClient, headers: dict[str, str], reason: str
) -> None:
    response = await client.get("/v1/cap/feed", headers=headers)
    assert response.status_code == 401
    assert reason in response.text
    assert response.headers["www-authenticate"] == "Bearer"


async def test_the_published_demo_token_holds_only_in_development(db: Database) -> None:
    for env, status in (("production", 401), ("development", 200)):
        async with ingest_client(db, JWT_SECRET, directory=with_partners(), env=env) as client:
            response = await client.get("/v1/cap/feed", headers=partner(DEMO_TOKEN))
            assert response.status_code == status, (env, response.text)


async def test_the_feed_is_read_in_two_queries_however_many_alerts_it_holds(
    db: Database, client: IngestClient
) -> None:
    ids = [await raised(client, title=f"Report {n}") for n in range(5)]
    for alert_id in ids:
        assert (await release(client, alert_id)).status_code == 200
    # Resolved after its release: a newer CAP version than the others, read off its timeline.
    resolved = await client.post(
        f"/v1/alerts/{ids[1]}/resolve", json={"note": "calm again"}, headers=bearer()
    )
    assert resolved.status_code == 200, resolved.text
    selects: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append(statement)

    beni = with_partners().partners[0]
    async with db.sessions() as session:
        # The session's own connection: the app's relays and router share the engine.
        connection = (await session.connection()).sync_connection
        assert connection is not None
        event.listen(connection, "before_cursor_execute", record)
        try:
            views = await partner_feed.released_alerts(session, beni)
        finally:
            event.remove(connection, "before_cursor_execute", record)

    assert len(selects) == 2, selects  # the alerts, then all their timelines
    assert sorted(str(v.id) for v in views) == sorted(ids)
    # Most recently released first, ties by id (a stable sort keeps the id order).
    by_id = sorted(views, key=lambda v: str(v.id))
    assert views == sorted(by_id, key=lambda v: v.released_at or v.raised_at, reverse=True)
    # Each alert as read alone: the same view (timeline and its order), so the same entry.
    async with db.sessions() as session:
        alone = [await queries.get_alert(session, UUID(str(v.id))) for v in views]
    assert views == alone
    # The resolution is on its own alert's timeline only: grouped by alert, not mixed.
    assert {str(v.id): versions(v)[-1].msg_type for v in views} == {
        alert_id: "Update" if alert_id == ids[1] else "Alert" for alert_id in ids
    }
    assert [versions(v)[-1].sent for v in views] == [
        versions(v)[-1].sent for v in alone if v is not None
    ]
    profile = CapProfile(sender="joc@mission.example", public_url="https://joc.example")
    read_at = datetime.now(UTC)
    assert to_xml(partner_feed.feed_of(views, profile, read_at)) == to_xml(
        partner_feed.feed_of([v for v in alone if v is not None], profile, read_at)
    )
