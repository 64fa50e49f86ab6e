"""The notifier's delivery service: claim a notification, try its contacts, report the outcome.

A notification is claimed in the database before any attempt, for a short
time (``COORD_NOTIFIER_CLAIM_SECONDS``) that its holder renews while it works
(a heartbeat: one short UPDATE every third of it, no transaction held open
while delivering). A duplicate request finds the claim: if the delivery ended
it is dropped; if another worker holds it, we watch the claim until that
delivery ends (then drop ours) or the claim lapses because nobody renews it
(the holder died: we take over, within about the claim time of the crash). So
a live delivery is never doubled and a dead one is neither lost nor late by
more than a few seconds.

A holder whose renewal finds the claim taken over (its heartbeat stalled past
the claim) stops delivering and goes back to watching the claim, reporting
nothing: the worker that took over reports the whole story. The report itself
is fenced by the claim too (``services.notifier.claims``, where the claim's rules
live), and waits out a database that is away for a moment rather than leave a page it
posted to be posted again (``_report``).

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
import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_before_delay,
    wait_exponential,
)

from services.notifier.channels import ChannelContext, deliver_on
from services.notifier.claims import Claim, Report, claim, complete, renew
from services.notifier.outcomes import ChannelAttempt, failure_summary
from services.notifier.subjects import read_request
from shared.contracts.notifications import NotificationRequestedV2
from shared.envelope import Envelope, utc_now
from shared.metrics import NOTIFICATIONS

log = structlog.get_logger(__name__)


# Longest a duplicate waits before it looks again at a claim another worker holds: it
# also wakes the moment that claim would lapse, so it takes over as soon as it may.
CLAIM_POLL_SECONDS = 1.0
# How long a delivery that ended waits for the database to record it (see ``_report``),
# retrying at doubling intervals from REPORT_RETRY_INITIAL up to REPORT_RETRY_MAX: at
# most as long as a duplicate waits between looks at a claim (CLAIM_POLL_SECONDS), so
# that when the database returns the report is as quick as a takeover would be.
REPORT_PATIENCE = 30.0
REPORT_RETRY_INITIAL = 0.2
REPORT_RETRY_MAX = 1.0
# A claim is renewed this many times per claim time: two renewals may be missed (a slow
# database, a busy event loop) before another worker may take it over.
RENEWALS_PER_CLAIM = 3


@dataclass(frozen=True)
class DeliveryContext:
    """What delivering needs: the database, the channels, and how long a claim lasts.

    ``lease`` is the claim's time without renewal (``COORD_NOTIFIER_CLAIM_SECONDS``):
    the holder renews it every ``lease / 3`` while it delivers, so it bounds how late a
    crashed worker's notification is, not how long a delivery may take.
    """

    sessions: async_sessionmaker[AsyncSession]
    channels: ChannelContext
    lease: timedelta


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


class ClaimHeartbeat:
    """Renews one claim every ``lease / 3`` while its delivery runs; ``until`` is its lapse.

    ``run`` returns when the claim is lost (taken over, or final) or when ``stop`` is
    called. It is stopped, never cancelled, before a failure is reported: a renewal cut
    off after its commit would leave ``until`` behind the row, and the report would then
    take its own claim for another worker's. (Once the report is made nothing reads
    ``until``, and it is cancelled.) A renewal that fails (the database
    unreachable) is logged and tried again at the next beat: the claim may lapse
    meanwhile, and the next renewal then finds out whether another worker took it.
    """

    def __init__(self, context: DeliveryContext, notification_id: str, until: datetime) -> None:
        self.context = context
        self.notification_id = notification_id
        self.until = until
        self._stopped = asyncio.Event()

    def stop(self) -> None:
        """Renew no more; ``run`` returns after the renewal under way, if any."""
        self._stopped.set()

    async def run(self) -> None:
        """Renew until the claim is lost or the heartbeat is stopped."""
        beat = self.context.lease.total_seconds() / RENEWALS_PER_CLAIM
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), beat)
                return
            try:
                async with self.context.sessions() as session, session.begin():
                    renewed = await renew(
                        session, self.notification_id, self.until, self.context.lease
                    )
            except (SQLAlchemyError, OSError) as error:
                log.warning(
                    "notification.claim_renewal_failed",
                    notification_id=self.notification_id,
                    claimed_until=self.until.isoformat(),
                    error=repr(error),
                )
                continue
            if renewed is None:
                return
            self.until = renewed


async def _claim_or_watch(
    context: DeliveryContext, request: NotificationRequestedV2
) -> datetime | None:
    """Claim the notification, watching another worker's claim until it ends or lapses.

    Our claim's lapse time, or None when the delivery is already final.
    """
    while True:
        async with context.sessions() as session, session.begin():
            state, until = await claim(session, request, context.lease)
        if state is Claim.OURS:
            return until
        if state is Claim.FINISHED:
            return None
        remaining = (until - utc_now()).total_seconds()
        await asyncio.sleep(min(max(remaining, 0.0), CLAIM_POLL_SECONDS))


async def _deliver_holding(
    context: DeliveryContext,
    requested: Envelope,
    request: NotificationRequestedV2,
    heartbeat: ClaimHeartbeat,
) -> tuple[list[ChannelAttempt], Report] | None:
    """Try the contacts and report, while ``heartbeat`` renews the claim.

    None if the claim was lost while delivering. A failure is reported only under our
    claim, so the heartbeat stops first (a renewal must not move the claim while the
    report is decided); a page that reached the person is reported whoever's claim it is
    (``complete``), so the heartbeat goes on renewing while ``_report`` waits for the
    database: no other copy of the request takes a lapsed claim over and posts it again.
    """
    work = asyncio.create_task(try_contacts(context.channels, request))
    beating = asyncio.create_task(heartbeat.run())
    try:
        await asyncio.wait({work, beating}, return_when=asyncio.FIRST_COMPLETED)
        if not work.done():
            work.cancel()  # the claim was lost: whoever took it over delivers
            with contextlib.suppress(asyncio.CancelledError):
                await work
            return None
        tried = work.result()  # raises what the delivery raised
        if not tried[-1].result.delivered:
            heartbeat.stop()
            await beating  # lets a renewal under way finish, so ``until`` is the row's
        return tried, await _report(context, requested, request, tried, heartbeat.until)
    finally:
        heartbeat.stop()
        for task in (work, beating):  # reported, or we are cancelled ourselves
            task.cancel()


async def _report(
    context: DeliveryContext,
    requested: Envelope,
    request: NotificationRequestedV2,
    tried: list[ChannelAttempt],
    claimed_until: datetime,
) -> Report:
    """``complete`` in a transaction of its own, waiting out a database away for a moment.

    The contacts have been tried, a page perhaps posted: giving up here would hand the
    message back, and whoever took the claim over would post the page again (the same
    ``X-Coord-Delivery``, which the contract allows, but which a receiver that does not
    drop it shows twice). So a failure to record is retried for REPORT_PATIENCE seconds -
    a database restart or failover - before the message goes back to the bus. (The claim
    is renewed meanwhile, see ``_deliver_holding``, but the renewals need the database
    too: an outage longer than the claim lets another copy of the request, if there is
    one, take the claim over the moment the database returns.) A commit
    whose answer was lost is harmless to retry: the row is then final and the retry says
    so (``Report.ALREADY_FINAL``), its events staged once by the commit that made it.
    """
    notification_id = str(request.notification_id)

    def retrying(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        log.warning(
            "notification.report_failed",
            notification_id=notification_id,
            error=repr(error),
            retry_in=state.upcoming_sleep,
        )

    async for attempt in AsyncRetrying(
        retry=retry_if_exception_type((SQLAlchemyError, OSError)),
        wait=wait_exponential(multiplier=REPORT_RETRY_INITIAL, max=REPORT_RETRY_MAX),
        stop=stop_before_delay(REPORT_PATIENCE),  # no wait that would end past it
        before_sleep=retrying,
        reraise=True,
    ):
        with attempt:
            async with context.sessions() as session, session.begin():
                return await complete(session, requested, request, tried, claimed_until)
    raise AssertionError("unreachable: tenacity returns or raises")  # pragma: no cover


async def deliver_notification(context: DeliveryContext, requested: Envelope) -> None:
    """Deliver one requested notification at most once per claim, and report it once.

    A worker that loses its claim (see ``ClaimHeartbeat``) goes back to watching it, as a
    duplicate would: it drops the request when the worker that took over reports, and
    takes over again should that one die too - so losing a claim never loses a page.

    A request of a schema version other than 1 or 2 raises (see ``read_request``):
    the bus hands it back until its delivery limit dead-letters it.
    """
    request = read_request(requested)
    notification_id = str(request.notification_id)
    while True:
        until = await _claim_or_watch(context, request)
        if until is None:
            log.info("notification.duplicate_ignored", notification_id=notification_id)
            return
        heartbeat = ClaimHeartbeat(context, notification_id, until)
        reported = await _deliver_holding(context, requested, request, heartbeat)
        if reported is not None and reported[1] is not Report.TAKEN_OVER:
            tried, report = reported
            break
        log.warning(
            "notification.claim_lost",
            notification_id=notification_id,
            person_id=request.person_id,
            claimed_until=heartbeat.until.isoformat(),
            finished_delivering=reported is not None,
        )
    last = tried[-1]
    log.info(
        "notification.outcome"
        if report is Report.RECORDED
        else "notification.outcome_already_recorded",
        notification_id=notification_id,
        person_id=request.person_id,
        subject_type=request.subject_type.value,
        kind=request.kind.value,
        channel=last.contact.channel,
        delivered=last.result.delivered,
        attempts=sum(a.result.attempts for a in tried),
        error=None if last.result.delivered else failure_summary(tried),
    )
