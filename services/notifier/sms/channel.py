"""The SMS channel: one SMS through Kannel, delivered only when its report says so.

A failure to hand it to Kannel is retried like a webhook. Once Kannel took it, the
delivery waits (holding its claim, which the heartbeat renews) for a final delivery
report, at most ``COORD_SMS_REPORT_WAIT``; a failed report or none in time fails the
channel, and the person's next contact is tried, as after a failed webhook.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from uuid import UUID, uuid4

import httpx
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifier.retry import DeliveryResult, RetryPolicy, with_retries
from services.notifier.sms.gateway import KannelConfig, submit
from services.notifier.sms.reports import (
    ReportStatus,
    await_report,
    is_delivered,
    sent_before,
)
from services.notifier.sms.text import sms_text
from services.notifier.tables import SmsRecord
from shared.contracts.notifications import NotificationRequestedV2
from shared.envelope import utc_now
from shared.metrics import SMS_SEGMENTS
from shared.sms.phones import e164_or_none
from shared.sms.segments import prepare


@dataclass(frozen=True)
class SmsGateway:
    """The gateway's configuration and the table its reports land in."""

    config: KannelConfig
    sessions: async_sessionmaker[AsyncSession]


def _report_error(status: int | None, wait: float) -> str:
    if status is None:
        return f"no delivery report within {wait:g} s of the gateway taking the SMS"
    try:
        name = ReportStatus(status).name.lower().replace("_", " ")
    except ValueError:
        name = "unknown"
    return f"the SMS gateway reported status {status} ({name})"


async def deliver_sms(
    http: httpx.AsyncClient,
    gateway: SmsGateway,
    retry: RetryPolicy,
    request: NotificationRequestedV2,
    address: str,
    *,
    acknowledge_url: str | None = None,
    stored_as: str | None = None,
) -> DeliveryResult:
    """Send ``request`` as one SMS to ``address`` and wait for its delivery report.

    ``stored_as``: what the SMS is recorded under instead of the number (a community
    contact's number is sealed everywhere at rest).
    """
    config = gateway.config
    to = e164_or_none(address, config.default_region)
    if to is None:
        return DeliveryResult(delivered=False, attempts=1, error="not a phone number")
    notification_id = str(request.notification_id)
    kept = stored_as or to
    async with gateway.sessions() as session:
        earlier = await sent_before(session, notification_id, kept)
    attempts = 1
    if earlier is None:
        # Not sent yet (no crashed worker before us got as far as handing it over). The row
        # is written first: Kannel's reports can arrive before its answer to us does.
        text = prepare(sms_text(request, acknowledge_url))
        record_id, submitted_at = str(uuid4()), utc_now()
        async with gateway.sessions.begin() as session:
            session.add(
                SmsRecord(
                    sms_id=record_id,
                    notification_id=notification_id,
                    address=kept,
                    segments=text.segments,
                    submitted_at=submitted_at,
                    status=None,
                    final=False,
                )
            )
        result = await with_retries(
            retry, partial(submit, http, config, UUID(record_id), to, text), redact=to
        )
        if not result.delivered:
            # Kannel never took it: no report will come, and a takeover must send it.
            async with gateway.sessions.begin() as session:
                await session.execute(delete(SmsRecord).where(SmsRecord.sms_id == record_id))
            return result
        attempts = result.attempts
        SMS_SEGMENTS.labels(coding=text.coding.name.lower()).observe(text.segments)
    else:
        # A worker that died after writing the row may or may not have handed the SMS
        # over: waiting for its report risks a late fallback, sending again a second SMS.
        record_id, submitted_at = earlier.sms_id, earlier.submitted_at
    until = submitted_at + timedelta(seconds=config.report_wait)
    record = await await_report(gateway.sessions, record_id, until)
    status = record.status if record is not None and record.final else None
    if is_delivered(status, config.delivered_status):
        return DeliveryResult(delivered=True, attempts=attempts)
    return DeliveryResult(
        delivered=False, attempts=attempts, error=_report_error(status, config.report_wait)
    )
