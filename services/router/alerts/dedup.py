"""Deduplication: when a raised alert is a duplicate of an open one, and what merging does.

A raised alert with a ``dedup_key`` is a duplicate of the open (triggered or
acknowledged) alert of the same *dedup scope*: the same key, sector, category and
classification (``DedupScope``). A key never reaches across scopes, so nobody's report
can fold another sector's, another kind of threat's or another classification's alert
away (Alertmanager groups by labels; PagerDuty scopes a key to one service). Within its
scope a duplicate is merged only if its raiser may see the open alert (need-to-know,
``may_merge``): a merge names the alert merged into, and must neither tell the raiser of
an alert hidden from them nor leave their report unheard. Otherwise it opens as an alert
of its own (holding no key) and is paged normally.

A merge never lowers what is paged: the open alert takes the more serious severity and
urgency of the two, and escalates from then on under both reports' policies together
(``escalation.combine``); whoever the duplicate's routing adds at the levels the alert
has reached is paged at once (``escalation.widen``), recorded as ``alert.upgraded``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.router.alerts.escalation import (
    ACKNOWLEDGED,
    RESOLVED,
    TRIGGERED,
    PolicySnapshot,
    Transition,
    combine,
    widen,
)
from services.router.alerts.store import snapshot_from_json, snapshot_to_json, state_of, store_state
from services.router.alerts.tables import AlertRecord, OpenDedupKey
from services.router.alerts.transitions import EventFactory, notifications, state_event
from services.router.tables import stage
from shared.addressing import cleared_for
from shared.contracts import (
    ALERT_DEDUPLICATED,
    ALERT_MERGED,
    ALERT_UPGRADED,
)
from shared.contracts.alerts import (
    SEVERITY_ORDER,
    URGENCY_ORDER,
    AlertRaised,
    Urgency,
    more_serious,
)
from shared.directory import Directory, Person
from shared.envelope import Classification, Envelope, utc_now
from shared.event_log import append as append_to_log
from shared.permissions import AlertAudience, may_see_alert

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class DedupScope:
    """Where a dedup key means "the same incident": one sector, category and classification.

    The key of ``router_open_dedup_keys``: at most one open alert holds a scope.
    """

    dedup_key: str
    sector: str
    category: str
    classification: str

    @classmethod
    def of_raised(cls, alert: AlertRaised) -> DedupScope | None:
        """The scope of a raised alert; None when it has no dedup key."""
        if alert.dedup_key is None:
            return None
        return cls(alert.dedup_key, alert.sector, alert.category.value, alert.classification.value)

    @classmethod
    def of_record(cls, record: AlertRecord) -> DedupScope | None:
        """The scope of the router's alert; None when it has no dedup key."""
        if record.dedup_key is None:
            return None
        classification = record.summary.get("classification", Classification.UNCLASSIFIED.value)
        return cls(record.dedup_key, record.sector, record.category, classification)


def may_merge(
    raiser: Person | None, duplicate: DedupScope, into: DedupScope | None, seen: AlertAudience
) -> bool:
    """May a duplicate of ``duplicate``'s scope, raised by ``raiser``, merge into an open alert?

    Only into an alert of the very same scope (``into``), and only if the raiser is
    cleared for it and may see it (``seen``: the open alert's audience), since the merge
    tells them its id. Otherwise the duplicate is an alert of its own.
    """
    return (
        raiser is not None
        and into == duplicate
        and seen.sector == duplicate.sector
        and seen.classification.value == duplicate.classification
        and cleared_for(raiser, seen.classification)
        and may_see_alert(raiser, seen)
    )


async def open_alert_of(session: AsyncSession, scope: DedupScope) -> AlertRecord | None:
    """The open alert holding ``scope``, locked; None if it was resolved meanwhile.

    The key row is read without a lock, then the alert is locked (the order resolving
    takes them in, so the two cannot deadlock): a resolve that committed in between has
    freed the scope, and the caller tries to take it again.
    """
    open_id = (
        await session.scalars(
            select(OpenDedupKey.alert_id).where(
                OpenDedupKey.dedup_key == scope.dedup_key,
                OpenDedupKey.sector == scope.sector,
                OpenDedupKey.category == scope.category,
                OpenDedupKey.classification == scope.classification,
            )
        )
    ).one_or_none()
    if open_id is None:
        return None
    open_alert = await session.get(
        AlertRecord, open_id, with_for_update=True, populate_existing=True
    )
    if open_alert is None or open_alert.status == RESOLVED:
        return None
    return open_alert


async def raisers_open_alert(
    session: AsyncSession, scope: DedupScope, raiser_id: str
) -> AlertRecord | None:
    """The raiser's own open alert of ``scope`` (the oldest), locked; None if none.

    Such an alert holds no key: it opened because the key's holder was hidden from its
    raiser. Their next reports of the same incident merge into it, so that a liaison
    assistant relaying the same threat again does not page the chain again each time.
    """
    candidates = await session.scalars(
        select(AlertRecord)
        .where(
            AlertRecord.dedup_key == scope.dedup_key,
            AlertRecord.sector == scope.sector,
            AlertRecord.category == scope.category,
            AlertRecord.raised_by == raiser_id,
            AlertRecord.status.in_((TRIGGERED, ACKNOWLEDGED)),
        )
        .order_by(AlertRecord.raised_at)
        .with_for_update()
    )
    return next((a for a in candidates if DedupScope.of_record(a) == scope), None)


@dataclass(frozen=True)
class Upgrade:
    """What a duplicate raises on the open alert: severity, urgency, policy, pages."""

    severity: str
    urgency: str
    snapshot: PolicySnapshot | None
    transition: Transition
    was: tuple[str, str]  # the open alert's severity and urgency before it


def plan_upgrade(
    open_alert: AlertRecord,
    duplicate: AlertRaised,
    routed: PolicySnapshot | None,
    now: datetime,
) -> Upgrade | None:
    """How the duplicate (routed to ``routed`` on its own) raises the open alert; None: not.

    The more serious severity and urgency of the two; both policies together (the
    duplicate's routing may page more people, or sooner, than the open alert's).
    """
    was = (open_alert.severity, open_alert.summary.get("urgency", Urgency.UNKNOWN.value))
    severity = more_serious(SEVERITY_ORDER, was[0], duplicate.severity.value)
    urgency = more_serious(URGENCY_ORDER, was[1], duplicate.urgency.value)
    current = snapshot_from_json(open_alert.snapshot) if open_alert.snapshot else None
    wider = current if routed is None else routed if current is None else combine(current, routed)
    state = state_of(open_alert)
    if wider is None or wider == current:
        if (severity, urgency) == was:
            return None
        return Upgrade(severity, urgency, current, Transition(state=state), was)
    transition = widen(state, wider, now)
    return Upgrade(severity, urgency, wider, transition, was)


async def merge(
    session: AsyncSession,
    directory: Directory,
    *,
    open_alert: AlertRecord,
    duplicate: AlertRecord,
    alert: AlertRaised,
    routed: PolicySnapshot | None,
    raised: Envelope,
) -> None:
    """Merge ``duplicate`` (``alert``, routed on its own to ``routed``) into ``open_alert``.

    The duplicate is recorded as merged, the open alert counts it and is upgraded when
    the duplicate is more serious (``plan_upgrade``); all in the caller's transaction.
    """
    key = alert.dedup_key or ""
    open_alert.dedup_count += 1
    duplicate.status = "merged"
    duplicate.merged_into = open_alert.alert_id
    duplicate.version = 1
    session.add(duplicate)
    on_open = EventFactory(open_alert, raised)
    on_duplicate = EventFactory(duplicate, raised)
    produced = [
        on_open.make(
            ALERT_MERGED,
            {
                "duplicate_alert_id": UUID(duplicate.alert_id),
                "dedup_key": key,
                "count": open_alert.dedup_count,
            },
        )
    ]
    upgrade = plan_upgrade(open_alert, alert, routed, utc_now())
    if upgrade is None:
        open_alert.version += 1
    else:
        produced += _upgrade(open_alert, upgrade, directory, on_open, duplicate.alert_id)
    produced += [
        state_event(open_alert, on_open),
        on_duplicate.make(
            ALERT_DEDUPLICATED, {"merged_into": UUID(open_alert.alert_id), "dedup_key": key}
        ),
        state_event(duplicate, on_duplicate),
    ]
    await append_to_log(session, (raised,))
    await stage(session, produced)
    log.info("alert.merged", into=open_alert.alert_id, count=open_alert.dedup_count)


def _upgrade(
    open_alert: AlertRecord,
    upgrade: Upgrade,
    directory: Directory,
    events: EventFactory,
    duplicate_id: str,
) -> list[Envelope]:
    """Raise the open alert (its row) and the events and pages that say so."""
    open_alert.severity = upgrade.severity
    open_alert.summary = {
        **open_alert.summary,
        "severity": upgrade.severity,
        "urgency": upgrade.urgency,
    }
    if upgrade.snapshot is not None:
        open_alert.snapshot = snapshot_to_json(upgrade.snapshot)
        open_alert.policy_id = upgrade.snapshot.policy_id
    store_state(open_alert, upgrade.transition.state)
    upgraded = events.make(
        ALERT_UPGRADED,
        {
            "duplicate_alert_id": UUID(duplicate_id),
            "severity": upgrade.severity,
            "urgency": upgrade.urgency,
            "previous_severity": upgrade.was[0],
            "previous_urgency": upgrade.was[1],
            "policy_ids": list(upgrade.snapshot.policy_ids) if upgrade.snapshot else [],
            "targets": [p for page in upgrade.transition.pages for p in page.people],
            "snapshot": open_alert.snapshot or None,
        },
    )
    log.info("alert.upgraded", severity=upgrade.severity, urgency=upgrade.urgency)
    return [upgraded, *notifications(open_alert, directory, upgrade.transition.pages, events)]
