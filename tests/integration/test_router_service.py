"""The router's handler on a real database: a redelivered ``alert.raised`` has one effect."""

from __future__ import annotations

import asyncio
import json
from uuid import uuid4

import pytest
from sqlalchemy import select

from services.router.handlers import RouterHandler
from services.router.tables import INBOX, OUTBOX, AlertRecord, EventRecord
from shared.contracts import NOTIFICATION_DELIVERED
from shared.contracts.notifications import NotificationDeliveredV1
from shared.envelope import Envelope
from tests.integration.conftest import Database
from tests.unit.helpers import SOURCE, directory_with_sms_target, raised_envelope

pytestmark = pytest.mark.integration


@pytest.fixture
def handler(db: Database) -> RouterHandler:
    return RouterHandler(db.sessions, directory_with_sms_target())


async def outbox_messages(db: Database) -> list[Envelope]:
    async with db.sessions() as session:
        rows = (await session.execute(select(OUTBOX).order_by(OUTBOX.c.position))).all()
    return [Envelope.model_validate_json(bytes(r.body)) for r in rows]


async def event_log(db: Database) -> list[EventRecord]:
    async with db.sessions() as session:
        return list((await session.scalars(select(EventRecord).order_by(EventRecord.seq))).all())


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

    published = await outbox_messages(db)
    requested = [m for m in published if m.type == "notification.requested"]
    assert sorted(m.payload["person_id"] for m in requested) == [
        "awa.hfo",
        "col.okafor",
        "insp.diallo",
    ]
    assert [m.type for m in published].count("alert.triggered") == 1
    assert all(m.causation_id == raised.id for m in published)
    assert all(SOURCE["contact"] not in m.model_dump_json() for m in published)

    log = await event_log(db)
    assert [e.type for e in log].count("alert.raised") == 1
    assert [e.type for e in log] == ["alert.raised"] + [m.type for m in published]
    assert [e.event_id for e in log[1:]] == [str(m.id) for m in published]
    assert await db.count(INBOX) == 1


async def test_concurrent_copies_of_alert_raised_have_one_effect(
    db: Database, handler: RouterHandler
) -> None:
    raised = raised_envelope()
    await asyncio.gather(handler(raised), handler(raised), handler(raised))
    assert await db.count(AlertRecord) == 1
    assert await db.count(OUTBOX) == 2  # alert.triggered + one notification.requested
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
    ]
    log_types = [e.type for e in await event_log(db)]
    assert "alert.target_unreachable" in log_types


async def test_delivery_outcome_is_logged_once(db: Database, handler: RouterHandler) -> None:
    raised = raised_envelope()
    await handler(raised)
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
    outbox_before = await db.count(OUTBOX)
    assert outbox_before == 2  # the outcome itself produces nothing new


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
    [triggered] = [m for m in await outbox_messages(db) if m.type == "alert.triggered"]
    assert json.loads(triggered.model_dump_json())["payload"]["targets"] == []
    # never a silent skip: the JOC sees that nobody was paged, and why
    [unrouted] = [m for m in await outbox_messages(db) if m.type == "alert.unrouted"]
    assert "nobody in sector 'north'" in unrouted.payload["reason"]
