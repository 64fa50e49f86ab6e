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

A request of either schema version is read as version 2 (``subjects``), so
delivering knows one model; its outcome is reported in the request's own
version (``outcomes``).
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
from services.notifier.outcomes import ChannelAttempt, failure_summary, outcome_events
from services.notifier.subjects import read_request
from services.notifier.tables import OUTBOX, DeliveryRecord
from shared.contracts.notifications import NotificationRequestedV2
from shared.db import insert_ignoring_duplicates
from shared.envelope import Envelope, utc_now
from shared.metrics import NOTIFICATIONS
from shared.outbox import add_to_outbox

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


async def claim(
    session: AsyncSession, request: NotificationRequestedV2, lease: timedelta
) -> tuple[Claim, datetime]:
    """Claim ``request`` for this worker; the claim and the time the lease ends."""
    now = utc_now()
    until = now + lease
    inserted = await insert_ignoring_duplicates(
        session,
        DeliveryRecord.__table__,  # type: ignore[arg-type]
        {
            "notification_id": str(request.notification_id),
            "alert_id": str(request.subject_id),  # the column holds any subject's id
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


async def complete(
    session: AsyncSession,
    requested: Envelope,
    request: NotificationRequestedV2,
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
    channels: ChannelContext, request: NotificationRequestedV2
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
    """Deliver one requested notification at most once per claim, and report it.

    A request of a schema version other than 1 or 2 raises (see ``read_request``):
    the bus hands it back until its delivery limit dead-letters it.
    """
    request = read_request(requested)
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
        subject_type=request.subject_type.value,
        kind=request.kind.value,
        channel=last.contact.channel,
        delivered=last.result.delivered,
        attempts=sum(a.result.attempts for a in tried),
        error=None if last.result.delivered else failure_summary(tried),
    )
