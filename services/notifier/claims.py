"""The notifier's claims on notifications, in the database: who delivers, and who reports.

A notification is claimed before any attempt (``claim``), for a short time its holder
renews while it works (``renew``); the outcome is recorded, and its events staged, only
by the claim's holder - or by whoever delivered the page (``complete``). The time a
claim lapses is also its identity: a worker that took a lapsed claim over wrote its own.
How a delivery uses them is ``services.notifier.deliveries``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import Enum

from sqlalchemy import select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifier.outcomes import ChannelAttempt, failure_summary, outcome_events
from services.notifier.tables import OUTBOX, DeliveryRecord
from shared.contracts.notifications import NotificationRequestedV2
from shared.db import insert_ignoring_duplicates
from shared.envelope import Envelope, utc_now
from shared.outbox import add_to_outbox

CHANNEL_COLUMN_LENGTH = 30


class Claim(Enum):
    """Outcome of trying to claim a notification."""

    OURS = "ours"
    FINISHED = "finished"
    HELD_ELSEWHERE = "held_elsewhere"


async def claim(
    session: AsyncSession, request: NotificationRequestedV2, lease: timedelta
) -> tuple[Claim, datetime]:
    """Claim ``request`` for this worker; the claim and the time it lapses unless renewed.

    The returned time is also the claim's identity: ``renew`` and ``complete`` act only
    while the row still holds it (a worker that took over wrote its own).
    """
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
    record.claimed_until = until  # nobody renewed it: the holder died, we take over
    record.updated_at = now
    return Claim.OURS, until


async def renew(
    session: AsyncSession, notification_id: str, held_until: datetime, lease: timedelta
) -> datetime | None:
    """Extend our claim (the one that lapses at ``held_until``) by ``lease`` from now.

    One UPDATE. The new lapse time, or None when the claim is no longer ours: the
    delivery is final, or another worker took it over after it lapsed.
    """
    now = utc_now()
    until = now + lease
    result = await session.execute(
        update(DeliveryRecord)
        .where(
            DeliveryRecord.notification_id == notification_id,
            DeliveryRecord.state == "in_progress",
            DeliveryRecord.claimed_until == held_until,
        )
        .values(claimed_until=until, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return until if result.rowcount == 1 else None  # type: ignore[attr-defined]


class Report(Enum):
    """Outcome of trying to report a delivery."""

    RECORDED = "recorded"
    ALREADY_FINAL = "already_final"
    TAKEN_OVER = "taken_over"


async def complete(
    session: AsyncSession,
    requested: Envelope,
    request: NotificationRequestedV2,
    tried: list[ChannelAttempt],
    claimed_until: datetime,
) -> Report:
    """Record the outcome and stage its events, in one transaction, if it is ours to report.

    Not ours: the delivery is already final, or another worker took our claim (the one
    that lapses at ``claimed_until``) over and we did not deliver - that worker tries every
    contact again and reports. A delivered notification is reported by whoever delivered
    it first, claim or not: it did reach the person.
    """
    notification_id = str(request.notification_id)
    delivered = tried[-1].result.delivered
    ours = DeliveryRecord.claimed_until == claimed_until
    # One conditional UPDATE decides and records (no read first): the row is ours to
    # finish while in progress and still under our claim, or whoever's claim it is if we
    # delivered.
    recorded = await session.execute(
        update(DeliveryRecord)
        .where(
            DeliveryRecord.notification_id == notification_id,
            DeliveryRecord.state == "in_progress",
            true() if delivered else ours,
        )
        .values(
            state="delivered" if delivered else "failed",
            channel=tried[-1].contact.channel[:CHANNEL_COLUMN_LENGTH],
            attempts=DeliveryRecord.attempts + sum(a.result.attempts for a in tried),
            error=None if delivered else failure_summary(tried),
            updated_at=utc_now(),
        )
        .execution_options(synchronize_session=False)
    )
    if recorded.rowcount != 1:  # type: ignore[attr-defined]
        # Why not: the only case that reads the row, and a rare one.
        state = await session.scalar(
            select(DeliveryRecord.state).where(DeliveryRecord.notification_id == notification_id)
        )
        if state is None:
            raise LookupError(f"no claim for notification {notification_id}")
        # Final: a worker that took over our claim finished first. Else it is in
        # progress under another claim: that worker tries every contact again and reports.
        return Report.ALREADY_FINAL if state != "in_progress" else Report.TAKEN_OVER
    await add_to_outbox(session, OUTBOX, *outcome_events(requested, request, tried))
    return Report.RECORDED
