"""SMS from numbers coord does not know: held for a community liaison assistant.

Spoofing and noise are real, so an unknown number's SMS raises nothing by itself. It
waits in triage (``TriageRecord``: the number sealed, the text kept) until a CLA either
promotes it to a community alert of a sector they cover, the sender sealed as its source,
or dismisses it with a reason. Each step is on the log (``sms.received`` with outcome
``triaged``, then ``sms.triaged``), without the number or the text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest.alerts.service import check_alert, write_alert
from services.ingest.command_staging import stage_command
from services.ingest.deps import ApiContext
from services.ingest.errors import InvalidRequest
from services.ingest.sms.community import (
    COMMUNITY_CLASSIFICATION,
    CommunityReport,
    community_request,
)
from services.ingest.sms.replies import GATEWAY_ACTOR
from services.ingest.sms.tables import TriageRecord
from shared.contracts import SMS_RECEIVED, SMS_TRIAGED
from shared.contracts.alerts import (
    Category,
    SealedSource,
    Severity,
    Source,
)
from shared.contracts.escalation import SmsReceivedV1, SmsTriagedV1
from shared.directory import Person
from shared.envelope import utc_now
from shared.sms.phones import e164_or_none

UNKNOWN_SENDER_NAME = "Unregistered SMS sender"
DISMISS_REASON_MAX = 500
OPEN = "open"


class TriageClosed(InvalidRequest):
    """The SMS was already promoted or dismissed (by this CLA or another)."""

    def __init__(self, message: str) -> None:
        super().__init__([(("triage_id",), message)])


@dataclass(frozen=True)
class TriageItem:
    """An SMS in triage as a CLA sees it: the sender opened, repeats counted."""

    triage_id: str
    received_at: datetime
    sender: str
    text: str
    status: str
    from_sender: int  # SMS from this number in triage, this one included
    decided_by: str | None
    reason: str | None
    alert_id: str | None


def _sender_digest_input(phone: str) -> bytes:
    return f"triage-sender:{phone}".encode()


async def hold_for_triage(
    context: ApiContext, sender: str, text: str, gateway_id: str, default_region: str | None
) -> None:
    """Put an unknown number's SMS in triage (once per Kannel id) and log that it is."""
    phone = e164_or_none(sender, default_region) or sender
    triage_id = uuid4()
    async with context.sessions.begin() as session:
        if gateway_id and await session.scalar(
            select(TriageRecord.triage_id).where(TriageRecord.gateway_id == gateway_id)
        ):
            return  # Kannel called again for the same SMS
        sealed = context.source_keys.seal(
            Source(name=UNKNOWN_SENDER_NAME, contact=phone[:200]), triage_id
        )
        session.add(
            TriageRecord(
                triage_id=str(triage_id),
                gateway_id=gateway_id,
                received_at=utc_now(),
                sender=sealed.model_dump(mode="json"),
                sender_digest=context.source_keys.digest(_sender_digest_input(phone)),
                text=text,
                status=OPEN,
            )
        )
        received = SmsReceivedV1(
            gateway_id=gateway_id, person_id=None, outcome="triaged", triage_id=triage_id
        )
        await stage_command(
            session,
            SMS_RECEIVED,
            received,
            actor=GATEWAY_ACTOR,
            correlation_id=triage_id,
            classification=COMMUNITY_CLASSIFICATION,
        )


async def triage_items(
    context: ApiContext, *, status: str = OPEN, limit: int = 100
) -> list[TriageItem]:
    """The SMS in triage with ``status``, newest first, their senders opened."""
    async with context.sessions() as session:
        rows = (
            await session.scalars(
                select(TriageRecord)
                .where(TriageRecord.status == status)
                .order_by(TriageRecord.received_at.desc())
                .limit(limit)
            )
        ).all()
        # Its rows, not the Result: dict() takes a Result for a mapping (it has keys()).
        counted = await session.execute(
            select(TriageRecord.sender_digest, func.count())
            .where(TriageRecord.sender_digest.in_({r.sender_digest for r in rows}))
            .group_by(TriageRecord.sender_digest)
        )
        counts: dict[str, int] = dict(counted.all())
    return [
        TriageItem(
            triage_id=row.triage_id,
            received_at=row.received_at,
            sender=_sender(context, row).contact or "",
            text=row.text,
            status=row.status,
            from_sender=counts.get(row.sender_digest, 1),
            decided_by=row.decided_by,
            reason=row.reason,
            alert_id=row.alert_id,
        )
        for row in rows
    ]


def _sender(context: ApiContext, row: TriageRecord) -> Source:
    sealed = SealedSource.model_validate(row.sender)
    return context.source_keys.open(sealed, UUID(row.triage_id))


async def _take(
    session: AsyncSession, cla: Person, triage_id: UUID, outcome: str, reason: str
) -> TriageRecord:
    """Mark the SMS decided, if it is still open: one CLA's decision wins a race."""
    taken = await session.execute(
        update(TriageRecord)
        .where(TriageRecord.triage_id == str(triage_id), TriageRecord.status == OPEN)
        .values(status=outcome, decided_by=cla.id, decided_at=utc_now(), reason=reason or None)
    )
    row = await session.get(TriageRecord, str(triage_id))
    if row is None:
        raise TriageClosed(f"no SMS {triage_id} in triage")
    if getattr(taken, "rowcount", 0) != 1:
        raise TriageClosed(f"this SMS was already {row.status} by {row.decided_by}")
    return row


@dataclass(frozen=True)
class Promotion:
    """What a CLA says of the alert an SMS in triage becomes."""

    sector: str
    category: Category
    severity: Severity
    location: str


async def promote(context: ApiContext, cla: Person, triage_id: UUID, promotion: Promotion) -> UUID:
    """Raise the SMS as a community alert by ``cla``, the sender as its source.

    The alert and the decision are written in one transaction.
    """
    if not cla.covers(promotion.sector):
        raise InvalidRequest([(("sector",), f"{cla.id} does not cover sector {promotion.sector}")])
    async with context.sessions.begin() as session:
        row = await _take(session, cla, triage_id, "promoted", "")
        request = community_request(
            CommunityReport(
                text=row.text,
                sector=promotion.sector,
                place=promotion.location,
                source=_sender(context, row),
                category=promotion.category,
                severity=promotion.severity,
            )
        )
        check_alert(context.directory, cla.id, request)
        alert_id = await write_alert(session, cla.id, request, context.source_keys)
        row.alert_id = str(alert_id)
        decided = SmsTriagedV1(
            triage_id=triage_id, person_id=cla.id, outcome="promoted", alert_id=alert_id
        )
        await _log_decision(session, decided)
    return alert_id


async def dismiss(context: ApiContext, cla: Person, triage_id: UUID, reason: str) -> None:
    """Set the SMS aside, with ``cla``'s reason."""
    reason = " ".join(reason.split())
    if not reason:
        raise InvalidRequest([(("reason",), "say why the SMS is dismissed")])
    if len(reason) > DISMISS_REASON_MAX:
        raise InvalidRequest([(("reason",), f"at most {DISMISS_REASON_MAX} characters")])
    async with context.sessions.begin() as session:
        await _take(session, cla, triage_id, "dismissed", reason)
        decided = SmsTriagedV1(
            triage_id=triage_id, person_id=cla.id, outcome="dismissed", reason=reason
        )
        await _log_decision(session, decided)


async def _log_decision(session: AsyncSession, decided: SmsTriagedV1) -> None:
    await stage_command(
        session,
        SMS_TRIAGED,
        decided,
        actor=decided.person_id,
        correlation_id=decided.alert_id or decided.triage_id,
        classification=COMMUNITY_CLASSIFICATION,
    )
