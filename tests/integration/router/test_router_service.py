"""The router's handler on a real database: a redelivered ``alert.raised`` has one effect,
duplicates (same ``dedup_key``, sector, category and classification, raised by someone who
may see the open alert) are merged, and the source never leaves the router."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from uuid import UUID, uuid4

import pytest
from sqlalchemy import select

from services.router.alerts.tables import AlertRecord, OpenDedupKey
from services.router.handlers import RouterHandler
from services.router.tables import INBOX, OUTBOX, EventRecord
from shared.contracts import (
    ALERT_DEDUPLICATED,
    ALERT_MERGED,
    ALERT_RAISED,
    ALERT_RESOLVE,
    ALERT_STATE_CHANGED,
    ALERT_TRIGGERED,
    NOTIFICATION_DELIVERED,
    NOTIFICATION_REQUESTED,
    ROUTER_DECISIONS,
    payload_model,
)
from shared.contracts.escalation import ResolveAlertV1
from shared.contracts.notifications import NotificationDeliveredV1
from shared.envelope import Envelope
from tests.support.builders import SOURCE, contains_key, raised_envelope
from tests.support.database import Database
from tests.support.directories import AWA_CONTACTS, directory_with_unreachable_target
from tests.support.outbox import messages, published

pytestmark = pytest.mark.integration


@pytest.fixture
def handler(db: Database) -> RouterHandler:
    directory = directory_with_unreachable_target()
    return RouterHandler(db.sessions, lambda: directory)


async def outbox_messages(db: Database) -> list[Envelope]:
    """The events the router staged, each once, in the order it decided them."""
    return await published(db.sessions, OUTBOX)


async def event_log(db: Database) -> list[EventRecord]:
    async with db.sessions() as session:
        return list((await session.scalars(select(EventRecord).order_by(EventRecord.seq))).all())


async def alert_row(db: Database, alert_id: str | UUID) -> AlertRecord:
    async with db.sessions() as session:
        record = await session.get(AlertRecord, str(alert_id))
    assert record is not None
    return record


def of_alert(messages: list[Envelope], alert_id: str | UUID) -> list[Envelope]:
    return [m for m in messages if str(m.correlation_id) == str(alert_id)]


async def test_redelivered_alert_raised_has_one_effect(
    db: Database, handler: RouterHandler
) -> None:
    raised = raised_envelope(category="armed_group_movement", severity="minor", source=SOURCE)

    await handler(raised)
    await handler(raised)  # the broker redelivers (e.g. the ack was lost)

    async with db.sessions() as session:
        alerts = (await session.scalars(select(AlertRecord))).all()
    assert len(alerts) == 1
    [alert] = alerts
    assert alert.alert_id == raised.payload["alert_id"]
    assert (alert.status, alert.policy_id, alert.level) == ("triggered", "poc-joint", 1)
    assert alert.targets == ["awa.hfo", "col.okafor", "insp.diallo"]
    assert (alert.version, alert.timer_kind, alert.dedup_count) == (1, "escalate", 1)
    assert alert.snapshot["policy_id"] == "poc-joint"

    published = await outbox_messages(db)
    assert [m.type for m in published] == [
        ALERT_TRIGGERED,
        NOTIFICATION_REQUESTED,
        NOTIFICATION_REQUESTED,
        NOTIFICATION_REQUESTED,
        ALERT_STATE_CHANGED,
    ]
    requested = [m.payload for m in published if m.type == NOTIFICATION_REQUESTED]
    assert {r["person_id"]: r["contacts"] for r in requested} == {
        "awa.hfo": AWA_CONTACTS,
        "col.okafor": [{"channel": "webhook", "address": "http://127.0.0.1:9101/okafor"}],
        "insp.diallo": [{"channel": "webhook", "address": "http://127.0.0.1:9101/diallo"}],
    }
    assert all(r["kind"] == "page" and r["level"] == 1 for r in requested)
    [state] = [m.payload for m in published if m.type == ALERT_STATE_CHANGED]
    assert (state["version"], state["status"], state["level"]) == (1, "triggered", 1)
    assert state["chain"] == ["awa.hfo", "col.okafor", "insp.diallo", "lucas.ho"]
    assert state["targets"] == alert.targets
    assert all(m.causation_id == raised.id for m in published)
    for message in published:
        payload_model(message.type, message.schema_version).model_validate(message.payload)
    # one transaction: the pages alone for the notifier, then one message for the views
    assert [m.type for m in await messages(db.sessions, OUTBOX)] == [
        NOTIFICATION_REQUESTED,
        NOTIFICATION_REQUESTED,
        NOTIFICATION_REQUESTED,
        ROUTER_DECISIONS,
    ]

    log = await event_log(db)
    assert [e.type for e in log].count("alert.raised") == 1
    assert [e.type for e in log] == ["alert.raised"] + [m.type for m in published]
    assert [e.event_id for e in log[1:]] == [str(m.id) for m in published]
    assert await db.count(INBOX) == 1


async def test_source_never_leaves_what_the_router_writes(
    db: Database, handler: RouterHandler
) -> None:
    cases: list[dict[str, Any]] = [
        {"category": "armed_group_movement", "severity": "minor"},  # three pages
        {"category": "displacement", "severity": "moderate", "sector": "north"},  # unreachable
        {"category": "abduction", "severity": "severe", "sector": "south"},  # unrouted
        {"category": "abduction", "severity": "severe", "dedup_key": "k"},  # opens with a key
        {"category": "abduction", "severity": "severe", "dedup_key": "k"},  # merged
    ]
    raised = [raised_envelope(source=SOURCE, **case) for case in cases]
    for envelope in raised:
        await handler(envelope)

    published = await outbox_messages(db)
    assert {m.type for m in published} >= {
        ALERT_TRIGGERED,
        NOTIFICATION_REQUESTED,
        "alert.target_unreachable",
        "alert.unrouted",
        ALERT_MERGED,
        ALERT_DEDUPLICATED,
        ALERT_STATE_CHANGED,
    }
    log = await event_log(db)
    consumed = {str(e.id) for e in raised}
    produced = [e.payload for e in log if e.event_id not in consumed]
    assert len(produced) == len(published)
    assert [e.type for e in log if e.event_id in consumed] == [ALERT_RAISED] * len(raised)
    async with db.sessions() as session:
        alerts = (await session.scalars(select(AlertRecord))).all()
    assert len(alerts) == len(raised)
    stored = [{"summary": r.summary, "snapshot": r.snapshot} for r in alerts]
    rows = [m.model_dump(mode="json") for m in await messages(db.sessions, OUTBOX)]
    events = [m.model_dump(mode="json") for m in published]
    for written in [*rows, *events, *produced, *stored]:
        assert not contains_key(written, "source")
        text = json.dumps(written)
        assert SOURCE["name"] not in text
        assert SOURCE["contact"] not in text


async def test_concurrent_copies_of_alert_raised_have_one_effect(
    db: Database, handler: RouterHandler
) -> None:
    raised = raised_envelope()
    await asyncio.gather(handler(raised), handler(raised), handler(raised))
    assert await db.count(AlertRecord) == 1
    # alert.triggered + one notification.requested + alert.state_changed
    assert [m.type for m in await outbox_messages(db)] == [
        ALERT_TRIGGERED,
        NOTIFICATION_REQUESTED,
        ALERT_STATE_CHANGED,
    ]
    assert await db.count(EventRecord, EventRecord.type == "alert.raised") == 1


async def test_unreachable_target_is_recorded_and_published(
    db: Database, handler: RouterHandler
) -> None:
    raised = raised_envelope(category="displacement", severity="moderate", sector="north")
    await handler(raised)
    published = await outbox_messages(db)
    assert [(m.type, m.payload.get("person_id")) for m in published] == [
        ("alert.triggered", None),
        ("alert.target_unreachable", "amani.cla"),
        ("notification.requested", "lucas.ho"),
        # the JOC is told amani cannot be paged; jo.operator has no contact either
        ("alert.target_unreachable", "jo.operator"),
        ("alert.state_changed", None),
    ]
    log_types = [e.type for e in await event_log(db)]
    assert "alert.target_unreachable" in log_types


async def test_delivery_outcome_is_logged_once(db: Database, handler: RouterHandler) -> None:
    raised = raised_envelope()
    await handler(raised)
    rows_before = await db.count(OUTBOX)
    assert len(await outbox_messages(db)) == 3  # triggered, one page, state
    delivered = raised.caused(
        NOTIFICATION_DELIVERED,
        NotificationDeliveredV1(
            notification_id=uuid4(),
            alert_id=raised.payload["alert_id"],
            person_id="awa.hfo",
            channel="webhook",
            attempts=1,
        ),
        producer="notifier",
    )
    await handler(delivered)
    await handler(delivered)
    assert await db.count(EventRecord, EventRecord.type == NOTIFICATION_DELIVERED) == 1
    # the outcome itself produces nothing new
    assert await db.count(OUTBOX) == rows_before
    assert len(await outbox_messages(db)) == 3


async def test_unknown_message_type_is_refused_without_effect(
    db: Database, handler: RouterHandler
) -> None:
    stray = raised_envelope().caused(
        "alert.exploded",
        NotificationDeliveredV1(
            notification_id=uuid4(),
            alert_id=uuid4(),
            person_id="x",
            channel="webhook",
            attempts=1,
        ),
        producer="test",
    )
    with pytest.raises(ValueError, match=r"alert\.exploded"):
        await handler(stray)
    assert await db.count(INBOX) == 0
    assert await db.count(EventRecord) == 0


async def test_sector_without_level_one_people_triggers_with_no_targets(
    db: Database, handler: RouterHandler
) -> None:
    raised = raised_envelope(sector="north", category="abduction", severity="severe")
    await handler(raised)
    async with db.sessions() as session:
        alert = (await session.scalars(select(AlertRecord))).one()
    # no head of field office in north: level 1 of poc-urgent pages nobody
    assert (alert.policy_id, alert.targets) == ("poc-urgent", [])
    assert alert.raised_at.isoformat() == raised.payload["raised_at"]
    # escalation still runs: level 2 (lucas.ho) is paged when level 1's delay passes
    assert (alert.status, alert.timer_kind) == ("triggered", "escalate")
    published = await outbox_messages(db)
    [triggered] = [m for m in published if m.type == "alert.triggered"]
    assert json.loads(triggered.model_dump_json())["payload"]["targets"] == []
    # never a silent skip: the JOC sees that nobody was paged, and why
    [unrouted] = [m for m in published if m.type == "alert.unrouted"]
    assert "nobody in sector 'north'" in unrouted.payload["reason"]
    # the JOC duty officer is told; without a contact, that is an event too
    assert NOTIFICATION_REQUESTED not in [m.type for m in published]
    [unreachable] = [m for m in published if m.type == "alert.target_unreachable"]
    assert unreachable.payload["person_id"] == "jo.operator"


# --------------------------------------------------------------------------- dedup


async def test_alert_with_an_open_alerts_dedup_key_is_merged(
    db: Database, handler: RouterHandler
) -> None:
    first = raised_envelope(dedup_key="mavivi-road")
    duplicate = raised_envelope(dedup_key="mavivi-road", title="Same abduction, second report")
    await handler(first)
    opened = await outbox_messages(db)
    await handler(duplicate)
    await handler(duplicate)  # redelivered: still one merge

    open_id, duplicate_id = first.payload["alert_id"], duplicate.payload["alert_id"]
    merged = await alert_row(db, duplicate_id)
    assert (merged.status, merged.merged_into) == ("merged", open_id)
    assert merged.targets == []
    assert merged.timer_kind is None
    still_open = await alert_row(db, open_id)
    assert (still_open.status, still_open.dedup_count, still_open.version) == ("triggered", 2, 2)
    assert still_open.targets == ["awa.hfo"]

    after = (await outbox_messages(db))[len(opened) :]
    # nobody is paged for the duplicate
    assert NOTIFICATION_REQUESTED not in [m.type for m in after]
    assert ALERT_TRIGGERED not in [m.type for m in after]
    assert [(m.type, str(m.correlation_id)) for m in after] == [
        (ALERT_MERGED, open_id),
        (ALERT_STATE_CHANGED, open_id),
        (ALERT_DEDUPLICATED, duplicate_id),
        (ALERT_STATE_CHANGED, duplicate_id),
    ]
    merged_event, open_state, deduplicated, duplicate_state = (m.payload for m in after)
    assert merged_event == {
        "alert_id": open_id,
        "duplicate_alert_id": duplicate_id,
        "dedup_key": "mavivi-road",
        "count": 2,
    }
    assert deduplicated == {
        "alert_id": duplicate_id,
        "merged_into": open_id,
        "dedup_key": "mavivi-road",
    }
    assert (open_state["version"], open_state["dedup_count"]) == (2, 2)
    assert (open_state["status"], open_state["targets"]) == ("triggered", ["awa.hfo"])
    assert duplicate_state["status"] == "merged"
    assert duplicate_state["merged_into"] == open_id
    assert duplicate_state["version"] == 1
    assert all(m.causation_id == duplicate.id for m in after)
    assert await db.count(EventRecord, EventRecord.type == ALERT_RAISED) == 2
    assert await db.count(EventRecord, EventRecord.type == ALERT_MERGED) == 1

    third = raised_envelope(dedup_key="mavivi-road")
    await handler(third)
    assert (await alert_row(db, open_id)).dedup_count == 3
    assert (await alert_row(db, third.payload["alert_id"])).status == "merged"


async def test_concurrent_duplicates_open_one_alert(db: Database, handler: RouterHandler) -> None:
    copies = [raised_envelope(dedup_key="race") for _ in range(4)]
    await asyncio.gather(*(handler(c) for c in copies))
    async with db.sessions() as session:
        rows = (await session.scalars(select(AlertRecord))).all()
    statuses = sorted(r.status for r in rows)
    assert statuses == ["merged", "merged", "merged", "triggered"]
    [opened] = [r for r in rows if r.status == "triggered"]
    assert opened.dedup_count == 4
    assert {r.merged_into for r in rows if r.status == "merged"} == {opened.alert_id}
    requested = [m for m in await outbox_messages(db) if m.type == NOTIFICATION_REQUESTED]
    assert [str(m.correlation_id) for m in requested] == [opened.alert_id]


async def test_after_resolution_the_dedup_key_opens_a_new_alert(
    db: Database, handler: RouterHandler
) -> None:
    first = raised_envelope(dedup_key="mavivi-road")
    await handler(first)
    resolve = first.caused(
        ALERT_RESOLVE,
        ResolveAlertV1(alert_id=first.payload["alert_id"], person_id="awa.hfo", note="released"),
        producer="ingest",
        actor="awa.hfo",
    )
    await handler(resolve)
    assert (await alert_row(db, first.payload["alert_id"])).status == "resolved"
    assert await db.count(OpenDedupKey) == 0

    again = raised_envelope(dedup_key="mavivi-road")
    await handler(again)
    reopened = await alert_row(db, again.payload["alert_id"])
    assert (reopened.status, reopened.merged_into, reopened.dedup_count) == ("triggered", None, 1)
    requested = [
        m
        for m in of_alert(await outbox_messages(db), again.payload["alert_id"])
        if m.type == NOTIFICATION_REQUESTED
    ]
    assert [(m.payload["person_id"], m.payload["kind"]) for m in requested] == [("awa.hfo", "page")]


async def test_the_resolve_note_of_a_classified_alert_never_leaves_in_a_notification(
    db: Database, handler: RouterHandler
) -> None:
    raised = raised_envelope(classification="confidential")
    await handler(raised)
    alert_id = raised.payload["alert_id"]
    note = "confidential detail: the informant's village"
    resolve = raised.caused(
        ALERT_RESOLVE,
        ResolveAlertV1(alert_id=alert_id, person_id="awa.hfo", note=note),
        producer="ingest",
        actor="awa.hfo",
    )
    await handler(resolve)
    sent = [
        m
        for m in of_alert(await outbox_messages(db), alert_id)
        if m.type == NOTIFICATION_REQUESTED and m.payload["kind"] == "resolved"
    ]
    assert [m.payload["message"] for m in sent] == ["resolved by awa.hfo"]
    assert all("informant" not in m.model_dump_json() for m in sent)
