"""Reading alerts: one alert with its timeline, and filtered, paginated lists."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID

from sqlalchemy import ColumnElement, and_, exists, false, or_, select, true
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
    ALERT_STATE_CHANGED,
    ALERT_TARGET_UNREACHABLE,
    NOTIFICATION_DELIVERED,
    NOTIFICATION_FAILED,
)
from shared.directory import MISSION_WIDE, Person
from shared.envelope import Classification
from shared.permissions import JOC_ROLE, Action, AlertAudience, allowed, may_see_alert
from shared.state_rows import state_from

DeliveryStatus = Literal["delivered", "failed", "unreachable"]
_DELIVERY_STATUS: dict[str, DeliveryStatus] = {
    NOTIFICATION_DELIVERED: "delivered",
    NOTIFICATION_FAILED: "failed",
    ALERT_TARGET_UNREACHABLE: "unreachable",
}


@dataclass(frozen=True)
class AlertFilter:
    """What ``GET /v1/alerts`` may filter on."""

    status: str | None = None
    sector: str | None = None
    category: str | None = None
    since: datetime | None = None


def audience_of(view: AlertViewRecord) -> AlertAudience:
    """What need-to-know looks at on an alert's view."""
    return AlertAudience(
        classification=Classification(view.classification),
        sector=view.sector,
        raised_by=view.raised_by,
        chain=frozenset({*view.targets, *view.chain}),
    )


def visible_to(person: Person) -> ColumnElement[bool]:
    """SQL twin of ``shared.permissions.may_see_alert`` over the views (tests keep them equal)."""
    if allowed(person, Action.AUDIT):
        return true()
    if not allowed(person, Action.READ):
        return false()
    cleared = [c.value for c in cleared_classifications(person)]
    named = exists().where(
        AlertPersonRecord.alert_id == AlertViewRecord.alert_id,
        AlertPersonRecord.person_id == person.id,
    )
    concerned: list[ColumnElement[bool]] = [AlertViewRecord.raised_by == person.id, named]
    if JOC_ROLE in person.roles:
        board = MISSION_WIDE in person.sectors
        concerned.append(true() if board else AlertViewRecord.sector.in_(person.sectors))
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
    timeline = (
        await session.scalars(
            select(TimelineRecord)
            .where(TimelineRecord.alert_id == str(alert_id))
            .where(TimelineRecord.type != ALERT_STATE_CHANGED)
            .order_by(TimelineRecord.occurred_at, TimelineRecord.event_id)
        )
    ).all()
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
    query = select(AlertViewRecord).where(visible_to(reader))
    if where.status:
        query = query.where(AlertViewRecord.status == where.status)
    if where.sector:
        query = query.where(AlertViewRecord.sector == where.sector)
    if where.category:
        query = query.where(AlertViewRecord.category == where.category)
    if where.since:
        query = query.where(AlertViewRecord.raised_at >= where.since)
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
