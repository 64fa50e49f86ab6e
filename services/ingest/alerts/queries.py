"""Reading alerts: one alert or several with their timelines, and filtered, paginated lists."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID

from sqlalchemy import ColumnElement, Select, and_, exists, false, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest.alerts.schemas import (
    AlertListItem,
    AlertPage,
    AlertView,
    Delivery,
    TimelineEntry,
)
from services.ingest.alerts.tables import AlertPersonRecord, AlertViewRecord, TimelineRecord
from services.ingest.pagination import decode_position, encode_position
from shared.addressing import cleared_classifications
from shared.contracts import (
    ALERT_RESOLVED,
    ALERT_STATE_CHANGED,
    ALERT_TARGET_UNREACHABLE,
    NOTIFICATION_DELIVERED,
    NOTIFICATION_FAILED,
)
from shared.directory import MISSION_WIDE, Person
from shared.envelope import Classification
from shared.permissions import (
    CLA_ROLE,
    COMMUNITY_ORIGIN,
    JOC_ROLE,
    Action,
    AlertAudience,
    allowed,
    may_see_alert,
)
from shared.state_rows import state_from

DeliveryStatus = Literal["delivered", "failed", "unreachable"]
_DELIVERY_STATUS: dict[str, DeliveryStatus] = {
    NOTIFICATION_DELIVERED: "delivered",
    NOTIFICATION_FAILED: "failed",
    ALERT_TARGET_UNREACHABLE: "unreachable",
}


@dataclass(frozen=True)
class AlertFilter:
    """What a list of alerts may be filtered on (``GET /v1/alerts``, the board)."""

    status: str | None = None
    sector: str | None = None
    category: str | None = None
    severity: str | None = None
    origin: str | None = None
    since: datetime | None = None
    concerning: str | None = None  # a person id: alerts that page or may page them ("mine")
    exhausted: bool | None = None  # escalation ran out with nobody acknowledging
    resolved_since: datetime | None = None


@dataclass(frozen=True)
class AlertCounts:
    """How many alerts a reader may see, by what the board's counters show."""

    triggered: int
    acknowledged: int
    resolved_recently: int  # since the ``resolved_since`` asked for
    exhausted: int  # open alerts whose escalation ran out


def _filtered(query: Select[AlertViewRecord], where: AlertFilter) -> Select[AlertViewRecord]:
    """``query`` narrowed to the alerts matching ``where``."""
    view = AlertViewRecord
    for column, wanted in (
        (view.status, where.status),
        (view.sector, where.sector),
        (view.category, where.category),
        (view.severity, where.severity),
        (view.origin, where.origin),
    ):
        if wanted:
            query = query.where(column == wanted)
    if where.since:
        query = query.where(view.raised_at >= where.since)
    if where.concerning:
        query = query.where(_names(where.concerning))
    if where.exhausted is not None:
        # "Escalation exhausted" is about open alerts: once resolved, nobody is waited for.
        ran_out = and_(view.exhausted.is_(True), view.status != "resolved")
        query = query.where(ran_out if where.exhausted else ~ran_out)
    if where.resolved_since:
        query = query.where(_resolved_since(where.resolved_since))
    return query


def _names(person_id: str) -> ColumnElement[bool]:
    """The alert pages, or may page, ``person_id`` (paged or on its chain)."""
    return exists().where(
        AlertPersonRecord.alert_id == AlertViewRecord.alert_id,
        AlertPersonRecord.person_id == person_id,
    )


def _resolved_since(moment: datetime) -> ColumnElement[bool]:
    return and_(
        AlertViewRecord.status == "resolved",
        exists().where(
            TimelineRecord.alert_id == AlertViewRecord.alert_id,
            TimelineRecord.type == ALERT_RESOLVED,
            TimelineRecord.occurred_at >= moment,
        ),
    )


async def count_alerts(
    session: AsyncSession, reader: Person, where: AlertFilter, resolved_since: datetime
) -> AlertCounts:
    """The board's counters over the alerts ``reader`` may see matching ``where``.

    ``where.status`` and ``where.exhausted`` are left out: the counters are what a
    click on them filters by.
    """
    base = dataclasses.replace(where, status=None, exhausted=None, resolved_since=None)
    visible = _filtered(select(AlertViewRecord).where(visible_to(reader)), base).subquery()
    rows = (
        await session.execute(
            select(visible.c.status, visible.c.exhausted, func.count()).group_by(
                visible.c.status, visible.c.exhausted
            )
        )
    ).all()
    by_status: dict[str, int] = {}
    exhausted = 0
    for status, ran_out, count in rows:
        by_status[status] = by_status.get(status, 0) + count
        if ran_out and status != "resolved":
            exhausted += count
    resolved = _filtered(
        select(AlertViewRecord).where(visible_to(reader)),
        dataclasses.replace(base, resolved_since=resolved_since),
    ).subquery()
    recently = await session.scalar(select(func.count()).select_from(resolved))
    return AlertCounts(
        triggered=by_status.get("triggered", 0),
        acknowledged=by_status.get("acknowledged", 0),
        resolved_recently=recently or 0,
        exhausted=exhausted,
    )


def audience_of(view: AlertViewRecord) -> AlertAudience:
    """What need-to-know looks at on an alert's view."""
    return AlertAudience(
        classification=Classification(view.classification),
        sector=view.sector,
        raised_by=view.raised_by,
        chain=frozenset({*view.targets, *view.chain}),
        origin=view.origin,
    )


def visible_to(person: Person) -> ColumnElement[bool]:
    """SQL twin of ``shared.permissions.may_see_alert`` over the views (tests keep them equal)."""
    if allowed(person, Action.AUDIT):
        return true()
    if not allowed(person, Action.READ):
        return false()
    cleared = [c.value for c in cleared_classifications(person)]
    concerned: list[ColumnElement[bool]] = [
        AlertViewRecord.raised_by == person.id,
        _names(person.id),
    ]
    if JOC_ROLE in person.roles:
        board = MISSION_WIDE in person.sectors
        concerned.append(true() if board else AlertViewRecord.sector.in_(person.sectors))
    if CLA_ROLE in person.roles:
        # shared.permissions._relays_for: their sectors' community alerts.
        community = AlertViewRecord.origin == COMMUNITY_ORIGIN
        if MISSION_WIDE not in person.sectors:
            community = and_(community, AlertViewRecord.sector.in_(person.sectors))
        concerned.append(community)
    return and_(AlertViewRecord.classification.in_(cleared), or_(*concerned))


async def get_alert(
    session: AsyncSession, alert_id: UUID, reader: Person | None = None
) -> AlertView | None:
    """The alert's view with its deliveries and timeline; None if unknown or not for ``reader``.

    ``reader=None`` is the service itself (e.g. answering the raiser right after
    accepting); every route passes the caller.
    """
    view = await session.get(AlertViewRecord, str(alert_id))
    if view is None:
        return None
    if reader is not None and not may_see_alert(reader, audience_of(view)):
        return None
    [found] = await alert_views(session, [view])
    return found


async def alert_views(session: AsyncSession, records: Sequence[AlertViewRecord]) -> list[AlertView]:
    """The API's views of ``records``, in their order, with their timelines.

    One query for all their timelines, however many: a list of alerts (the partner
    feed) is not read one alert at a time. No reader is asked about: the caller chose
    ``records`` by its rule of who sees what.
    """
    if not records:
        return []
    timelines: dict[str, list[TimelineRecord]] = {r.alert_id: [] for r in records}
    entries = await session.scalars(
        select(TimelineRecord)
        .where(TimelineRecord.alert_id.in_(list(timelines)))
        .where(TimelineRecord.type != ALERT_STATE_CHANGED)
        .order_by(TimelineRecord.occurred_at, TimelineRecord.event_id)
    )
    # One order over all the alerts' entries is each alert's own order once grouped.
    for entry in entries:
        timelines[entry.alert_id].append(entry)
    return [alert_view(r, timelines[r.alert_id]) for r in records]


def alert_view(view: AlertViewRecord, timeline: Sequence[TimelineRecord]) -> AlertView:
    """The API's view of an alert from its row and its timeline (state changes left out)."""
    deliveries = [d for d in map(_delivery, timeline) if d is not None]
    notified = list(dict.fromkeys(d.person_id for d in deliveries if d.status == "delivered"))
    return state_from(
        AlertView,
        view,
        id=view.alert_id,
        current_level=view.level,
        notified=notified,
        deliveries=deliveries,
        timeline=[TimelineEntry(type=t.type, at=t.occurred_at, **t.detail) for t in timeline],
    )


def _delivery(entry: TimelineRecord) -> Delivery | None:
    status = _DELIVERY_STATUS.get(entry.type)
    if status is None or entry.detail.get("kind", "page") != "page":
        return None  # only pages count as deliveries; FYIs stay in the timeline
    detail = entry.detail
    return Delivery(
        notification_id=detail.get("notification_id"),
        person_id=detail["person_id"],
        channel=detail.get("channel"),
        status=status,
        at=entry.occurred_at,
        error=detail.get("error") or detail.get("reason"),
    )


def encode_cursor(view: AlertViewRecord) -> str:
    """An opaque cursor: the position of ``view`` in the newest-first order."""
    return encode_position(view.raised_at, view.alert_id)


async def list_alerts(
    session: AsyncSession, reader: Person, where: AlertFilter, limit: int, cursor: str | None
) -> AlertPage:
    """Alerts ``reader`` may see matching ``where``, newest first, ``limit`` at a time."""
    query = _filtered(select(AlertViewRecord).where(visible_to(reader)), where)
    if cursor:
        raised_at, alert_id = decode_position(cursor)
        query = query.where(
            or_(
                AlertViewRecord.raised_at < raised_at,
                and_(AlertViewRecord.raised_at == raised_at, AlertViewRecord.alert_id < alert_id),
            )
        )
    query = query.order_by(AlertViewRecord.raised_at.desc(), AlertViewRecord.alert_id.desc())
    rows = (await session.scalars(query.limit(limit + 1))).all()
    page, more = rows[:limit], len(rows) > limit
    return AlertPage(
        items=[state_from(AlertListItem, v, id=v.alert_id) for v in page],
        next_cursor=encode_cursor(page[-1]) if more and page else None,
    )
