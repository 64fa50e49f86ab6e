"""The notifier's delivery service: claim a notification, deliver it, report the outcome.

A notification is claimed in the database before any attempt, with a lease
long enough for every retry. A duplicate request finds the claim: if the
delivery ended it is dropped; if another worker holds it, we watch the claim
until that delivery ends (then drop ours) or its lease runs out (the holder
died: we take over). So a live delivery is never doubled and a dead one is
never lost.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

import httpx
import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifier.tables import OUTBOX, DeliveryRecord
from services.notifier.webhook import DeliveryResult, RetryPolicy, deliver_webhook
from shared.contracts import NOTIFICATION_DELIVERED, NOTIFICATION_FAILED
from shared.contracts.notifications import (
    NotificationDeliveredV1,
    NotificationFailedV1,
    NotificationRequestedV1,
)
from shared.db import insert_ignoring_duplicates
from shared.envelope import Envelope, utc_now
from shared.metrics import NOTIFICATIONS
from shared.outbox import add_to_outbox

PRODUCER = "notifier"
log = structlog.get_logger(__name__)


class Claim(Enum):
    """Outcome of trying to claim a notification."""

    OURS = "ours"
    FINISHED = "finished"
    HELD_ELSEWHERE = "held_elsewhere"


# How often a duplicate looks again at a claim another worker holds.
CLAIM_POLL_SECONDS = 1.0


@dataclass(frozen=True)
class DeliveryContext:
    """What delivering needs: the database, an HTTP client, the secret and retry policy."""

    sessions: async_sessionmaker[AsyncSession]
    http: httpx.AsyncClient
    webhook_secret: str
    retry: RetryPolicy
    lease: timedelta


async def claim(
    session: AsyncSession, request: NotificationRequestedV1, lease: timedelta
) -> tuple[Claim, datetime]:
    """Claim ``request`` for this worker; the claim and the time the lease ends."""
    now = utc_now()
    until = now + lease
    inserted = await insert_ignoring_duplicates(
        session,
        DeliveryRecord.__table__,  # type: ignore[arg-type]
        {
            "notification_id": str(request.notification_id),
            "alert_id": str(request.alert_id),
            "person_id": request.person_id,
            "channel": request.channel,
            "state": "in_progress",
            "claimed_until": until,
            "attempts": 0,
            "updated_at": now,
        },
    )
    if inserted:
        return Claim.OURS, until
    record = (
        await session.execute(
            select(DeliveryRecord)
            .where(DeliveryRecord.notification_id == str(request.notification_id))
            .with_for_update()
        )
    ).scalar_one()
    if record.state != "in_progress":
        return Claim.FINISHED, record.claimed_until
    if record.claimed_until > now:
        return Claim.HELD_ELSEWHERE, record.claimed_until
    record.claimed_until = until  # the previous holder died: take over
    record.updated_at = now
    return Claim.OURS, until


async def complete(
    session: AsyncSession,
    requested: Envelope,
    request: NotificationRequestedV1,
    result: DeliveryResult,
) -> None:
    """Record the outcome and stage its event, in one transaction."""
    record = await session.get(DeliveryRecord, str(request.notification_id), with_for_update=True)
    if record is None:
        raise LookupError(f"no claim for notification {request.notification_id}")
    record.state = "delivered" if result.delivered else "failed"
    record.attempts += result.attempts
    record.error = result.error
    record.updated_at = utc_now()
    fields = {
        "notification_id": request.notification_id,
        "alert_id": request.alert_id,
        "person_id": request.person_id,
        "channel": request.channel,
        "attempts": max(result.attempts, 1),
    }
    outcome = (
        requested.caused(
            NOTIFICATION_DELIVERED, NotificationDeliveredV1(**fields), producer=PRODUCER
        )
        if result.delivered
        else requested.caused(
            NOTIFICATION_FAILED,
            NotificationFailedV1(**fields, error=result.error or "unknown error"),
            producer=PRODUCER,
        )
    )
    await add_to_outbox(session, OUTBOX, outcome)


async def deliver_notification(context: DeliveryContext, requested: Envelope) -> None:
    """Deliver one requested notification at most once per claim, and report it."""
    request = NotificationRequestedV1.model_validate(requested.payload)
    while True:
        async with context.sessions() as session, session.begin():
            state, until = await claim(session, request, context.lease)
        if state is Claim.OURS:
            break
        if state is Claim.FINISHED:
            log.info("notification.duplicate_ignored", notification_id=str(request.notification_id))
            return
        remaining = (until - utc_now()).total_seconds()
        await asyncio.sleep(min(max(remaining, 0.0), CLAIM_POLL_SECONDS))
    if request.channel == "webhook":
        result = await deliver_webhook(context.http, request, context.webhook_secret, context.retry)
    else:
        result = DeliveryResult(
            delivered=False, attempts=1, error=f"unsupported channel {request.channel}"
        )
    NOTIFICATIONS.labels(
        channel=request.channel, outcome="delivered" if result.delivered else "failed"
    ).inc()
    async with context.sessions() as session, session.begin():
        await complete(session, requested, request, result)
    log.info(
        "notification.outcome",
        person_id=request.person_id,
        delivered=result.delivered,
        attempts=result.attempts,
        error=result.error,
    )
