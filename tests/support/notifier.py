"""Builders and probes shared by the notifier's integration tests (no fixtures)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

import aio_pika
from sqlalchemy import select

from services.notifier.deliveries import DeliveryContext, deliver_notification
from services.notifier.tables import OUTBOX, DeliveryRecord
from shared.bus import NOTIFIER_QUEUE, ROUTER_QUEUE, Bus, to_outgoing
from shared.contracts import NOTIFICATION_REQUESTED
from shared.contracts.notifications import (
    AlertSummary,
    ContactPoint,
    NotificationKind,
    NotificationRequestedV1,
    NotificationRequestedV2,
    SubjectType,
)
from shared.envelope import Classification, Envelope
from shared.outbox_relay import OutboxRelay
from tests.support.builders import SOURCE, raised_envelope
from tests.support.database import Database

WEBHOOK_URL = "http://127.0.0.1:9101/awa"
EMAIL = "awa.ndiaye@example.org"


def requested_envelope(
    *contacts: tuple[str, str],
    kind: NotificationKind = NotificationKind.PAGE,
    message: str = "",
    version: int = 2,
) -> Envelope:
    """A ``notification.requested`` for awa.hfo, caused by an alert raised *with* a source.

    ``contacts`` are ``(channel, address)`` pairs; default: awa's webhook. Version 2 is
    what the router writes; ``version=1`` is what it wrote for alerts before, which
    queues and logs may still hold.
    """
    raised = raised_envelope(source=SOURCE)
    alert = raised.payload
    summary = AlertSummary.model_validate(
        {field: alert[field] for field in AlertSummary.model_fields if field in alert}
    )
    fields: dict[str, Any] = {
        "notification_id": uuid4(),
        "person_id": "awa.hfo",
        "kind": kind,
        "contacts": [
            ContactPoint(channel=channel, address=address)
            for channel, address in (contacts or (("webhook", WEBHOOK_URL),))
        ],
        "policy_id": "poc-urgent",
        "level": 1,
        "message": message,
    }
    request: NotificationRequestedV1 | NotificationRequestedV2 = (
        NotificationRequestedV1(**fields, alert_id=alert["alert_id"], alert=summary)
        if version == 1
        else NotificationRequestedV2(
            **fields,
            subject_type=SubjectType.ALERT,
            subject_id=alert["alert_id"],
            summary=summary.model_dump(mode="json"),
        )
    )
    return raised.caused(NOTIFICATION_REQUESTED, request, producer="router", schema_version=version)


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


MESSAGE_SUMMARY: dict[str, object] = {
    "title": "Convoy to Eringeti postponed",
    "classification": "confidential",
    "sender": "lucas.ho",
}


def requested_v2_envelope(
    *contacts: tuple[str, str],
    subject_type: SubjectType = SubjectType.MESSAGE,
    kind: NotificationKind = NotificationKind.MESSAGE,
    summary: dict[str, object] | None = None,
) -> Envelope:
    """A version-2 ``notification.requested`` for awa.hfo about a (new) message by default.

    ``contacts`` are ``(channel, address)`` pairs; default: awa's webhook.
    """
    subject_id = uuid4()
    request = NotificationRequestedV2(
        notification_id=uuid4(),
        subject_type=subject_type,
        subject_id=subject_id,
        person_id="awa.hfo",
        kind=kind,
        contacts=[
            ContactPoint(channel=channel, address=address)
            for channel, address in (contacts or (("webhook", WEBHOOK_URL),))
        ],
        summary=MESSAGE_SUMMARY if summary is None else summary,
    )
    return Envelope(
        type=NOTIFICATION_REQUESTED,
        schema_version=2,
        producer="router",
        actor="router",
        correlation_id=subject_id,
        classification=Classification.CONFIDENTIAL,
        payload=request.model_dump(mode="json"),
    )


async def wait_for(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:  # noqa: ASYNC109 - a polling bound
    """Poll ``condition`` until it holds; AssertionError naming ``what`` on timeout."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@dataclass
class BrokerNotifier:
    """The notifier wired as ``NotifierService`` wires it, on a test's vhost and database."""

    bus: Bus
    amqp_url: str
    handled: list[Envelope] = field(default_factory=list)

    async def request(self, *envelopes: Envelope) -> None:
        """Publish requests to ``coord.events``, as the router's outbox relay would."""
        await self.bus.publish([to_outgoing(e) for e in envelopes])

    async def published(self, count: int, timeout: float = 20.0) -> list[Envelope]:  # noqa: ASYNC109 - a polling bound
        """What the notifier published, as the router's queue receives it: ``count`` envelopes."""
        connection = await aio_pika.connect(self.amqp_url, timeout=10)
        received: list[Envelope] = []
        try:
            queue = await (await connection.channel()).get_queue(ROUTER_QUEUE.name, ensure=False)
            deadline = asyncio.get_running_loop().time() + timeout
            while len(received) < count and asyncio.get_running_loop().time() < deadline:
                message = await queue.get(no_ack=True, fail=False)
                if message is None:
                    await asyncio.sleep(0.05)
                    continue
                received.append(Envelope.model_validate_json(message.body))
            # nothing more may follow: one outcome per notification
            await asyncio.sleep(0.3)
            while (message := await queue.get(no_ack=True, fail=False)) is not None:
                received.append(Envelope.model_validate_json(message.body))
        finally:
            await connection.close()
        return received


@contextlib.asynccontextmanager
async def notifier_on_broker(
    amqp_url: str, context: DeliveryContext
) -> AsyncIterator[BrokerNotifier]:
    """Consume ``notifier.inbox`` with ``deliver_notification`` and relay its outbox."""
    bus = Bus(amqp_url, prefetch=10, delivery_limit=3)
    await bus.connect()
    relay = OutboxRelay(
        "notifier", OUTBOX, context.sessions, bus, batch_size=100, poll_interval=0.2
    )
    running = asyncio.create_task(relay.run())
    notifier = BrokerNotifier(bus, amqp_url)

    async def handle(envelope: Envelope) -> None:
        await deliver_notification(context, envelope)
        notifier.handled.append(envelope)

    try:
        await bus.consume(NOTIFIER_QUEUE, handle)
        yield notifier
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        relay.close()
        await bus.close()
