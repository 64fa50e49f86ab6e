"""CAP 1.2 export over HTTP: ``GET /v1/alerts/{id}.cap`` and ``Accept: application/cap+xml``
give the same schema-valid message, under the same need-to-know as the JSON view, and
never the source. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import UUID

import httpx
import pytest
from lxml import etree

from services.ingest.alerts.projections import apply_event
from services.ingest.cap.schema import NAMESPACE, schema_errors
from shared.contracts import ALERT_ACKNOWLEDGED
from shared.envelope import Envelope
from tests.support.builders import SOURCE, alert_request, state_changed
from tests.support.database import Database
from tests.support.ingest_client import ingest_client
from tests.support.tokens import JWT_SECRET, bearer

pytestmark = pytest.mark.integration

CAP = "application/cap+xml"
NS = {"cap": NAMESPACE}


@pytest.fixture
async def client(db: Database) -> AsyncIterator[httpx.AsyncClient]:
    async with ingest_client(
        db, JWT_SECRET, cap_sender="joc@monusco.example", cap_language="fr"
    ) as client:
        yield client


async def raised(client: httpx.AsyncClient, **overrides: object) -> str:
    response = await client.post(
        "/v1/alerts", json=alert_request(source=SOURCE, **overrides), headers=bearer()
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_an_alert_as_cap_by_suffix_and_by_accept(client: httpx.AsyncClient) -> None:
    alert_id = await raised(client, title="Abduction on the Mavivi road")

    by_suffix = await client.get(f"/v1/alerts/{alert_id}.cap", headers=bearer())
    by_accept = await client.get(f"/v1/alerts/{alert_id}", headers=bearer() | {"Accept": CAP})

    for response in (by_suffix, by_accept):
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith(CAP)
    assert by_suffix.content == by_accept.content
    root = etree.fromstring(by_suffix.content)
    assert schema_errors(root) == []
    assert root.findtext("cap:identifier", namespaces=NS) == alert_id
    assert root.findtext("cap:sender", namespaces=NS) == "joc@monusco.example"
    assert root.findtext("cap:info/cap:language", namespaces=NS) == "fr"
    assert root.findtext("cap:info/cap:headline", namespaces=NS) == "Abduction on the Mavivi road"
    # The source is sealed on the alert and never part of a view: nowhere in the message.
    assert SOURCE["name"] not in by_suffix.text
    assert SOURCE["contact"] not in by_suffix.text
    # JSON stays the default.
    plain = await client.get(f"/v1/alerts/{alert_id}", headers=bearer())
    assert plain.headers["content-type"].startswith("application/json")


async def test_a_later_state_is_an_update_referencing_the_alert(
    db: Database, client: httpx.AsyncClient
) -> None:
    alert_id = await raised(client)
    acknowledged = Envelope(
        type=ALERT_ACKNOWLEDGED,
        producer="router",
        actor="awa.hfo",
        correlation_id=UUID(alert_id),
        payload={
            "alert_id": alert_id,
            "person_id": "awa.hfo",
            "acknowledged_by": ["awa.hfo"],
            "ack_timeout_at": None,
        },
    )
    async with db.sessions.begin() as session:  # what the router tells the views
        await apply_event(session, state_changed(alert_id))
        await apply_event(session, acknowledged)

    root = etree.fromstring(
        (await client.get(f"/v1/alerts/{alert_id}.cap", headers=bearer())).content
    )
    assert schema_errors(root) == []
    assert root.findtext("cap:msgType", namespaces=NS) == "Update"
    assert root.findtext("cap:identifier", namespaces=NS) == f"{alert_id}.1"
    references = root.findtext("cap:references", namespaces=NS) or ""
    assert references.startswith(f"joc@monusco.example,{alert_id},")


@pytest.mark.parametrize("path", ["/v1/alerts/{id}.cap", "/v1/alerts/{id}"])
async def test_need_to_know_as_for_the_json_view(client: httpx.AsyncClient, path: str) -> None:
    # A confidential alert in north: col.okafor commands beni only.
    alert_id = await raised(client, sector="north")
    url = path.format(id=alert_id)
    json_answer = await client.get(f"/v1/alerts/{alert_id}", headers=bearer("col.okafor"))
    cap_answer = await client.get(url, headers=bearer("col.okafor") | {"Accept": CAP})
    assert json_answer.status_code == cap_answer.status_code == 404
    assert alert_id in cap_answer.json()["detail"]


async def test_an_unknown_alert_or_a_bad_id(client: httpx.AsyncClient) -> None:
    unknown = await client.get(
        "/v1/alerts/1b4e28ba-2fa1-11d2-883f-0016d3cca427.cap", headers=bearer()
    )
    assert unknown.status_code == 404
    bad = await client.get("/v1/alerts/not-an-id.cap", headers=bearer())
    assert bad.status_code == 422
    assert "alert_id" in bad.text
    anonymous = await client.get("/v1/alerts/1b4e28ba-2fa1-11d2-883f-0016d3cca427.cap")
    assert anonymous.status_code == 401
