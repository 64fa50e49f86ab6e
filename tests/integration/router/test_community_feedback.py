"""Feedback to a community reporter: only what an officer releases, only to the reporter.

Through ingest's API and the real router (pumped in-process, both backends): a community
contact's SMS raises an alert with them as its reporter; the officer who acknowledges or
resolves it with a ``community_message`` makes the router stage exactly one
``notification.requested`` of kind ``community_feedback`` to the contact's id on the
``community_sms`` channel, the officer as its actor. No message, no reporter: nothing is
sent. A reporter gone from the directory is ``alert.target_unreachable``.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import pytest
import yaml

from services.ingest.alerts.service import write_alert
from services.ingest.sms.routes import INBOUND_PATH
from shared.auth import mint_token
from shared.community_contacts import community_reference
from shared.contracts import ALERT_RAISED, ALERT_TARGET_UNREACHABLE, NOTIFICATION_REQUESTED
from shared.contracts.alerts import RaiseAlertV1
from shared.directory import Directory
from shared.envelope import Envelope
from shared.source_protection import SourceKeyRing
from tests.support.builders import alert_request
from tests.support.database import Database
from tests.support.directories import EXAMPLE_DIRECTORY, focal_point, with_focal_points
from tests.support.ingest_client import IngestClient, ingest_client

pytestmark = pytest.mark.integration

JWT_SECRET = "community-feedback-jwt-secret-" + "0123456789abcdef" * 3
SMS_SECRET = "community-feedback-inbound-secret-0123456789abcdef"  # noqa: S105
SOURCE_KEYS = "k-feedback:" + base64.urlsafe_b64encode(bytes(range(32, 64))).decode()
KEYS = SourceKeyRing.parse(SOURCE_KEYS)
FOCAL_PHONE = "+243990000444"
MESSAGE = "La mission a reçu votre alerte; une patrouille part vers Mavivi."


def community_directory() -> Directory:
    """The reference directory with one focal point in beni, sealed as when stored."""
    return with_focal_points(
        yaml.safe_load(EXAMPLE_DIRECTORY.read_text(encoding="utf-8")),
        KEYS,
        focal_point("can.mavivi", "Kavira Masika", FOCAL_PHONE, "Mavivi"),
    )


@pytest.fixture
async def client(db: Database) -> AsyncIterator[IngestClient]:
    async with ingest_client(
        db,
        JWT_SECRET,
        directory=community_directory(),
        router=True,
        sms_kannel_url="http://127.0.0.1:9/cgi-bin/sendsms",
        sms_inbound_secret=SMS_SECRET,
        sms_default_region="CD",
        source_keys=SOURCE_KEYS,
    ) as client:
        yield client


def bearer(person_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(person_id, JWT_SECRET)}"}


async def community_alert(client: IngestClient, gateway_id: str = "kannel-1") -> str:
    """An alert raised by the focal point's SMS, routed (poc-default: awa.hfo first)."""
    query = {"secret": SMS_SECRET, "from": FOCAL_PHONE, "to": "+243990000000"}
    query |= {"text": "ALERTE hommes armés près de l'école", "id": gateway_id}
    response = await client.get(INBOUND_PATH, params=query)
    assert response.status_code == 200, response.text
    await client.pump.settle()
    [alert_id] = [
        e.payload["alert_id"]
        for e in client.pump.staged(ALERT_RAISED)
        if e.payload["reporter"] == "can.mavivi"
    ]
    view = await alert(client, alert_id)
    assert (view["reporter"], view["status"]) == ("can.mavivi", "triggered")
    assert "awa.hfo" in view["targets"]
    return str(alert_id)


async def alert(client: IngestClient, alert_id: str) -> Any:
    response = await client.get(f"/v1/alerts/{alert_id}", headers=bearer("awa.hfo"))
    assert response.status_code == 200, response.text
    return response.json()


async def act(
    client: IngestClient, alert_id: str, action: str, body: dict[str, Any] | None = None
) -> Any:
    response = await client.post(
        f"/v1/alerts/{alert_id}/{action}", json=body, headers=bearer("awa.hfo")
    )
    assert response.status_code == 200, response.text
    await client.pump.settle()
    return response.json()


def feedback(client: IngestClient, alert_id: str) -> list[Envelope]:
    return [
        e
        for e in client.pump.staged(NOTIFICATION_REQUESTED)
        if str(e.correlation_id) == alert_id and e.payload["kind"] == "community_feedback"
    ]


async def test_an_acknowledgement_with_a_message_sends_it_to_the_reporter_once(
    client: IngestClient,
) -> None:
    alert_id = await community_alert(client)
    acknowledged = await act(client, alert_id, "acknowledge", {"community_message": MESSAGE})
    assert acknowledged["status"] == "acknowledged"

    [request] = feedback(client, alert_id)
    assert request.actor == "awa.hfo"  # the log says who told the village what
    assert request.schema_version == 2
    payload = request.payload
    assert payload["person_id"] == "can.mavivi"
    assert payload["contacts"] == [{"channel": "community_sms", "address": "can.mavivi"}]
    assert payload["message"] == MESSAGE
    assert payload["language"] == "fr"
    assert payload["summary"] == {"reference": community_reference(UUID(alert_id))}
    assert FOCAL_PHONE.removeprefix("+243") not in request.model_dump_json()  # sealed
    # Acknowledged again (another person, or a retry): the alert did not change, no repeat.
    await client.post(
        f"/v1/alerts/{alert_id}/acknowledge",
        json={"community_message": "encore"},
        headers=bearer("awa.hfo"),
    )
    await client.pump.settle()
    assert len(feedback(client, alert_id)) == 1


async def test_nothing_is_sent_without_a_message_and_resolving_may_send_one(
    client: IngestClient,
) -> None:
    alert_id = await community_alert(client)
    await act(client, alert_id, "acknowledge")
    assert feedback(client, alert_id) == []

    resolved = await act(
        client, alert_id, "resolve", {"note": "patrol sent", "community_message": "Merci."}
    )
    assert resolved["status"] == "resolved"
    [request] = feedback(client, alert_id)
    assert (request.actor, request.payload["message"]) == ("awa.hfo", "Merci.")


async def test_an_alert_without_a_reporter_never_gets_feedback(client: IngestClient) -> None:
    response = await client.post(
        "/v1/alerts",
        json=alert_request(category="other", severity="moderate"),
        headers=bearer("jo.operator"),
    )
    assert response.status_code == 201, response.text
    alert_id = response.json()["id"]
    await client.pump.settle()
    assert (await alert(client, alert_id))["reporter"] is None

    await act(client, alert_id, "acknowledge", {"community_message": MESSAGE})
    await act(client, alert_id, "resolve", {"community_message": MESSAGE})
    assert feedback(client, alert_id) == []
    assert [
        e
        for e in client.pump.staged(NOTIFICATION_REQUESTED)
        if e.payload["kind"] == ("community_feedback")
    ] == []


async def test_a_reporter_gone_from_the_directory_is_unreachable(
    client: IngestClient, db: Database
) -> None:
    # Raised when can.gone was a community contact (as triage or an SMS writes it).
    request = RaiseAlertV1.model_validate(alert_request(category="other", severity="moderate"))
    async with db.sessions.begin() as session:
        alert_id = str(await write_alert(session, "community-sms", request, KEYS, "can.gone"))
    await client.pump.settle()
    assert (await alert(client, alert_id))["reporter"] == "can.gone"

    await act(client, alert_id, "acknowledge", {"community_message": MESSAGE})
    assert feedback(client, alert_id) == []
    [unreachable] = [
        e
        for e in client.pump.staged(ALERT_TARGET_UNREACHABLE)
        if str(e.correlation_id) == alert_id and e.payload["person_id"] == "can.gone"
    ]
    assert unreachable.payload["kind"] == "community_feedback"
    assert "community contacts" in unreachable.payload["reason"]
    timeline = [entry["type"] for entry in (await alert(client, alert_id))["timeline"]]
    assert ALERT_TARGET_UNREACHABLE in timeline  # the officer sees the village was not told
