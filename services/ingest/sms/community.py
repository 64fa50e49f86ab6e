"""An SMS from a community contact becomes a community alert, and they get a receipt.

A focal point of a community alert network (``Directory.community_contacts``) writes
in their own words; the text (without a leading ``ALERTE``/``ALERT``) is raised as an
alert of their sector, ``origin: community``, their name and number sealed as its
source, through the same path as ``POST /v1/alerts``. Kannel's id of the SMS is the
idempotency key: a retried call raises nothing twice. The receipt is the answer to
Kannel's call (it sends it back at once): that the mission received it and a reference,
nothing else - the phone may not be theirs alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import update

from services.ingest.alerts.service import raise_alert
from services.ingest.alerts.tables import AlertViewRecord
from services.ingest.command_staging import stage_command
from services.ingest.deps import ApiContext
from services.ingest.sms.wording import answer
from shared.community_contacts import CommunityContact, community_reference, opened
from shared.contracts import SMS_RECEIVED
from shared.contracts.alerts import (
    Category,
    Certainty,
    Component,
    Location,
    RaiseAlertV1,
    Severity,
    Source,
    Urgency,
)
from shared.contracts.escalation import SmsReceivedV1
from shared.envelope import Classification, utc_now

# Who raised an alert from a community contact's SMS (no person of the directory did).
COMMUNITY_RAISER = "community-sms"
# A community member's words may identify them or their village: not for everyone.
COMMUNITY_CLASSIFICATION = Classification.CONFIDENTIAL
_KEYWORD = re.compile(r"^\s*(alerte|alert)\b[\s:.,-]*", re.IGNORECASE)
_TITLE_WORDS = 80  # characters of the text in the title


def report_text(text: str) -> str:
    """The report without its optional keyword, spaces collapsed."""
    return " ".join(_KEYWORD.sub("", text, count=1).split())


@dataclass(frozen=True)
class CommunityReport:
    """What is known of an SMS that becomes a community alert: where, and who sent it."""

    text: str
    sector: str
    place: str
    source: Source  # sealed as the alert is written
    category: Category = Category.OTHER
    severity: Severity = Severity.UNKNOWN


def community_request(report: CommunityReport) -> RaiseAlertV1:
    """The alert an SMS raises: what is known, and unknown for the rest.

    From a focal point, category and severity are unknown too until someone checks: the
    default route pages the sector, and the JOC may raise what it learns as a more
    serious duplicate. From triage, the CLA says them.
    """
    words = report_text(report.text) or "(empty SMS)"
    title = words if len(words) <= _TITLE_WORDS else words[: _TITLE_WORDS - 1] + "…"
    return RaiseAlertV1(
        title=f"{report.place}: {title}",
        description=words,
        category=report.category,
        severity=report.severity,
        urgency=Urgency.UNKNOWN,
        certainty=Certainty.UNKNOWN,
        sector=report.sector,
        location=Location(name=report.place),
        origin=Component.COMMUNITY,
        classification=COMMUNITY_CLASSIFICATION,
        source=report.source,
    )


async def raise_from_contact(
    context: ApiContext, contact: CommunityContact, text: str, gateway_id: str
) -> str:
    """Raise the alert ``contact``'s SMS reports; the receipt to answer with."""
    created = await raise_alert(
        context.sessions,
        context.directory,
        COMMUNITY_RAISER,
        community_request(
            CommunityReport(
                text=text,
                sector=contact.sector,
                place=contact.location,
                source=opened(contact, context.source_keys),
            )
        ),
        f"kannel:{gateway_id}" if gateway_id else None,
        keys=context.source_keys,
        reporter=contact.id,
    )
    reference = community_reference(created.id)
    if created.created:  # a retried call was logged and receipted the first time
        await _record_receipt(context, contact, created.id, gateway_id)
    return answer(contact.language, "receipt", reference=reference)


async def _record_receipt(
    context: ApiContext, contact: CommunityContact, alert_id: UUID, gateway_id: str
) -> None:
    async with context.sessions.begin() as session:
        await session.execute(
            update(AlertViewRecord)
            .where(AlertViewRecord.alert_id == str(alert_id))
            .values(receipt_at=utc_now())
        )
        await stage_command(
            session,
            SMS_RECEIVED,
            SmsReceivedV1(
                gateway_id=gateway_id,
                person_id=None,
                outcome="community_alert",
                contact_id=contact.id,
                alert_id=alert_id,
            ),
            actor=COMMUNITY_RAISER,
            correlation_id=alert_id,
            classification=COMMUNITY_CLASSIFICATION,
        )
