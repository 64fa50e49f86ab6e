"""The router's message and recommendation services on a real database.

Addressing with clearance filtering, escalation of unacknowledged messages and
overdue recommendations, and the recommendation life cycle, through the same
handler the bus calls (so a redelivery has one effect).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from sqlalchemy import select

from services.router.handlers import RouterHandler
from services.router.messages.tables import MessageRecord
from services.router.recommendations.tables import RecommendationRecord
from services.router.tables import OUTBOX, EventRecord
from services.router.timers import fire_due_deadlines, next_due_at
from shared.contracts import (
    MESSAGE_ACKNOWLEDGE,
    MESSAGE_ADDRESSED,
    MESSAGE_ESCALATED,
    MESSAGE_SENT,
    MESSAGE_STATE_CHANGED,
    NOTIFICATION_REQUESTED,
    RECOMMENDATION_ACKNOWLEDGE,
    RECOMMENDATION_COMMAND_REJECTED,
    RECOMMENDATION_ESCALATED,
    RECOMMENDATION_RESPOND,
    RECOMMENDATION_STATE_CHANGED,
    RECOMMENDATION_SUBMITTED,
)
from shared.contracts.messages import MessageStateV1
from shared.contracts.recommendations import RecommendationStateV1
from shared.directory import Directory
from shared.envelope import Envelope, utc_now
from tests.support.database import Database
from tests.support.directories import directory_for
from tests.support.outbox import published as outbox_events

pytestmark = pytest.mark.integration

DIRECTORY = Directory.model_validate(directory_for("http://127.0.0.1:9/hooks"))


@pytest.fixture
def handler(db: Database) -> RouterHandler:
    return RouterHandler(db.sessions, lambda: DIRECTORY)


def envelope(type_: str, actor: str, payload: dict[str, Any], correlation: UUID) -> Envelope:
    return Envelope(
        type=type_,
        producer="ingest",
        actor=actor,
        correlation_id=correlation,
        classification=payload.get("classification", "unclassified"),
        payload=payload,
    )


def sent(
    *,
    to: dict[str, list[str]],
    classification: str = "unclassified",
    sender: str = "awa.hfo",
    requires_ack: bool = False,
    due_in: timedelta = timedelta(minutes=30),
) -> Envelope:
    message_id = uuid4()
    payload: dict[str, Any] = {
        "message_id": str(message_id),
        "sender": sender,
        "to": to,
        "subject": "Patrol request, Mavivi road",
        "body": "Please confirm a night patrol on the Mavivi road.",
        "classification": classification,
        "thread_id": str(message_id),
        "requires_ack": requires_ack,
        "ack_due_at": (utc_now() + due_in).isoformat() if requires_ack else None,
    }
    return envelope(MESSAGE_SENT, sender, payload, message_id)


async def logged_types(db: Database) -> list[str]:
    async with db.sessions() as session:
        return list(
            (await session.scalars(select(EventRecord.type).order_by(EventRecord.seq))).all()
        )


async def published(db: Database) -> list[Envelope]:
    """The events the router staged, each once, in the order it decided them."""
    return await outbox_events(db.sessions, OUTBOX)


def notified(messages: list[Envelope], kind: str) -> list[str]:
    return [
        m.payload["person_id"]
        for m in messages
        if m.type == NOTIFICATION_REQUESTED and m.payload["kind"] == kind
    ]


def last_state(messages: list[Envelope], type_: str) -> dict[str, Any]:
    states = [m.payload for m in messages if m.type == type_]
    assert states, f"no {type_}"
    return max(states, key=lambda s: s["version"])


async def test_confidential_message_is_delivered_only_to_the_cleared(
    db: Database, handler: RouterHandler
) -> None:
    message = sent(
        to={"components": ["military"], "sectors": ["beni"]}, classification="confidential"
    )
    await handler(message)
    await handler(message)  # redelivered: one effect

    out = await published(db)
    [addressed] = [m for m in out if m.type == MESSAGE_ADDRESSED]
    outcome = {d["person_id"]: d for d in addressed.payload["deliveries"]}
    assert set(outcome) == {"col.okafor", "gen.force", "lt.mbeki"}
    assert outcome["col.okafor"]["delivered"]
    assert outcome["gen.force"]["delivered"]
    assert not outcome["lt.mbeki"]["delivered"]
    assert "unclassified" in outcome["lt.mbeki"]["reason"]
    assert "confidential" in outcome["lt.mbeki"]["reason"]
    # the uncleared addressee is never notified; the sender is told why
    assert sorted(notified(out, "message")) == ["col.okafor", "gen.force"]
    assert notified(out, "message_undelivered") == ["awa.hfo"]
    [undelivered] = [m for m in out if m.payload.get("kind") == "message_undelivered"]
    assert "lt.mbeki" in undelivered.payload["message"]
    # a classified body never leaves coord in a notification
    assert all("body" not in m.payload["summary"] for m in out if m.type == NOTIFICATION_REQUESTED)
    assert all(m.schema_version == 2 for m in out if m.type == NOTIFICATION_REQUESTED)
    state = MessageStateV1.model_validate(last_state(out, MESSAGE_STATE_CHANGED))
    assert state.version == 1
    assert await db.count(MessageRecord) == 1
    # the message as sent opens its history on the event log, once
    logged = await logged_types(db)
    assert logged.count(MESSAGE_SENT) == 1
    assert logged.index(MESSAGE_SENT) < logged.index(MESSAGE_ADDRESSED)


async def test_unacknowledged_message_escalates_up_the_chain_until_it_ends(
    db: Database, handler: RouterHandler
) -> None:
    message = sent(
        to={"persons": ["col.okafor", "insp.diallo"]}, requires_ack=True, due_in=timedelta(0)
    )
    await handler(message)
    due = await next_due_at(db.sessions)
    assert due is not None

    # first window: okafor's superior (force commander); diallo has no superior -> JOC
    assert await fire_due_deadlines(db.sessions, DIRECTORY, due, batch=10) == 1
    out = await published(db)
    escalations = {m.payload["person_id"]: m.payload for m in out if m.type == MESSAGE_ESCALATED}
    assert escalations["col.okafor"]["superiors"] == ["gen.force"]
    assert escalations["insp.diallo"]["superiors"] == []
    assert notified(out, "message_unacknowledged") == ["gen.force"]
    state = MessageStateV1.model_validate(last_state(out, MESSAGE_STATE_CHANGED))
    by_person = {a.person_id: a for a in state.addressees}
    assert by_person["col.okafor"].escalated_to == ["gen.force"]
    assert by_person["insp.diallo"].escalation_ended
    assert state.next_escalation_at is not None

    # an acknowledgement stops the chase; nothing is due any more
    ack = envelope(
        MESSAGE_ACKNOWLEDGE,
        "col.okafor",
        {"message_id": message.payload["message_id"], "person_id": "col.okafor"},
        message.correlation_id,
    )
    await handler(ack)
    out = await published(db)
    state = MessageStateV1.model_validate(last_state(out, MESSAGE_STATE_CHANGED))
    assert {a.person_id: a for a in state.addressees}["col.okafor"].acknowledged_at is not None
    assert state.next_escalation_at is None
    assert await fire_due_deadlines(db.sessions, DIRECTORY, utc_now() + timedelta(hours=2), 10) == 0


def with_joc_contact() -> Directory:
    """The e2e directory, with a JOC duty officer who can be told (jo.operator has no contact)."""
    raw = directory_for("http://127.0.0.1:9/hooks")
    for person in raw["people"]:
        if person["id"] == "jo.operator":
            person["contacts"] = [{"channel": "email", "address": "joc@example.org"}]
    return Directory.model_validate(raw)


async def test_escalation_that_finds_no_superior_tells_the_sender_and_the_joc(
    db: Database,
) -> None:
    directory = with_joc_contact()
    handler = RouterHandler(db.sessions, lambda: directory)
    # insp.diallo's role has nobody above it; col.okafor's (force commander) does.
    message = sent(
        to={"persons": ["insp.diallo", "col.okafor"]}, requires_ack=True, due_in=timedelta(0)
    )
    await handler(message)
    due = await next_due_at(db.sessions)
    assert due is not None

    assert await fire_due_deadlines(db.sessions, directory, due, batch=10) == 1
    out = await published(db)
    # Whoever asked for the acknowledgement learns it will not come, and so does the JOC.
    assert sorted(notified(out, "nobody_to_escalate_to")) == ["awa.hfo", "jo.operator"]
    told = [
        m.payload
        for m in out
        if m.type == NOTIFICATION_REQUESTED and m.payload["kind"] == "nobody_to_escalate_to"
    ]
    for notice in told:
        assert "insp.diallo has not acknowledged" in notice["message"]
        assert "nobody above them" in notice["message"]
        assert notice["subject_id"] == message.payload["message_id"]
    assert notified(out, "message_unacknowledged") == ["gen.force"]  # okafor's chain goes on
    state = MessageStateV1.model_validate(last_state(out, MESSAGE_STATE_CHANGED))
    assert {a.person_id: a for a in state.addressees}["insp.diallo"].escalation_ended


async def test_the_joc_that_sent_it_is_told_once(db: Database) -> None:
    directory = with_joc_contact()
    handler = RouterHandler(db.sessions, lambda: directory)
    message = sent(
        to={"persons": ["insp.diallo"]},
        sender="jo.operator",
        requires_ack=True,
        due_in=timedelta(0),
    )
    await handler(message)
    due = await next_due_at(db.sessions)
    assert due is not None
    assert await fire_due_deadlines(db.sessions, directory, due, batch=10) == 1
    assert notified(await published(db), "nobody_to_escalate_to") == ["jo.operator"]


def submitted(due_by: datetime, addressee: dict[str, str] | None = None) -> Envelope:
    recommendation_id = uuid4()
    payload = {
        "recommendation_id": str(recommendation_id),
        "author": "awa.hfo",
        "addressee": addressee or {"role": "sector_commander"},
        "sector": "beni",
        "action": "Deploy a night patrol to Mavivi",
        "rationale": "Three community alerts of armed men this week.",
        "due_by": due_by.isoformat(),
        "classification": "unclassified",
    }
    return envelope(RECOMMENDATION_SUBMITTED, "awa.hfo", payload, recommendation_id)


def command(type_: str, recommendation: Envelope, person: str, **fields: Any) -> Envelope:
    payload = {
        "recommendation_id": recommendation.payload["recommendation_id"],
        "person_id": person,
    }
    return envelope(type_, person, {**payload, **fields}, recommendation.correlation_id)


async def test_recommendation_is_acknowledged_then_declined_with_a_reason(
    db: Database, handler: RouterHandler
) -> None:
    recommendation = submitted(utc_now() + timedelta(hours=4))
    await handler(recommendation)
    out = await published(db)
    assert notified(out, "recommendation") == ["col.okafor"]

    await handler(
        command(RECOMMENDATION_RESPOND, recommendation, "col.okafor", response="accepted")
    )
    # Not concerned by it (need-to-know): answered as if it did not exist.
    await handler(command(RECOMMENDATION_ACKNOWLEDGE, recommendation, "lt.mbeki"))
    # Sees it (wrote it), but it is not theirs to answer.
    await handler(command(RECOMMENDATION_ACKNOWLEDGE, recommendation, "awa.hfo"))
    await handler(command(RECOMMENDATION_ACKNOWLEDGE, recommendation, "col.okafor"))
    await handler(
        command(
            RECOMMENDATION_RESPOND,
            recommendation,
            "col.okafor",
            response="declined",
            reason="No troops free before Friday",
        )
    )
    out = await published(db)
    rejected = [m.payload for m in out if m.type == RECOMMENDATION_COMMAND_REJECTED]
    assert [(r["person_id"], r["refusal"]) for r in rejected] == [
        ("col.okafor", "wrong_state"),
        ("lt.mbeki", "not_found"),
        ("awa.hfo", "not_allowed"),
    ]
    assert "acknowledge" in rejected[0]["reason"]
    assert (
        rejected[1]["reason"] == f"no recommendation {recommendation.payload['recommendation_id']}"
    )
    assert "not an addressee" in rejected[2]["reason"]
    state = RecommendationStateV1.model_validate(last_state(out, RECOMMENDATION_STATE_CHANGED))
    assert state.status == "declined"
    assert state.reason == "No troops free before Friday"
    assert state.acknowledged_by == state.responded_by == "col.okafor"
    assert notified(out, "recommendation_answered") == ["awa.hfo", "awa.hfo"]
    async with db.sessions() as session:
        record = (await session.scalars(select(RecommendationRecord))).one()
    assert record.timer_due_at is None  # answered: never escalates
    # the whole history is on the event log, in order
    logged = [t for t in await logged_types(db) if t.startswith("recommendation.")]
    assert logged == [
        RECOMMENDATION_SUBMITTED,
        "recommendation.issued",
        RECOMMENDATION_STATE_CHANGED,
        RECOMMENDATION_COMMAND_REJECTED,
        RECOMMENDATION_COMMAND_REJECTED,
        RECOMMENDATION_COMMAND_REJECTED,
        "recommendation.acknowledged",
        RECOMMENDATION_STATE_CHANGED,
        "recommendation.responded",
        RECOMMENDATION_STATE_CHANGED,
    ]


async def test_unanswered_recommendation_escalates_once_to_both_chains(
    db: Database, handler: RouterHandler
) -> None:
    recommendation = submitted(utc_now() - timedelta(seconds=1))
    await handler(recommendation)
    await handler(command(RECOMMENDATION_ACKNOWLEDGE, recommendation, "col.okafor"))

    assert await fire_due_deadlines(db.sessions, DIRECTORY, utc_now(), batch=10) == 1
    assert await fire_due_deadlines(db.sessions, DIRECTORY, utc_now(), batch=10) == 0
    out = await published(db)
    [escalated] = [m for m in out if m.type == RECOMMENDATION_ESCALATED]
    # the author's next senior civilian and the addressee's superior
    assert sorted(escalated.payload["to"]) == ["gen.force", "lucas.ho"]
    assert sorted(notified(out, "recommendation_overdue")) == ["gen.force", "lucas.ho"]
    state = RecommendationStateV1.model_validate(last_state(out, RECOMMENDATION_STATE_CHANGED))
    assert state.escalated_at is not None
    assert state.status == "acknowledged"


async def test_recommendation_nobody_can_receive_is_undeliverable_and_the_joc_told(
    db: Database, handler: RouterHandler
) -> None:
    recommendation = submitted(utc_now() + timedelta(hours=1), {"role": "force_commander_deputy"})
    await handler(recommendation)
    out = await published(db)
    state = RecommendationStateV1.model_validate(last_state(out, RECOMMENDATION_STATE_CHANGED))
    assert state.status == "undeliverable"
    # jo.operator has no contact: the notice is not sent, but the event is on the log
    assert any(m.type == "recommendation.undeliverable" for m in out)
