"""Ingest's coordination messages: the public API and the read side.

POST validates and stages ``message.sent`` (nothing on a 4xx); the router's
``message.state_changed`` (built by hand here) fills the inboxes under
need-to-know; read/acknowledge are answered with the real router's verdict
(an in-process ``Pump`` does the broker's work); threads and pages. The last
test runs the whole ingest service on the broker. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import aio_pika
import httpx
import pytest

from services.ingest.messages.projections import apply_message_event
from services.ingest.messages.tables import MessageAddresseeRecord, MessageViewRecord
from services.ingest.service import IngestService
from services.ingest.tables import OUTBOX
from shared.auth import mint_token
from shared.bus import to_outgoing
from shared.contracts import (
    MESSAGE_ACKNOWLEDGE,
    MESSAGE_COMMAND_REJECTED,
    MESSAGE_MARK_READ,
    MESSAGE_SENT,
    MESSAGE_STATE_CHANGED,
    NOTIFICATION_REQUESTED,
)
from shared.contracts.messages import AddresseeState, MessageSentV1, MessageStateV1
from shared.decisions import pack
from shared.envelope import Envelope, utc_now
from shared.settings import Settings
from tests.support.database import Database
from tests.support.directories import EXAMPLE_DIRECTORY
from tests.support.ingest_client import IngestClient, ingest_client

pytestmark = pytest.mark.integration

JWT_SECRET = "messages-jwt-secret-" + "0123456789abcdef" * 3


def bearer(person_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(person_id, JWT_SECRET)}"}


@pytest.fixture
async def client(db: Database) -> AsyncIterator[httpx.AsyncClient]:
    async with ingest_client(db, JWT_SECRET) as client:
        yield client


def message_request(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "to": {"roles": ["sector_commander"]},
        "subject": "Patrol to Mavivi at 14:00",
        "body": "Joint patrol leaves Beni base at 14:00.",
        "classification": "confidential",
    }
    body.update(overrides)
    return body


def due_in(minutes: int) -> str:
    return (utc_now() + timedelta(minutes=minutes)).isoformat()


async def send(
    client: httpx.AsyncClient, sender: str = "jo.operator", **overrides: Any
) -> dict[str, Any]:
    response = await client.post(
        "/v1/messages", json=message_request(**overrides), headers=bearer(sender)
    )
    assert response.status_code == 202, response.text
    view: dict[str, Any] = response.json()
    return view


def delivered(person_id: str, **fields: Any) -> dict[str, Any]:
    return {"person_id": person_id, "delivered": True, **fields}


def not_cleared(person_id: str) -> dict[str, Any]:
    return {"person_id": person_id, "delivered": False, "reason": f"{person_id} is not cleared"}


def state_changed(message: dict[str, Any], version: int, *addressees: dict[str, Any]) -> Envelope:
    """The router's ``message.state_changed`` for ``message`` (a view from the API)."""
    state = MessageStateV1(
        message_id=message["id"],
        version=version,
        addressees=[AddresseeState.model_validate(a) for a in addressees],
        next_escalation_at=None,
    )
    return Envelope(
        type=MESSAGE_STATE_CHANGED,
        producer="router",
        actor="router",
        correlation_id=message["thread_id"],
        classification=message["classification"],
        payload=state.model_dump(mode="json"),
    )


async def apply(db: Database, *envelopes: Envelope) -> None:
    for envelope in envelopes:
        async with db.sessions() as session, session.begin():
            await apply_message_event(session, envelope)


async def outbox_envelopes(db: Database) -> list[Envelope]:
    async with db.sessions() as session:
        rows = (await session.execute(OUTBOX.select().order_by(OUTBOX.c.position))).all()
    return [Envelope.model_validate_json(bytes(r.body)) for r in rows]


async def inbox_ids(client: httpx.AsyncClient, person_id: str, **params: Any) -> list[str]:
    response = await client.get("/v1/messages", params=params, headers=bearer(person_id))
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


# --------------------------------------------------------------------------- sending


async def test_send_stages_one_message_sent_and_answers_sending(
    db: Database, client: httpx.AsyncClient
) -> None:
    body = message_request(requires_ack=True, ack_due_at=due_in(30))
    response = await client.post("/v1/messages", json=body, headers=bearer("jo.operator"))
    assert response.status_code == 202, response.text
    view = response.json()
    assert response.headers["location"] == f"/v1/messages/{view['id']}"
    assert view["status"] == "sending"
    assert view["addressees"] == []
    assert view["thread_id"] == view["id"]
    assert view["in_reply_to"] is None
    assert (view["sender"], view["subject"], view["body"]) == (
        "jo.operator",
        body["subject"],
        body["body"],
    )
    assert view["to"] == {
        "components": [],
        "roles": ["sector_commander"],
        "persons": [],
        "sectors": [],
    }
    assert view["requires_ack"] is True

    [sent] = await outbox_envelopes(db)
    assert sent.type == "message.sent"
    assert (sent.producer, sent.actor) == ("ingest", "jo.operator")
    assert str(sent.correlation_id) == view["thread_id"]
    assert sent.classification.value == "confidential"
    payload = MessageSentV1.model_validate(sent.payload)
    assert str(payload.message_id) == view["id"]
    assert str(payload.thread_id) == view["id"]
    assert payload.sender == "jo.operator"
    assert payload.to.roles == ["sector_commander"]
    assert payload.requires_ack is True
    assert payload.ack_due_at == datetime.fromisoformat(body["ack_due_at"])
    assert await db.count(MessageViewRecord) == 1

    # the sender reads it back at once; nobody else sees it before it is delivered
    mine = await client.get(f"/v1/messages/{view['id']}", headers=bearer("jo.operator"))
    assert mine.json() == view
    assert await inbox_ids(client, "jo.operator", box="sent") == [view["id"]]
    theirs = await client.get(f"/v1/messages/{view['id']}", headers=bearer("col.okafor"))
    assert theirs.status_code == 404


async def test_classification_defaults_to_unclassified(client: httpx.AsyncClient) -> None:
    body = message_request()
    del body["classification"]
    response = await client.post("/v1/messages", json=body, headers=bearer("jo.operator"))
    assert response.status_code == 202, response.text
    assert response.json()["classification"] == "unclassified"


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        pytest.param(
            {"to": {"roles": ["sector_commander", "wizard"]}},
            "to",
            ["unknown role 'wizard'"],
            id="unknown-role",
        ),
        pytest.param(
            {"to": {"persons": ["nobody.x"], "sectors": ["atlantis"]}},
            "to",
            ["unknown person 'nobody.x'", "unknown sector 'atlantis'"],
            id="each-unknown-named",
        ),
        pytest.param({"to": {}}, "to", ["at least one"], id="nobody-named"),
        pytest.param({"to": {"persons": ["jo.operator"]}}, "to", ["nobody"], id="only-the-sender"),
        pytest.param({"requires_ack": True}, "ack_due_at", ["required"], id="ack-without-due"),
        pytest.param(
            {"requires_ack": True, "ack_due_at": due_in(-5)},
            "ack_due_at",
            ["future"],
            id="due-in-the-past",
        ),
        pytest.param(
            {"requires_ack": True, "ack_due_at": "2030-01-01T10:00:00"},
            "ack_due_at",
            ["timezone"],
            id="naive-due-time",
        ),
        pytest.param(
            {"ack_due_at": due_in(30)}, "ack_due_at", ["requires_ack"], id="due-without-ack"
        ),
        pytest.param(
            {"classification": "strictly_confidential"},
            "classification",
            ["above your own clearance", "strictly_confidential"],
            id="above-clearance",
        ),
        pytest.param(
            {"in_reply_to": str(uuid4())},
            "in_reply_to",
            ["in_reply_to: no such message"],
            id="reply-to-unknown",
        ),
        pytest.param({"subject": ""}, "subject", ["at least 1"], id="empty-subject"),
        pytest.param({"priority": "high"}, "priority", ["Extra"], id="unknown-field"),
    ],
)
async def test_invalid_messages_get_422_naming_the_problem(
    db: Database, client: httpx.AsyncClient, overrides: dict[str, Any], field: str, words: list[str]
) -> None:
    response = await client.post(
        "/v1/messages", json=message_request(**overrides), headers=bearer("jo.operator")
    )
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert {tuple(e["loc"][:2]) for e in errors} == {("body", field)}
    text = " ".join(e["msg"] for e in errors)
    for word in words:
        assert word in text, text
    assert await db.count(MessageViewRecord) == 0
    assert await db.count(OUTBOX) == 0


async def test_every_problem_is_named_at_once(db: Database, client: httpx.AsyncClient) -> None:
    body = message_request(to={"roles": ["wizard"]}, classification="strictly_confidential")
    response = await client.post("/v1/messages", json=body, headers=bearer("jo.operator"))
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["errors"]] == [
        ["body", "to"],
        ["body", "classification"],
    ]
    assert await db.count(OUTBOX) == 0


async def test_sending_needs_valid_credentials(db: Database, client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/messages", json=message_request())
    assert response.status_code == 401
    assert await db.count(OUTBOX) == 0


# --------------------------------------------------------------------------- Idempotency-Key


async def test_a_retry_with_the_same_key_answers_the_first_message(
    db: Database, client: httpx.AsyncClient
) -> None:
    headers = {**bearer("jo.operator"), "Idempotency-Key": "patrol-1400"}
    body = message_request(requires_ack=True, ack_due_at=due_in(30))
    first = await client.post("/v1/messages", json=body, headers=headers)
    reordered = dict(reversed(list(body.items())))
    again = await client.post("/v1/messages", json=reordered, headers=headers)
    assert (first.status_code, again.status_code) == (202, 200), again.text
    assert again.json() == first.json()
    assert again.headers["location"] == f"/v1/messages/{first.json()['id']}"
    assert [e.type for e in await outbox_envelopes(db)] == ["message.sent"]
    assert await db.count(MessageViewRecord) == 1


async def test_the_same_key_with_another_message_is_422_naming_the_header(
    db: Database, client: httpx.AsyncClient
) -> None:
    headers = {**bearer("jo.operator"), "Idempotency-Key": "patrol-1400-b"}
    first = await client.post("/v1/messages", json=message_request(), headers=headers)
    other = await client.post(
        "/v1/messages", json=message_request(subject="Patrol at 15:00"), headers=headers
    )
    assert (first.status_code, other.status_code) == (202, 422)
    assert "Idempotency-Key" in other.json()["detail"]
    assert await db.count(OUTBOX) == 1
    assert await db.count(MessageViewRecord) == 1


async def test_the_same_key_from_two_senders_sends_two_messages(
    db: Database, client: httpx.AsyncClient
) -> None:
    key = {"Idempotency-Key": "shared-key"}
    first = await client.post(
        "/v1/messages", json=message_request(), headers={**bearer("jo.operator"), **key}
    )
    second = await client.post(
        "/v1/messages", json=message_request(), headers={**bearer("amani.cla"), **key}
    )
    assert (first.status_code, second.status_code) == (202, 202)
    assert first.json()["id"] != second.json()["id"]
    assert await db.count(OUTBOX) == 2


async def test_a_routed_retry_pages_nobody_twice(routed: IngestClient) -> None:
    headers = {**bearer("jo.operator"), "Idempotency-Key": "patrol-1400-c"}
    body = message_request(to={"persons": ["col.okafor"]})
    first = await routed.post("/v1/messages", json=body, headers=headers)
    await routed.pump.settle()
    again = await routed.post("/v1/messages", json=body, headers=headers)
    await routed.pump.settle()
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["status"] == "delivered"  # the first message, as it is now
    assert len(routed.pump.staged(MESSAGE_SENT)) == 1
    pages = [e.payload["person_id"] for e in routed.pump.staged(NOTIFICATION_REQUESTED)]
    assert pages == ["col.okafor"]


# --------------------------------------------------------------------------- read side


async def classified_message(db: Database, client: httpx.AsyncClient) -> dict[str, Any]:
    """Strictly confidential, from awa.hfo: delivered to lucas.ho, not to col.okafor."""
    message = await send(
        client,
        "awa.hfo",
        to={"persons": ["lucas.ho", "col.okafor"]},
        classification="strictly_confidential",
        requires_ack=True,
        ack_due_at=due_in(30),
    )
    await apply(db, state_changed(message, 1, delivered("lucas.ho"), not_cleared("col.okafor")))
    return message


async def test_state_delivers_to_the_cleared_only(db: Database, client: httpx.AsyncClient) -> None:
    message = await classified_message(db, client)

    assert await inbox_ids(client, "lucas.ho") == [message["id"]]
    assert await inbox_ids(client, "col.okafor") == []
    hidden = await client.get(f"/v1/messages/{message['id']}", headers=bearer("col.okafor"))
    assert hidden.status_code == 404
    assert message["subject"] not in hidden.text
    outsider = await client.get(f"/v1/messages/{message['id']}", headers=bearer("grace.dsrsg"))
    assert outsider.status_code == 404

    # the sender sees everyone, and why the undelivered did not get it
    sender_view = (
        await client.get(f"/v1/messages/{message['id']}", headers=bearer("awa.hfo"))
    ).json()
    assert sender_view["status"] == "delivered"
    assert [(a["person_id"], a["delivered"], a["reason"]) for a in sender_view["addressees"]] == [
        ("lucas.ho", True, None),
        ("col.okafor", False, "col.okafor is not cleared"),
    ]
    # a delivered addressee sees the message, not who was left out nor the addressing
    reader_view = (
        await client.get(f"/v1/messages/{message['id']}", headers=bearer("lucas.ho"))
    ).json()
    assert [a["person_id"] for a in reader_view["addressees"]] == ["lucas.ho"]
    assert reader_view["to"] is None
    assert reader_view["body"] == message["body"]
    assert "col.okafor" not in str(reader_view)


async def test_nobody_cleared_is_undelivered(db: Database, client: httpx.AsyncClient) -> None:
    message = await send(client, "awa.hfo", classification="strictly_confidential")
    await apply(db, state_changed(message, 1, not_cleared("col.okafor")))
    [item] = (await client.get("/v1/messages?box=sent", headers=bearer("awa.hfo"))).json()["items"]
    assert item["status"] == "undelivered"
    assert await inbox_ids(client, "col.okafor") == []


async def test_an_older_state_after_a_newer_one_is_ignored(
    db: Database, client: httpx.AsyncClient
) -> None:
    message = await send(client, to={"persons": ["col.okafor", "insp.diallo"]})
    read_at = "2026-11-23T10:05:00+00:00"
    newer = state_changed(
        message, 2, delivered("col.okafor", read_at=read_at), delivered("insp.diallo")
    )
    older = state_changed(message, 1, delivered("col.okafor"), not_cleared("insp.diallo"))
    await apply(db, newer, older, newer)  # late, and a replay

    view = (await client.get(f"/v1/messages/{message['id']}", headers=bearer("jo.operator"))).json()
    assert [(a["person_id"], a["delivered"]) for a in view["addressees"]] == [
        ("col.okafor", True),
        ("insp.diallo", True),
    ]
    assert view["addressees"][0]["read_at"] == "2026-11-23T10:05:00Z"
    assert await inbox_ids(client, "insp.diallo") == [message["id"]]
    async with db.sessions() as session:
        record = await session.get(MessageViewRecord, message["id"])
        assert record is not None
        assert record.version == 2
    assert await db.count(MessageAddresseeRecord) == 2


async def test_escalation_and_acknowledgement_are_shown(
    db: Database, client: httpx.AsyncClient
) -> None:
    message = await send(
        client, to={"persons": ["col.okafor"]}, requires_ack=True, ack_due_at=due_in(30)
    )
    await apply(
        db,
        state_changed(message, 1, delivered("col.okafor")),
        state_changed(
            message,
            2,
            delivered(
                "col.okafor",
                read_at="2026-11-23T10:05:00Z",
                acknowledged_at="2026-11-23T11:00:00Z",
                escalation_level=1,
                escalated_to=["lucas.ho"],
            ),
        ),
    )
    [addressee] = (
        await client.get(f"/v1/messages/{message['id']}", headers=bearer("col.okafor"))
    ).json()["addressees"]
    assert addressee == {
        "person_id": "col.okafor",
        "delivered": True,
        "reason": None,
        "read_at": "2026-11-23T10:05:00Z",
        "acknowledged_at": "2026-11-23T11:00:00Z",
        "escalation_level": 1,
        "escalated_to": ["lucas.ho"],
    }


async def test_state_of_an_unknown_message_is_ignored(db: Database) -> None:
    unknown = {"id": str(uuid4()), "thread_id": str(uuid4()), "classification": "unclassified"}
    await apply(db, state_changed(unknown, 1, delivered("col.okafor")))
    assert await db.count(MessageAddresseeRecord) == 0
    assert await db.count(MessageViewRecord) == 0


# --------------------------------------------------------------------------- commands
#
# A command's answer is the router's verdict: these run the real router (a ``Pump``
# does the broker's work in-process), so the message is sent through the API and
# the router addresses it before it decides any command on it.


@pytest.fixture
async def routed(db: Database) -> AsyncIterator[IngestClient]:
    async with ingest_client(db, JWT_SECRET, router=True) as client:
        yield client


COMMAND_TYPES = {"read": MESSAGE_MARK_READ, "acknowledge": MESSAGE_ACKNOWLEDGE}


async def command(
    client: httpx.AsyncClient, message_id: str, action: str, person_id: str
) -> httpx.Response:
    return await client.post(f"/v1/messages/{message_id}/{action}", headers=bearer(person_id))


async def routed_classified_message(client: IngestClient) -> dict[str, Any]:
    """As ``classified_message``, addressed by the real router: lucas.ho gets it, col.okafor not."""
    return await send(
        client,
        "awa.hfo",
        to={"persons": ["lucas.ho", "col.okafor"]},
        classification="strictly_confidential",
        requires_ack=True,
        ack_due_at=due_in(30),
    )


def rejections(client: IngestClient, message_id: str) -> list[Envelope]:
    """The router's refusals of commands on ``message_id``, in order."""
    return [
        e
        for e in client.pump.staged(MESSAGE_COMMAND_REJECTED)
        if e.payload["message_id"] == message_id
    ]


async def as_sent(client: httpx.AsyncClient, message: dict[str, Any]) -> dict[str, Any]:
    """The message as its sender sees it now (every addressee)."""
    response = await client.get(f"/v1/messages/{message['id']}", headers=bearer(message["sender"]))
    assert response.status_code == 200, response.text
    view: dict[str, Any] = response.json()
    return view


def addressee(view: dict[str, Any], person_id: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [a for a in view["addressees"] if a["person_id"] == person_id]
    [one] = found
    return one


@pytest.mark.parametrize("action", ["read", "acknowledge"])
async def test_commands_answer_200_with_the_message_after_them(
    routed: IngestClient, action: str
) -> None:
    message = await routed_classified_message(routed)

    response = await command(routed, message["id"], action, "lucas.ho")

    assert response.status_code == 200, response.text
    view = response.json()
    assert view["id"] == message["id"]
    [mine] = view["addressees"]  # a reader sees their own line only
    assert mine["person_id"] == "lucas.ho"
    assert mine["read_at"] is not None
    if action == "acknowledge":
        assert mine["acknowledged_at"] is not None
        assert view["status"] == "acknowledged"  # lucas.ho is the only one delivered
    else:
        assert mine["acknowledged_at"] is None
        assert view["status"] == "delivered"
    # Read-your-writes: the next read shows the same, and so does the sender's view.
    again = await routed.get(f"/v1/messages/{message['id']}", headers=bearer("lucas.ho"))
    assert again.json() == view
    sender_view = await as_sent(routed, message)
    assert addressee(sender_view, "lucas.ho") == mine
    assert addressee(sender_view, "col.okafor")["delivered"] is False
    assert sender_view["status"] == view["status"]

    [envelope] = routed.pump.staged(COMMAND_TYPES[action])
    assert envelope.payload == {"message_id": message["id"], "person_id": "lucas.ho"}
    assert (envelope.actor, envelope.producer) == ("lucas.ho", "ingest")
    assert str(envelope.correlation_id) == message["thread_id"]
    assert envelope.classification.value == "strictly_confidential"
    assert rejections(routed, message["id"]) == []


async def test_undecided_command_answers_202_with_where_to_look(
    db: Database, client: httpx.AsyncClient
) -> None:
    """Without a router nothing decides: the command is staged; the answer says where to look."""
    message = await classified_message(db, client)
    before = len(await outbox_envelopes(db))

    response = await command(client, message["id"], "acknowledge", "lucas.ho")

    assert response.status_code == 202, response.text
    assert response.headers["Location"] == f"/v1/messages/{message['id']}"
    assert int(response.headers["Retry-After"]) >= 1
    body = response.json()
    assert body["status"] == "pending"
    assert f"/v1/messages/{message['id']}" in body["detail"]
    [envelope] = (await outbox_envelopes(db))[before:]
    assert str(envelope.id) == body["command_id"]
    assert envelope.type == MESSAGE_ACKNOWLEDGE
    assert envelope.payload == {"message_id": message["id"], "person_id": "lucas.ho"}
    assert (envelope.actor, envelope.producer) == ("lucas.ho", "ingest")
    assert str(envelope.correlation_id) == message["thread_id"]
    assert envelope.classification.value == "strictly_confidential"


@pytest.mark.parametrize("action", ["read", "acknowledge"])
@pytest.mark.parametrize(
    "person_id",
    [
        pytest.param("grace.dsrsg", id="outsider"),
        pytest.param("col.okafor", id="undelivered-addressee"),
    ],
)
async def test_commands_by_those_who_cannot_see_it_are_404(
    db: Database, routed: IngestClient, action: str, person_id: str
) -> None:
    message = await routed_classified_message(routed)

    response = await command(routed, message["id"], action, person_id)

    assert response.status_code == 404, response.text
    detail = response.json()["detail"]
    assert detail == f"no message {message['id']}"
    assert message["subject"] not in response.text
    [rejection] = rejections(routed, message["id"])
    assert rejection.payload["refusal"] == "not_found"
    assert (rejection.payload["reason"], rejection.payload["person_id"]) == (detail, person_id)
    # The refusal changed nothing.
    sender_view = await as_sent(routed, message)
    assert sender_view["status"] == "delivered"
    lucas = addressee(sender_view, "lucas.ho")
    assert (lucas["read_at"], lucas["acknowledged_at"]) == (None, None)
    assert addressee(sender_view, "col.okafor")["delivered"] is False

    # A message ingest never heard of is refused at once: nothing is staged.
    unknown_id = str(uuid4())
    unknown = await command(routed, unknown_id, action, person_id)
    assert unknown.status_code == 404
    assert unknown.json()["detail"] == f"no message {unknown_id}"
    await routed.pump.settle()
    staged = routed.pump.staged(COMMAND_TYPES[action])
    assert [e.payload["message_id"] for e in staged] == [message["id"]]
    assert await db.count(OUTBOX) == 0


async def test_acknowledging_without_an_ack_asked_or_as_the_sender_is_409(
    routed: IngestClient,
) -> None:
    plain = await send(routed, to={"persons": ["col.okafor"]})
    asked = await routed_classified_message(routed)

    no_ack = await command(routed, plain["id"], "acknowledge", "col.okafor")
    assert no_ack.status_code == 409, no_ack.text
    assert "acknowledgement" in no_ack.json()["detail"]
    by_sender = await command(routed, asked["id"], "acknowledge", "awa.hfo")
    assert by_sender.status_code == 409, by_sender.text
    assert "you sent" in by_sender.json()["detail"]
    read_by_sender = await command(routed, asked["id"], "read", "awa.hfo")
    assert read_by_sender.status_code == 409, read_by_sender.text
    assert "you sent" in read_by_sender.json()["detail"]

    refused = [*rejections(routed, plain["id"]), *rejections(routed, asked["id"])]
    assert [(r.payload["command"], r.payload["person_id"]) for r in refused] == [
        (MESSAGE_ACKNOWLEDGE, "col.okafor"),
        (MESSAGE_ACKNOWLEDGE, "awa.hfo"),
        (MESSAGE_MARK_READ, "awa.hfo"),
    ]
    assert {r.payload["refusal"] for r in refused} == {"wrong_state"}
    assert [r.payload["reason"] for r in refused] == [
        no_ack.json()["detail"],
        by_sender.json()["detail"],
        read_by_sender.json()["detail"],
    ]
    # The refusals changed nothing.
    okafor = addressee(await as_sent(routed, plain), "col.okafor")
    assert (okafor["read_at"], okafor["acknowledged_at"]) == (None, None)
    lucas = addressee(await as_sent(routed, asked), "lucas.ho")
    assert (lucas["read_at"], lucas["acknowledged_at"]) == (None, None)


async def test_reading_again_answers_the_state_acknowledging_again_is_409(
    routed: IngestClient,
) -> None:
    message = await routed_classified_message(routed)
    first = await command(routed, message["id"], "read", "lucas.ho")
    second = await command(routed, message["id"], "read", "lucas.ho")
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json() == first.json()  # the first read is what counts
    assert rejections(routed, message["id"]) == []

    acknowledged = await command(routed, message["id"], "acknowledge", "lucas.ho")
    assert acknowledged.status_code == 200, acknowledged.text
    again = await command(routed, message["id"], "acknowledge", "lucas.ho")
    assert again.status_code == 409, again.text
    assert again.json()["detail"] == "lucas.ho already acknowledged"
    [rejection] = rejections(routed, message["id"])
    assert rejection.payload["refusal"] == "wrong_state"
    [mine] = acknowledged.json()["addressees"]
    assert mine["read_at"] == first.json()["addressees"][0]["read_at"]


async def test_reading_then_acknowledging_at_once_is_never_refused(routed: IngestClient) -> None:
    """Right after sending, before any view shows the message delivered: 200 each time."""
    for _ in range(10):
        message = await send(
            routed,
            to={"persons": ["lucas.ho", "col.okafor"]},
            requires_ack=True,
            ack_due_at=due_in(30),
        )
        read = await command(routed, message["id"], "read", "lucas.ho")
        acknowledged = await command(routed, message["id"], "acknowledge", "lucas.ho")
        assert (read.status_code, acknowledged.status_code) == (200, 200), acknowledged.text
        assert acknowledged.json()["status"] == "delivered"  # col.okafor has not acknowledged
        # The other addressee does both at the same moment: either order is accepted.
        both = await asyncio.gather(
            command(routed, message["id"], "read", "col.okafor"),
            command(routed, message["id"], "acknowledge", "col.okafor"),
        )
        assert [r.status_code for r in both] == [200, 200], [r.text for r in both]

        view = await as_sent(routed, message)
        assert view["status"] == "acknowledged"
        for person_id in ("lucas.ho", "col.okafor"):
            line = addressee(view, person_id)
            assert line["read_at"] is not None
            assert line["acknowledged_at"] is not None
        [listed] = [
            item
            for item in (
                await routed.get("/v1/messages?box=sent", headers=bearer("jo.operator"))
            ).json()["items"]
            if item["id"] == message["id"]
        ]
        assert listed["status"] == "acknowledged"
    assert routed.pump.staged(MESSAGE_COMMAND_REJECTED) == []


async def test_commands_need_valid_credentials(db: Database, client: httpx.AsyncClient) -> None:
    message = await classified_message(db, client)
    response = await client.post(f"/v1/messages/{message['id']}/read")
    assert response.status_code == 401


# --------------------------------------------------------------------------- threads


async def test_replies_join_the_thread_in_order(db: Database, client: httpx.AsyncClient) -> None:
    first = await send(client, to={"persons": ["col.okafor"]})
    await apply(db, state_changed(first, 1, delivered("col.okafor")))
    reply = await send(
        client, "col.okafor", to={"persons": ["jo.operator"]}, in_reply_to=first["id"]
    )
    assert reply["thread_id"] == first["thread_id"]
    assert reply["in_reply_to"] == first["id"]
    [_, sent] = await outbox_envelopes(db)
    assert str(sent.correlation_id) == first["thread_id"]
    assert sent.payload["in_reply_to"] == first["id"]
    await apply(db, state_changed(reply, 1, delivered("jo.operator")))
    answer = await send(client, to={"persons": ["col.okafor"]}, in_reply_to=reply["id"])
    await apply(db, state_changed(answer, 1, delivered("col.okafor")))
    other = await send(client, to={"persons": ["col.okafor"]})  # another thread

    thread = await client.get(f"/v1/threads/{first['thread_id']}", headers=bearer("col.okafor"))
    assert thread.status_code == 200, thread.text
    assert thread.json()["thread_id"] == first["thread_id"]
    assert [m["id"] for m in thread.json()["messages"]] == [first["id"], reply["id"], answer["id"]]
    filtered = await inbox_ids(client, "col.okafor", thread_id=first["thread_id"])
    assert filtered == [answer["id"], first["id"]]
    assert other["id"] not in filtered

    outsider = await client.get(f"/v1/threads/{first['thread_id']}", headers=bearer("awa.hfo"))
    assert outsider.status_code == 404
    unknown = await client.get(f"/v1/threads/{uuid4()}", headers=bearer("col.okafor"))
    assert unknown.status_code == 404


async def test_thread_shows_only_what_the_caller_can_see(
    db: Database, client: httpx.AsyncClient
) -> None:
    first = await send(client, to={"persons": ["col.okafor", "insp.diallo"]})
    await apply(db, state_changed(first, 1, delivered("col.okafor"), delivered("insp.diallo")))
    aside = await send(
        client, "col.okafor", to={"persons": ["jo.operator"]}, in_reply_to=first["id"]
    )
    await apply(db, state_changed(aside, 1, delivered("jo.operator")))
    seen = await client.get(f"/v1/threads/{first['thread_id']}", headers=bearer("insp.diallo"))
    assert [m["id"] for m in seen.json()["messages"]] == [first["id"]]


async def test_replying_to_a_message_one_cannot_see_is_422(
    db: Database, client: httpx.AsyncClient
) -> None:
    message = await classified_message(db, client)
    before = await db.count(OUTBOX)
    for person_id in ("col.okafor", "grace.dsrsg"):
        body = message_request(to={"persons": ["awa.hfo"]}, in_reply_to=message["id"])
        response = await client.post("/v1/messages", json=body, headers=bearer(person_id))
        assert response.status_code == 422
        [error] = response.json()["errors"]
        assert error["loc"] == ["body", "in_reply_to"]
        assert error["msg"] == "in_reply_to: no such message"
    assert await db.count(OUTBOX) == before


async def test_replying_before_the_router_has_addressed_the_message_is_not_refused(
    db: Database, client: httpx.AsyncClient
) -> None:
    """The page may reach the addressee before ingest's view lists them: the reply is
    judged as the router will address the message, from the directory."""
    first = await send(client, to={"persons": ["col.okafor"]})  # not addressed yet (no router)
    reply = await send(
        client, "col.okafor", to={"persons": ["jo.operator"]}, in_reply_to=first["id"]
    )
    assert reply["thread_id"] == first["thread_id"]
    before = await db.count(OUTBOX)
    body = message_request(to={"persons": ["jo.operator"]}, in_reply_to=first["id"])
    outsider = await client.post("/v1/messages", json=body, headers=bearer("insp.diallo"))
    assert outsider.status_code == 422, outsider.text
    assert outsider.json()["errors"][0]["msg"] == "in_reply_to: no such message"
    assert await db.count(OUTBOX) == before


# --------------------------------------------------------------------------- lists


async def many(db: Database, client: httpx.AsyncClient, count: int) -> list[str]:
    """``count`` messages from jo.operator delivered to col.okafor; ids newest first."""
    sent = []
    for index in range(count):
        extra: dict[str, Any] = (
            {"requires_ack": True, "ack_due_at": due_in(30)} if index % 2 else {}
        )
        message = await send(client, to={"persons": ["col.okafor"]}, subject=f"m{index}", **extra)
        await apply(db, state_changed(message, 1, delivered("col.okafor")))
        sent.append(message)
    ordered = sorted(
        sent, key=lambda m: (datetime.fromisoformat(m["sent_at"]), m["id"]), reverse=True
    )
    return [m["id"] for m in ordered]


async def test_inbox_is_newest_first_with_the_callers_status(
    db: Database, client: httpx.AsyncClient
) -> None:
    ids = await many(db, client, 3)
    page = (await client.get("/v1/messages", headers=bearer("col.okafor"))).json()
    assert [i["id"] for i in page["items"]] == ids
    assert page["next_cursor"] is None
    item = page["items"][0]
    assert (item["sender"], item["status"], item["read_at"], item["acknowledged_at"]) == (
        "jo.operator",
        "delivered",
        None,
        None,
    )
    assert await inbox_ids(client, "jo.operator") == []  # not an addressee of their own
    assert await inbox_ids(client, "jo.operator", box="sent") == ids


async def test_inbox_filters(db: Database, client: httpx.AsyncClient) -> None:
    ids = await many(db, client, 4)  # newest first: ids[0] asks for an ack (index 3)
    read = ids[1]
    thread = {"id": read, "thread_id": read, "classification": "confidential"}
    await apply(
        db, state_changed(thread, 2, delivered("col.okafor", read_at=utc_now().isoformat()))
    )

    assert await inbox_ids(client, "col.okafor", unread=True) == [i for i in ids if i != read]
    assert await inbox_ids(client, "col.okafor", unread=False) == [read]
    assert await inbox_ids(client, "col.okafor", requires_ack=True) == [ids[0], ids[2]]
    assert await inbox_ids(client, "col.okafor", requires_ack=False) == [ids[1], ids[3]]
    assert await inbox_ids(client, "col.okafor", thread_id=ids[2]) == [ids[2]]
    assert await inbox_ids(client, "col.okafor", since=utc_now().isoformat()) == []
    everything = await inbox_ids(
        client, "col.okafor", since=(utc_now() - timedelta(hours=1)).isoformat()
    )
    assert everything == ids
    naive = await client.get(
        "/v1/messages", params={"since": "2026-01-01T00:00:00"}, headers=bearer("col.okafor")
    )
    assert naive.status_code == 422
    sent_unread = await client.get(
        "/v1/messages", params={"box": "sent", "unread": True}, headers=bearer("jo.operator")
    )
    assert sent_unread.status_code == 422
    assert sent_unread.json()["errors"][0]["loc"] == ["query", "unread"]


@pytest.mark.parametrize("box", ["inbox", "sent"])
async def test_cursor_pagination_walks_every_message_once(
    db: Database, client: httpx.AsyncClient, box: str
) -> None:
    ids = await many(db, client, 5)
    person_id = "col.okafor" if box == "inbox" else "jo.operator"
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2, "box": box}
    for _ in range(10):
        response = await client.get("/v1/messages", params=params, headers=bearer(person_id))
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= 2
        seen += [i["id"] for i in page["items"]]
        if page["next_cursor"] is None:
            break
        params = {**params, "cursor": page["next_cursor"]}
    assert seen == ids


@pytest.mark.parametrize("cursor", ["not-a-cursor", "bm9waXBl", "MjAyNi0wMS0wMXx4"])
async def test_bad_cursor_is_422_naming_the_cursor(client: httpx.AsyncClient, cursor: str) -> None:
    response = await client.get(
        "/v1/messages", params={"cursor": cursor}, headers=bearer("col.okafor")
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["query", "cursor"]


async def test_lists_need_valid_credentials(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/messages")).status_code == 401
    assert (await client.get(f"/v1/threads/{uuid4()}")).status_code == 401
    assert (await client.get(f"/v1/messages/{uuid4()}")).status_code == 401


# --------------------------------------------------------------------------- on the broker


async def next_on(queue: aio_pika.abc.AbstractQueue, within: float = 15.0) -> Envelope:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        message = await queue.get(fail=False, no_ack=True)
        if message is not None:
            return Envelope.model_validate_json(message.body)
        await asyncio.sleep(0.1)
    raise AssertionError(f"nothing on {queue.name} within {within}s")


async def test_the_service_publishes_sent_and_applies_the_routers_state(
    db: Database, amqp_url: str
) -> None:
    settings = Settings(
        amqp_url=amqp_url,
        database_url=db.url,
        directory=EXAMPLE_DIRECTORY,
        jwt_secret=JWT_SECRET,
        outbox_poll_interval=0.1,
    )
    service = IngestService(settings)
    await service.start()
    connection = await aio_pika.connect(amqp_url, timeout=10)
    try:
        channel = await connection.channel()
        router_inbox = await channel.get_queue("router.inbox", ensure=False)
        transport = httpx.ASGITransport(app=service.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest.test") as client:
            message = await send(client, to={"persons": ["col.okafor"]})
            published = await next_on(router_inbox)
            assert published.type == "message.sent"
            assert published.payload["message_id"] == message["id"]

            assert service.infrastructure is not None
            envelope = state_changed(message, 1, delivered("col.okafor"))
            # as the router publishes it: inside its transaction's router.decisions
            [decisions] = pack([envelope])
            await service.infrastructure.bus.publish([to_outgoing(decisions)])
            deadline = time.monotonic() + 15
            while await inbox_ids(client, "col.okafor") != [message["id"]]:
                assert time.monotonic() < deadline, "the state never reached the inbox"
                await asyncio.sleep(0.1)
            view = (
                await client.get(f"/v1/messages/{message['id']}", headers=bearer("jo.operator"))
            ).json()
            assert view["status"] == "delivered"
            assert UUID(view["thread_id"]) == published.correlation_id
    finally:
        await connection.close()
        await service.stop()
