"""``explain``: an alert's story told from the event log alone (`coord audit explain`)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from services.router.audit.explain import explain
from services.router.handlers import RouterHandler
from services.router.timers import fire_due_timers
from shared.contracts import ALERT_ACKNOWLEDGE, ALERT_RESOLVE, NOTIFICATION_DELIVERED
from shared.directory import Directory
from shared.envelope import Envelope, utc_now
from shared.event_log import EventRecord
from tests.support.builders import SOURCE, raised_envelope
from tests.support.database import Database
from tests.support.directories import directory_for

pytestmark = pytest.mark.integration

DIRECTORY = Directory.model_validate(directory_for("http://127.0.0.1:9/hooks"))


def command(type_: str, alert: Envelope, person: str, **fields: object) -> Envelope:
    payload = {"alert_id": str(alert.correlation_id), "person_id": person, **fields}
    return Envelope(
        type=type_,
        producer="ingest",
        actor=person,
        correlation_id=alert.correlation_id,
        payload=payload,
    )


async def test_the_story_names_route_levels_pages_deliveries_escalation_and_ack(
    db: Database,
) -> None:
    handler = RouterHandler(db.sessions, lambda: DIRECTORY)
    raised = raised_envelope(category="abduction", severity="severe", sector="beni", source=SOURCE)
    await handler(raised)
    async with db.sessions() as session:
        page = (
            await session.scalars(
                select(EventRecord).where(EventRecord.type == "notification.requested")
            )
        ).first()
    assert page is not None
    delivered = Envelope(
        type=NOTIFICATION_DELIVERED,
        producer="notifier",
        actor="notifier",
        correlation_id=raised.correlation_id,
        payload={
            "notification_id": page.payload["notification_id"],
            "alert_id": str(raised.correlation_id),
            "person_id": "awa.hfo",
            "kind": "page",
            "channel": "webhook",
            "attempts": 2,
        },
    )
    await handler(delivered)
    await fire_due_timers(db.sessions, DIRECTORY, utc_now() + timedelta(minutes=11), batch=10)
    await handler(command(ALERT_ACKNOWLEDGE, raised, "insp.diallo"))  # not on the chain
    await handler(command(ALERT_ACKNOWLEDGE, raised, "lucas.ho"))
    await handler(command(ALERT_RESOLVE, raised, "lucas.ho", note="farmers released"))

    async with db.sessions() as session:
        lines = await explain(session, str(raised.correlation_id))
    story = "\n".join(lines)
    expected = [
        "raised by jo.operator: severe abduction in sector beni",
        "routed: matching routes selected policies [poc-urgent]; policy poc-urgent",
        "level 1: awa.hfo (escalates after 10:00)",
        "level 2: lucas.ho (escalates after 15:00)",
        "repeats 1 more time(s)",
        "level 1 paged: awa.hfo",
        "notify awa.hfo (page, level 1) via webhook -> email",
        "delivered to awa.hfo by webhook after 2 attempt(s)",
        "escalated: nobody acknowledged level 1 within 10:00; level 2 (loop 0) paged: lucas.ho",
        "refused alert.acknowledge by insp.diallo",
        "acknowledged by lucas.ho: escalation stops",
        "resolved by lucas.ho: farmers released",
    ]
    positions = [story.find(text) for text in expected]
    assert all(p >= 0 for p in positions), [
        t for t, p in zip(expected, positions, strict=True) if p < 0
    ]
    assert positions == sorted(positions), "told out of order"
    assert SOURCE["name"] not in story
    assert lines[0].startswith("T+   00:00")


async def test_an_unknown_alert_has_no_story(db: Database) -> None:
    async with db.sessions() as session:
        assert await explain(session, "00000000-0000-0000-0000-000000000000") == []
