"""Reading recommendations: only the author and the addressees see one.

To anyone else a recommendation does not exist (the routes answer 404).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import ColumnElement, and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest.pagination import decode_position, encode_position
from services.ingest.recommendations.schemas import (
    HistoryEntry,
    RecommendationListItem,
    RecommendationPage,
    RecommendationView,
)
from services.ingest.recommendations.tables import (
    RecommendationAddresseeRecord,
    RecommendationTimelineRecord,
    RecommendationViewRecord,
)
from shared.addressing import cleared_classifications
from shared.contracts import RECOMMENDATION_STATE_CHANGED
from shared.contracts.recommendations import (
    RecommendationStatus,
)
from shared.directory import Person
from shared.envelope import Classification
from shared.permissions import may_see_recommendation
from shared.state_rows import state_from

_View = RecommendationViewRecord
_Addressee = RecommendationAddresseeRecord
_NEVER_OVERDUE = (RecommendationStatus.UNDELIVERABLE.value,)


@dataclass(frozen=True)
class RecommendationFilter:
    """What ``GET /v1/recommendations`` may filter on."""

    status: str | None = None
    sector: str | None = None
    overdue: bool | None = None


def is_overdue(view: RecommendationViewRecord, now: datetime) -> bool:
    """Escalated, or still unanswered after ``due_by`` (an undeliverable one is not)."""
    if view.escalated_at is not None:
        return True
    return view.response is None and view.due_by < now and view.status not in _NEVER_OVERDUE


def _overdue_clause(now: datetime) -> ColumnElement[bool]:
    """SQL form of ``is_overdue``."""
    return or_(
        _View.escalated_at.is_not(None),
        and_(_View.response.is_(None), _View.due_by < now, _View.status.not_in(_NEVER_OVERDUE)),
    )


def may_see(view: RecommendationViewRecord, person: Person) -> bool:
    """Cleared, and the author or someone it was issued to; auditors see every one."""
    return may_see_recommendation(
        person, view.author, view.addressees, Classification(view.classification)
    )


def _visible_to(person: Person) -> ColumnElement[bool]:
    addressed = exists().where(
        _Addressee.recommendation_id == _View.recommendation_id,
        _Addressee.person_id == person.id,
    )
    cleared = [c.value for c in cleared_classifications(person)]
    return and_(_View.classification.in_(cleared), or_(_View.author == person.id, addressed))


def to_view(
    view: RecommendationViewRecord,
    history: list[RecommendationTimelineRecord],
    now: datetime,
) -> RecommendationView:
    """The API model of a view row and its timeline."""
    return state_from(
        RecommendationView,
        view,
        id=view.recommendation_id,
        overdue=is_overdue(view, now),
        version=view.version,
        history=[
            HistoryEntry(type=t.type, at=t.occurred_at, actor=t.actor, **t.detail) for t in history
        ],
    )


async def get_recommendation(
    session: AsyncSession, recommendation_id: UUID, person: Person, now: datetime
) -> RecommendationView | None:
    """The recommendation with its history; None if unknown or not one ``person`` may see.

    The history leaves out ``recommendation.state_changed``: the state is the view itself.
    """
    view = await session.get(_View, str(recommendation_id))
    if view is None or not may_see(view, person):
        return None
    timeline = (
        await session.scalars(
            select(RecommendationTimelineRecord)
            .where(RecommendationTimelineRecord.recommendation_id == view.recommendation_id)
            .where(RecommendationTimelineRecord.type != RECOMMENDATION_STATE_CHANGED)
            .order_by(
                RecommendationTimelineRecord.occurred_at, RecommendationTimelineRecord.event_id
            )
        )
    ).all()
    return to_view(view, list(timeline), now)


async def list_recommendations(
    session: AsyncSession,
    person: Person,
    where: RecommendationFilter,
    limit: int,
    cursor: str | None,
    *,
    now: datetime,
) -> RecommendationPage:
    """Recommendations authored by or issued to ``person``, newest first, filtered."""
    query = select(_View).where(_visible_to(person))
    if where.status:
        query = query.where(_View.status == where.status)
    if where.sector:
        query = query.where(_View.sector == where.sector)
    if where.overdue is not None:
        overdue = _overdue_clause(now)
        query = query.where(overdue if where.overdue else ~overdue)
    if cursor:
        at, recommendation_id = decode_position(cursor)
        query = query.where(
            or_(
                _View.submitted_at < at,
                and_(_View.submitted_at == at, _View.recommendation_id < recommendation_id),
            )
        )
    query = query.order_by(_View.submitted_at.desc(), _View.recommendation_id.desc())
    rows = (await session.scalars(query.limit(limit + 1))).all()
    page, more = rows[:limit], len(rows) > limit
    return RecommendationPage(
        items=[
            state_from(
                RecommendationListItem,
                v,
                id=v.recommendation_id,
                overdue=is_overdue(v, now),
            )
            for v in page
        ],
        next_cursor=encode_position(page[-1].submitted_at, page[-1].recommendation_id)
        if more and page
        else None,
    )
