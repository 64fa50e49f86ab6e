"""Kannel's delivery reports: recorded as they arrive, awaited by the channel that sent.

Statuses are Kannel's ``dlr-mask`` bits: 1 the phone has it, 2 the phone could not get it,
4 buffered (the SMSC keeps trying), 8 the SMSC took it, 16 the SMSC refused it. 1, 2 and
16 end a delivery; 8 ends it only where it is all an SMSC ever reports
(``COORD_SMS_DELIVERED_STATUS=8``), else it is progress like 4. The first final report
decides: a late "delivered" after a "failed" changes nothing (the next contact was tried).

The report reaches whichever notifier Kannel calls; the sender, possibly another
notifier, finds it in the table: so any number of notifiers share one gateway.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from enum import IntEnum
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifier.sms.gateway import REPORT_PATH, KannelConfig
from services.notifier.tables import SmsRecord
from shared.envelope import utc_now
from shared.sms.gateway_auth import gateway_only

POLL_SECONDS = 0.5


class ReportStatus(IntEnum):
    """Kannel's delivery report statuses."""

    DELIVERED = 1
    FAILED = 2
    BUFFERED = 4
    SMSC_ACCEPTED = 8
    SMSC_REJECTED = 16


FAILURES = frozenset({ReportStatus.FAILED, ReportStatus.SMSC_REJECTED})


def is_final(status: int, delivered_status: int) -> bool:
    """Whether a report of ``status`` ends the delivery."""
    return status in FAILURES or status in (ReportStatus.DELIVERED, delivered_status)


def is_delivered(status: int | None, delivered_status: int) -> bool:
    """Whether a final report of ``status`` means the SMS arrived."""
    return status is not None and status not in FAILURES and is_final(status, delivered_status)


async def record_report(
    session: AsyncSession, sms_id: str, status: int, delivered_status: int
) -> bool:
    """Record one report; False when no SMS of ours has that id."""
    record = await session.get(SmsRecord, sms_id, with_for_update=True)
    if record is None:
        return False
    if not record.final:
        record.status = status
        record.final = is_final(status, delivered_status)
        record.reported_at = utc_now()
    return True


async def sent_before(
    session: AsyncSession, notification_id: str, address: str
) -> SmsRecord | None:
    """The SMS already handed to the gateway for this notification and number, if any."""
    return (
        await session.execute(
            select(SmsRecord)
            .where(SmsRecord.notification_id == notification_id, SmsRecord.address == address)
            .order_by(SmsRecord.submitted_at.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def await_report(
    sessions: async_sessionmaker[AsyncSession], sms_id: str, until: datetime
) -> SmsRecord | None:
    """The SMS's record once a final report came, or as it stands at ``until``."""
    while True:
        async with sessions() as session:
            record = await session.get(SmsRecord, sms_id)
        if record is None or record.final or utc_now() >= until:
            return record
        await asyncio.sleep(min(POLL_SECONDS, max((until - utc_now()).total_seconds(), 0)))


def report_routes(
    config: KannelConfig, sessions: async_sessionmaker[AsyncSession], gateway_address: str | None
) -> APIRouter:
    """``GET /v1/sms/kannel/dlr``: where Kannel reports on each SMS it took."""
    router = APIRouter(dependencies=[Depends(gateway_only(config.secret, gateway_address))])

    @router.get(REPORT_PATH, include_in_schema=False)
    async def delivery_report(sms: UUID, status: ReportStatus) -> dict[str, str]:
        async with sessions.begin() as session:
            known = await record_report(session, str(sms), status, config.delivered_status)
        if not known:
            raise HTTPException(status_code=404, detail=f"no SMS {sms}")
        return {"sms": str(sms), "status": str(int(status))}

    return router
