"""Ingest's read side: events of the other services update the alert view it serves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import uuid4

import httpx
import pytest

from services.ingest.api import ApiContext
from services.ingest.projections import apply_event
from services.ingest.service import IngestService
from services.ingest.tables import OUTBOX, TimelineRecord
from services.router.alerts import plan_first_level
from shared.auth import mint_token
from shared.contracts import NOTIFICATION_DELIVERED, NOTIFICATION_FAILED
from shared.contracts.notifications import NotificationDeliveredV1, NotificationFailedV1
from shared.envelope import Envelope
from shared.settings import Settings
from tests.integration.conftest import Database
from tests.unit.helpers import (
    EXAMPLE_DIRECTORY,
    SOURCE,
    alert_request,
    directory_with_sms_target,
)

pytestmark = pytest.mark.integration

JWT_SECRET = "projection-jwt-secret-" + "0123456789abcdef" * 3
HEADERS = {"Authorization": f"Bearer {mint_token('jo.operator', JWT_SECRET)}"}


@pytest.fixture
async def client(db: Database) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(jwt_secret=JWT_SECRET, directory=EXAMPLE_DIRECTORY, database_url=db.url)
    app = IngestService(settings).app
    app.state.api = ApiContext(directory_with_sms_target(), db.sessions, JWT_SECRET)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest.test") as client:
        yield client


async def apply(db: Database, *envelopes: Envelope) -> None:
    for envelope in envelopes:
        async with db.sessions() as session, session.begin():
            await apply_event(session, envelope)


async def raise_alert(db: Database, client: httpx.AsyncClient, **overrides: object) -> Envelope:
    """Raise through the API; the ``alert.raised`` envelope ingest staged for the bus."""
    response = await client.post(
        "/v1/alerts", json=alert_request(source=SOURCE, **overrides), headers=HEADERS
    )
    assert response.status_code == 201, response.text
    async with db.sessions() as session:
        rows = (await session.execute(OUTBOX.select())).all()
    [raised] = [Envelope.model_validate_json(bytes(r.body)) for r in rows]
    return raised


def outcome(requested: Envelope, *, failed: bool = False) -> Envelope:
    fields = {
        "notification_id": requested.payload["notification_id"],
        "alert_id": requested.payload["alert_id"],
        "person_id": requested.payload["person_id"],
        "channel": "webhook",
        "attempts": 2,
    }
    if failed:
        return requested.caused(
            NOTIFICATION_FAILED,
            NotificationFailedV1(**fields, error="WebhookRejected: HTTP 500"),
            producer="notifier",
        )
    return requested.caused(
        NOTIFICATION_DELIVERED, NotificationDeliveredV1(**fields), producer="notifier"
    )


async def test_view_follows_the_alert_through_routing_and_delivery(
    db: Database, client: httpx.AsyncClient
) -> None:
    raised = await raise_alert(db, client, category="displacement", sector="north")
    planned = plan_first_level(directory_with_sms_target(), raised)
    requested = [e for e in planned if e.type == "notification.requested"]
    [to_lucas] = requested

    # the bus delivers ingest's own alert.raised back to it, then the router's events
    await apply(db, raised, *planned, outcome(to_lucas))

    response = await client.get(f"/v1/alerts/{raised.correlation_id}", headers=HEADERS)
    assert response.status_code == 200
    view = response.json()
    assert view["status"] == "triggered"
    assert view["policy_id"] == "can-relay"
    assert view["level"] == 1
    assert view["targets"] == ["amani.cla", "lucas.ho"]
    assert view["notified"] == ["lucas.ho"]
    assert sorted((d["person_id"], d["status"]) for d in view["deliveries"]) == [
        ("amani.cla", "unreachable"),
        ("lucas.ho", "delivered"),
    ]
    types = [t["type"] for t in view["timeline"]]
    assert types.count("alert.raised") == 1
    assert set(types) == {
        "alert.raised",
        "alert.triggered",
        "alert.target_unreachable",
        "notification.requested",
        "notification.delivered",
    }
    # neither the reporting source nor a contact address reaches the read side
    assert SOURCE["name"] not in response.text
    assert SOURCE["contact"] not in response.text
    assert "http://127.0.0.1:9101/lucas" not in response.text


async def test_replayed_events_change_nothing(db: Database, client: httpx.AsyncClient) -> None:
    raised = await raise_alert(db, client)
    planned = plan_first_level(directory_with_sms_target(), raised)
    await apply(db, *planned)
    before = await db.count(TimelineRecord)
    await apply(db, *planned, *planned)
    assert await db.count(TimelineRecord) == before == 1 + len(planned)


async def test_failure_is_shown_with_its_error(db: Database, client: httpx.AsyncClient) -> None:
    raised = await raise_alert(db, client)
    planned = plan_first_level(directory_with_sms_target(), raised)
    [requested] = [e for e in planned if e.type == "notification.requested"]
    await apply(db, *planned, outcome(requested, failed=True))
    view = (await client.get(f"/v1/alerts/{raised.correlation_id}", headers=HEADERS)).json()
    assert view["notified"] == []
    [failure] = view["deliveries"]
    assert failure["status"] == "failed"
    assert failure["error"] == "WebhookRejected: HTTP 500"
    assert failure["notification_id"] == requested.payload["notification_id"]


async def test_late_raised_event_does_not_move_a_triggered_alert_back(
    db: Database, client: httpx.AsyncClient
) -> None:
    raised = await raise_alert(db, client)
    planned = plan_first_level(directory_with_sms_target(), raised)
    await apply(db, planned[0], raised)  # consumed out of order
    view = (await client.get(f"/v1/alerts/{raised.correlation_id}", headers=HEADERS)).json()
    assert view["status"] == "triggered"


async def test_events_of_unknown_alerts_are_ignored(db: Database) -> None:
    stray = Envelope(
        type="alert.triggered",
        producer="router",
        actor="router",
        correlation_id=uuid4(),
        payload={"alert_id": str(uuid4()), "policy_id": None, "level": 1, "targets": []},
    )
    await apply(db, stray)
    assert await db.count(TimelineRecord) == 0
