"""The notifier's delivery service: claim a notification, try its contacts, report the outcome.

A notification is claimed in the database before any attempt, with a lease
long enough for every retry on every contact. A duplicate request finds the
claim: if the delivery ended it is dropped; if another worker holds it, we
watch the claim until that delivery ends (then drop ours) or its lease runs
out (the holder died: we take over). So a live delivery is never doubled and a
dead one is never lost.

The contacts are tried in order until one channel takes the notification.
Each failed channel is a ``notification.channel_failed`` event; they are staged
with the outcome (``notification.delivered`` / ``notification.failed``) in the
one transaction that makes the delivery final. A worker that dies before it
commits leaves nothing half-reported: whoever takes the claim over tries every
contact again and reports the whole story once.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifier.channels import ChannelContext, deliver_on
from services.notifier.retry import DeliveryResult
from services.notifier.tables import OUTBOX, DeliveryRecord
from shared.contracts import (
    NOTIFICATION_CHANNEL_FAILED,
    NOTIFICATION_DELIVERED,
    NOTIFICATION_FAILED,
)
from shared.contracts.notifications import (
    ChannelFailedV1,
    ContactPoint,
    NotificationDeliveredV1,
    NotificationFailedV1,
    NotificationRequestedV1,
)
from shared.db import insert_ignoring_duplicates
from shared.envelope import Envelope, utc_now
from shared.metrics import NOTIFICATIONS
from shared.outbox import add_to_outbox

PRODUCER = "notifier"
CHANNEL_COLUMN_LENGTH = 30
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
    """What delivering needs: the database, the channels, and the lease *per contact*."""

    sessions: async_sessionmaker[AsyncSession]
    channels: ChannelContext
    lease: timedelta


@dataclass(frozen=True)
class ChannelAttempt:
    """One contact tried, and how it ended."""

    contact: ContactPoint
    result: DeliveryResult


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
            "channel": request.contacts[0].channel[:CHANNEL_COLUMN_LENGTH],
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


def failure_summary(tried: list[ChannelAttempt]) -> str:
    """Each failed channel's error, in the order tried: ``webhook: ...; email: ...``."""
    return "; ".join(
        f"{a.contact.channel}: {a.result.error or 'unknown error'}"
        for a in tried
        if not a.result.delivered
    )


def outcome_events(
    requested: Envelope, request: NotificationRequestedV1, tried: list[ChannelAttempt]
) -> list[Envelope]:
    """One ``channel_failed`` per failed channel, then ``delivered`` or ``failed``."""
    events = []
    for position, attempt in enumerate(tried):
        if attempt.result.delivered:
            break
        following = request.contacts[position + 1 : position + 2]
        failed = ChannelFailedV1(
            notification_id=request.notification_id,
            alert_id=request.alert_id,
            person_id=request.person_id,
            channel=attempt.contact.channel,
            attempts=max(attempt.result.attempts, 1),
            error=attempt.result.error or "unknown error",
            next_channel=following[0].channel if following else None,
        )
        events.append(requested.caused(NOTIFICATION_CHANNEL_FAILED, failed, producer=PRODUCER))
    last = tried[-1]
    fields = {
        "notification_id": request.notification_id,
        "alert_id": request.alert_id,
        "person_id": request.person_id,
        "kind": request.kind,
        "channel": last.contact.channel,
        "attempts": max(sum(a.result.attempts for a in tried), 1),
    }
    if last.result.delivered:
        outcome = requested.caused(
            NOTIFICATION_DELIVERED, NotificationDeliveredV1(**fields), producer=PRODUCER
        )
    else:
        failure = NotificationFailedV1(**fields, error=failure_summary(tried))
        outcome = requested.caused(NOTIFICATION_FAILED, failure, producer=PRODUCER)
    return [*events, outcome]


async def complete(
    session: AsyncSession,
    requested: Envelope,
    request: NotificationRequestedV1,
    tried: list[ChannelAttempt],
) -> bool:
    """Record the outcome and stage its events, in one transaction; False if already final."""
    record = await session.get(DeliveryRecord, str(request.notification_id), with_for_update=True)
    if record is None:
        raise LookupError(f"no claim for notification {request.notification_id}")
    if record.state != "in_progress":
        return False  # a worker that took over our expired lease finished first
    delivered = tried[-1].result.delivered
    record.state = "delivered" if delivered else "failed"
    record.channel = tried[-1].contact.channel[:CHANNEL_COLUMN_LENGTH]
    record.attempts += sum(a.result.attempts for a in tried)
    record.error = None if delivered else failure_summary(tried)
    record.updated_at = utc_now()
    await add_to_outbox(session, OUTBOX, *outcome_events(requested, request, tried))
    return True


async def try_contacts(
    channels: ChannelContext, request: NotificationRequestedV1
) -> list[ChannelAttempt]:
    """Try each contact in order until one channel delivers; every attempt made."""
    tried: list[ChannelAttempt] = []
    for contact in request.contacts:
        result = await deliver_on(channels, request, contact)
        tried.append(ChannelAttempt(contact, result))
        NOTIFICATIONS.labels(
            channel=contact.channel, outcome="delivered" if result.delivered else "failed"
        ).inc()
        if result.delivered:
            break
        log.warning(
            "notification.channel_failed",
            notification_id=str(request.notification_id),
            person_id=request.person_id,
            channel=contact.channel,
            attempts=result.attempts,
            error=result.error,
        )
    return tried


async def deliver_notification(context: DeliveryContext, requested: Envelope) -> None:
    """Deliver one requested notification at most once per claim, and report it."""
    request = NotificationRequestedV1.model_validate(requested.payload)
    lease = context.lease * len(request.contacts)
    while True:
        async with context.sessions() as session, session.begin():
            state, until = await claim(session, request, lease)
        if state is Claim.OURS:
            break
        if state is Claim.FINISHED:
            log.info("notification.duplicate_ignored", notification_id=str(request.notification_id))
            return
        remaining = (until - utc_now()).total_seconds()
        await asyncio.sleep(min(max(remaining, 0.0), CLAIM_POLL_SECONDS))
    tried = await try_contacts(context.channels, request)
    async with context.sessions() as session, session.begin():
        recorded = await complete(session, requested, request, tried)
    last = tried[-1]
    log.info(
        "notification.outcome" if recorded else "notification.outcome_already_recorded",
        notification_id=str(request.notification_id),
        person_id=request.person_id,
        kind=request.kind.value,
        channel=last.contact.channel,
        delivered=last.result.delivered,
        attempts=sum(a.result.attempts for a in tried),
        error=None if last.result.delivered else failure_summary(tried),
    )
