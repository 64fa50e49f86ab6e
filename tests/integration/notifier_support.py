"""Builders and probes shared by the notifier's integration tests (no fixtures)."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from sqlalchemy import select

from services.notifier.tables import OUTBOX, DeliveryRecord
from shared.contracts import NOTIFICATION_REQUESTED
from shared.contracts.notifications import (
    AlertSummary,
    ContactPoint,
    NotificationKind,
    NotificationRequestedV1,
)
from shared.envelope import Envelope
from tests.integration.conftest import Database
from tests.unit.helpers import SOURCE, raised_envelope

WEBHOOK_URL = "http://127.0.0.1:9101/awa"
EMAIL = "awa.ndiaye@example.org"


def requested_envelope(
    *contacts: tuple[str, str],
    kind: NotificationKind = NotificationKind.PAGE,
    message: str = "",
) -> Envelope:
    """A ``notification.requested`` for awa.hfo, caused by an alert raised *with* a source.

    ``contacts`` are ``(channel, address)`` pairs; default: awa's webhook.
    """
    raised = raised_envelope(source=SOURCE)
    alert = raised.payload
    request = NotificationRequestedV1(
        notification_id=uuid4(),
        alert_id=alert["alert_id"],
        person_id="awa.hfo",
        kind=kind,
        contacts=[
            ContactPoint(channel=channel, address=address)
            for channel, address in (contacts or (("webhook", WEBHOOK_URL),))
        ],
        policy_id="poc-urgent",
        level=1,
        message=message,
        alert=AlertSummary.model_validate(
            {field: alert[field] for field in AlertSummary.model_fields}
        ),
    )
    return raised.caused(NOTIFICATION_REQUESTED, request, producer="router")


async def outbox(db: Database) -> list[Envelope]:
    """Every envelope the notifier staged, in order."""
    async with db.sessions() as session:
        rows = (await session.execute(select(OUTBOX).order_by(OUTBOX.c.position))).all()
    return [Envelope.model_validate_json(bytes(r.body)) for r in rows]


async def delivery(db: Database, notification_id: Any) -> DeliveryRecord:
    """The delivery record of a notification."""
    async with db.sessions() as session:
        record = await session.get(DeliveryRecord, str(notification_id))
    assert record is not None
    return record
