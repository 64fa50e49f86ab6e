"""The router's alert service: route a raised alert and page its first level.

Full escalation (later levels, acknowledgement, timers) builds on this.
"""

from __future__ import annotations

from uuid import uuid4

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.router.event_log import append_events
from services.router.routing import (
    AlertFacts,
    first_level_pages,
    select_policies,
    usable_contact,
)
from services.router.tables import OUTBOX, AlertRecord
from shared.contracts import (
    ALERT_TARGET_UNREACHABLE,
    ALERT_TRIGGERED,
    ALERT_UNROUTED,
    NOTIFICATION_REQUESTED,
)
from shared.contracts.alerts import (
    AlertRaisedV1,
    AlertTriggeredV1,
    AlertUnroutedV1,
    TargetUnreachableV1,
)
from shared.contracts.notifications import AlertSummary, NotificationRequestedV1
from shared.directory import Directory
from shared.envelope import Envelope, utc_now
from shared.outbox import add_to_outbox

PRODUCER = "router"
log = structlog.get_logger(__name__)


def summarise(alert: AlertRaisedV1) -> AlertSummary:
    """What a page may say about the alert: never its source."""
    return AlertSummary(
        title=alert.title,
        category=alert.category.value,
        severity=alert.severity.value,
        urgency=alert.urgency.value,
        certainty=alert.certainty.value,
        sector=alert.sector,
        location=alert.location.model_dump(mode="json"),
        origin=alert.origin.value,
        classification=alert.classification.value,
        raised_at=alert.raised_at.isoformat(),
    )


def plan_first_level(directory: Directory, raised: Envelope) -> list[Envelope]:
    """The events that triggering a raised alert produces, without side effects."""
    alert = AlertRaisedV1.model_validate(raised.payload)
    facts = AlertFacts(
        category=alert.category.value,
        severity=alert.severity.value,
        sector=alert.sector,
        origin=alert.origin.value,
        classification=alert.classification.value,
    )
    policy_ids = select_policies(directory.routes, facts)
    pages = first_level_pages(directory, policy_ids, alert.sector)
    events = [
        raised.caused(
            ALERT_TRIGGERED,
            AlertTriggeredV1(
                alert_id=alert.alert_id,
                policy_id=policy_ids[0] if policy_ids else None,
                policy_ids=policy_ids,
                level=1,
                targets=[page.person.id for page in pages],
            ),
            producer=PRODUCER,
        )
    ]
    if not pages:
        # Never a silent skip: an alert nobody is paged for is an event the JOC sees.
        reason = (
            f"level 1 of {', '.join(policy_ids)} names nobody in sector {alert.sector!r}"
            if policy_ids
            else "no route matches this alert"
        )
        events.append(
            raised.caused(
                ALERT_UNROUTED,
                AlertUnroutedV1(alert_id=alert.alert_id, reason=reason),
                producer=PRODUCER,
            )
        )
    summary = summarise(alert)
    for page in pages:
        person = page.person
        contact = usable_contact(person)
        if contact is None:
            # Never a silent skip: the JOC sees who could not be reached.
            events.append(
                raised.caused(
                    ALERT_TARGET_UNREACHABLE,
                    TargetUnreachableV1(
                        alert_id=alert.alert_id,
                        person_id=person.id,
                        reason="no contact on a supported channel",
                    ),
                    producer=PRODUCER,
                )
            )
            continue
        events.append(
            raised.caused(
                NOTIFICATION_REQUESTED,
                NotificationRequestedV1(
                    notification_id=uuid4(),
                    alert_id=alert.alert_id,
                    person_id=person.id,
                    channel=contact.channel,
                    address=contact.address,
                    policy_id=page.policy_id,
                    level=1,
                    alert=summary,
                ),
                producer=PRODUCER,
            )
        )
    return events


async def trigger_alert(session: AsyncSession, directory: Directory, raised: Envelope) -> None:
    """Record a raised alert, route it and request its first-level notifications."""
    alert = AlertRaisedV1.model_validate(raised.payload)
    produced = plan_first_level(directory, raised)
    triggered = AlertTriggeredV1.model_validate(produced[0].payload)
    session.add(
        AlertRecord(
            alert_id=str(alert.alert_id),
            status="triggered",
            policy_id=triggered.policy_id,
            level=triggered.level,
            targets=triggered.targets,
            sector=alert.sector,
            category=alert.category.value,
            severity=alert.severity.value,
            raised_by=alert.raised_by,
            raised_at=alert.raised_at,
            triggered_at=utc_now(),
        )
    )
    await append_events(session, raised, *produced)
    await add_to_outbox(session, OUTBOX, *produced)
    log.info("alert.triggered", policy=triggered.policy_id, targets=triggered.targets)


async def record_event(session: AsyncSession, envelope: Envelope) -> None:
    """Put an event another service produced on the log (e.g. a delivery outcome)."""
    await append_events(session, envelope)
