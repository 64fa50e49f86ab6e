"""The router's alert service: open a raised alert (or merge a duplicate) and page level 1.

When a raised alert is a duplicate, and what merging it does: ``services.router.alerts.dedup``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, replace

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.router.alerts.codes import allocate_code
from services.router.alerts.commands import audience
from services.router.alerts.dedup import (
    DedupScope,
    may_merge,
    merge,
    open_alert_of,
    raisers_open_alert,
)
from services.router.alerts.escalation import (
    EscalationState,
    Page,
    PolicySnapshot,
    Transition,
    trigger,
)
from services.router.alerts.routing import AlertFacts, select_policies, snapshot_policy
from services.router.alerts.store import snapshot_to_json
from services.router.alerts.tables import AlertRecord, OpenDedupKey
from services.router.alerts.transitions import EventFactory, apply_transition
from shared.consumer import TryAgainLater
from shared.contracts import (
    ALERT_RAISED,
    ALERT_TRIGGERED,
    ALERT_UNROUTED,
    payload_model,
)
from shared.contracts.alerts import (
    AlertRaised,
    AlertRaisedV1,
    AlertRaisedV2,
)
from shared.contracts.notifications import AlertSummary
from shared.db import insert_ignoring_duplicates
from shared.directory import Directory
from shared.envelope import Envelope, utc_now
from shared.event_log import append as append_to_log

log = structlog.get_logger(__name__)
# Tries to take or find a dedup scope's open alert while resolutions free it under us.
KEY_ATTEMPTS = 3


def raised_alert(raised: Envelope) -> AlertRaised:
    """The payload of an ``alert.raised`` in its schema version.

    v2 (what ingest sends) carries the source sealed, v1 (records and messages from
    before sealing) in plaintext. The router routes on neither: it holds no source key.
    """
    alert = payload_model(ALERT_RAISED, raised.schema_version).model_validate(raised.payload)
    if not isinstance(alert, AlertRaisedV1 | AlertRaisedV2):  # pragma: no cover - the table
        raise TypeError(f"{ALERT_RAISED} v{raised.schema_version} is not an alert")
    return alert


def summarise(alert: AlertRaised) -> AlertSummary:
    """What a notification may say about the alert: never its source."""
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


def plan_trigger(
    directory: Directory, alert: AlertRaised
) -> tuple[PolicySnapshot | None, Transition]:
    """Route the alert and decide its first transition, without side effects."""
    facts = AlertFacts(
        category=alert.category.value,
        severity=alert.severity.value,
        sector=alert.sector,
        origin=alert.origin.value,
        classification=alert.classification.value,
    )
    policy_ids = select_policies(directory.routes, facts)
    snapshot = snapshot_policy(directory, policy_ids, alert.sector)
    # No policy: the alert is open (the JOC can still resolve it) but never escalates.
    transition = trigger(snapshot, utc_now()) if snapshot else Transition(state=EscalationState())
    level_one = list(snapshot.levels[0].targets) if snapshot else []
    events: list[tuple[str, Mapping[str, object]]] = [
        (
            ALERT_TRIGGERED,
            {
                "policy_id": snapshot.policy_id if snapshot else None,
                "policy_ids": policy_ids,
                "level": 1,
                "targets": level_one,
                "snapshot": snapshot_to_json(snapshot) if snapshot else None,
            },
        )
    ]
    pages = transition.pages
    if not level_one:
        # Never a silent skip: an alert nobody is paged for is an event the JOC is told of.
        reason = (
            f"level 1 of {', '.join(policy_ids)} names nobody in sector {alert.sector!r}"
            if policy_ids
            else "no route matches this alert"
        )
        events.append((ALERT_UNROUTED, {"reason": reason}))
        pages = (*pages, Page(people=(), kind="unrouted", level=1, message=reason))
    return snapshot, replace(transition, events=tuple(events) + transition.events, pages=pages)


async def trigger_alert(session: AsyncSession, directory: Directory, raised: Envelope) -> None:
    """Open a raised alert, or merge it into the open alert of its dedup scope."""
    alert = raised_alert(raised)
    snapshot, transition = plan_trigger(directory, alert)
    record = AlertRecord(
        alert_id=str(alert.alert_id),
        status=transition.state.status,
        policy_id=snapshot.policy_id if snapshot else None,
        level=1,
        targets=[],
        sector=alert.sector,
        category=alert.category.value,
        severity=alert.severity.value,
        raised_by=alert.raised_by,
        raised_at=alert.raised_at,
        triggered_at=utc_now(),
        snapshot=snapshot_to_json(snapshot) if snapshot else {},
        summary=summarise(alert).model_dump(mode="json"),
        cycle=1,
        loop=0,
        exhausted=False,
        acknowledgements=[],
        dedup_key=alert.dedup_key,
        dedup_count=1,
        version=0,
        reporter=alert.reporter if isinstance(alert, AlertRaisedV2) else None,
    )
    # Every row lock is taken before the first append: appending takes the log's lock,
    # which must always come last (see shared.event_log), or two routers could deadlock.
    scope = DedupScope.of_raised(alert)
    for _ in range(KEY_ATTEMPTS):
        if scope is None or await insert_ignoring_duplicates(
            session,
            OpenDedupKey.__table__,  # type: ignore[arg-type]
            {**asdict(scope), "alert_id": record.alert_id},
        ):
            break  # no key, or the scope is ours: the alert opens
        open_alert = await open_alert_of(session, scope)
        if open_alert is None:
            continue  # resolved since the insert: the scope is free again
        raiser = directory.person(alert.raised_by)
        if not may_merge(raiser, scope, DedupScope.of_record(open_alert), audience(open_alert)):
            # Not theirs to see: their report joins their own open report of the
            # incident, or opens on its own (holding no key).
            log.info("alert.not_merged", open_alert=open_alert.alert_id, reason="need-to-know")
            open_alert = await raisers_open_alert(session, scope, alert.raised_by)
            if open_alert is None:
                break
        await merge(
            session,
            directory,
            open_alert=open_alert,
            duplicate=record,
            alert=alert,
            routed=snapshot,
            raised=raised,
        )
        return
    else:  # pragma: no cover - a scope resolved and reopened under us, again and again
        raise TryAgainLater(f"dedup scope {scope} kept changing; trying again")
    record.summary = {**record.summary, "code": await allocate_code(session, record.alert_id)}
    session.add(record)
    await append_to_log(session, (raised,))
    await apply_transition(session, record, transition, directory, EventFactory(record, raised))
    log.info("alert.triggered", policy=record.policy_id, targets=record.targets)
