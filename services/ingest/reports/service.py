"""Is it heeded? How recommendations are answered and how alerts are acknowledged.

Plain functions over ingest's read side, shared by ``GET /v1/reports/recommendations``
and ``coord report recommendations``. The arithmetic (``summarise_*``) is pure;
the ``*_report`` functions only select the rows.

Recommendations (submitted since ``since``), per sector and addressee component:

- ``issued``: issued to someone (not undeliverable, not still waiting for the router);
  every other count is over these;
- ``acknowledged`` / ``acknowledged_in_time`` (``acknowledged_at <= due_by``);
- ``accepted`` / ``declined`` (with ``declined_reasons``) / ``done``: the current answer
  (an accepted recommendation later done counts as done);
- ``overdue``: escalated, or unanswered with ``due_by`` passed;
- medians of the seconds from ``submitted_at`` to the acknowledgement / the answer.

Alerts (raised since ``since``; duplicates merged into another are left out), per sector:
``raised``, ``acknowledged`` (at least one acknowledgement), the median seconds from
``raised_at`` to the first acknowledgement, the share of raised alerts acknowledged at
the first level of the first loop, and ``escalations`` (``alert.escalated`` events).
The community loop beside them: ``community`` alerts (origin community), the shares of
those whose reporter got a receipt and feedback, and the median seconds from
``raised_at`` to the first feedback delivered.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest.alerts.tables import AlertViewRecord, TimelineRecord
from services.ingest.recommendations.queries import is_overdue
from services.ingest.recommendations.tables import RecommendationViewRecord
from shared.contracts import ALERT_ESCALATED
from shared.contracts.recommendations import RecommendationStatus, Response

ALL = "*"  # the sector / component of a totals row
_NOT_ISSUED = frozenset({RecommendationStatus.SUBMITTED.value})
_UNDELIVERABLE = RecommendationStatus.UNDELIVERABLE.value


class RecommendationGroup(BaseModel):
    """How the recommendations of one sector and addressee component were answered."""

    sector: str = Field(description="The sector; '*' in the totals")
    addressee_component: str | None = Field(
        description="The addressees' component; '*' in the totals, null when undeliverable"
    )
    issued: int
    undeliverable: int
    acknowledged: int
    acknowledged_in_time: int
    accepted: int
    declined: int
    declined_reasons: list[str]
    done: int
    overdue: int
    median_seconds_to_acknowledge: float | None
    median_seconds_to_respond: float | None


class RecommendationReport(BaseModel):
    """Recommendations per (sector, addressee component), and the totals."""

    groups: list[RecommendationGroup]
    totals: RecommendationGroup


class AlertSector(BaseModel):
    """How the alerts of one sector were acknowledged."""

    sector: str = Field(description="The sector; '*' in the totals")
    raised: int
    acknowledged: int
    median_seconds_to_acknowledge: float | None
    share_acknowledged_at_first_level: float | None = Field(
        description="Acknowledged at level 1 of the first loop, over raised (null: none raised)"
    )
    escalations: int
    community: int = Field(description="Alerts of community origin")
    share_community_with_receipt: float | None = Field(
        description="Community alerts whose reporter got a receipt by SMS, over community "
        "alerts (null: none)"
    )
    share_community_with_feedback: float | None = Field(
        description="Community alerts whose reporter was sent feedback an officer released "
        "(delivered), over community alerts (null: none)"
    )
    median_seconds_to_feedback: float | None


class AlertReport(BaseModel):
    """Alerts per sector, and the totals."""

    sectors: list[AlertSector]
    totals: AlertSector


class Report(BaseModel):
    """``GET /v1/reports/recommendations``: both sections, over the same window."""

    since: datetime | None
    sector: str | None
    generated_at: datetime
    recommendations: RecommendationReport
    alerts: AlertReport


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def _elapsed(spans: Iterable[tuple[datetime, datetime | None]]) -> list[float]:
    """Seconds from start to end of each span that has ended."""
    return [(end - start).total_seconds() for start, end in spans if end is not None]


def _group(
    sector: str,
    component: str | None,
    rows: Sequence[RecommendationViewRecord],
    now: datetime,
) -> RecommendationGroup:
    issued = [r for r in rows if r.status not in _NOT_ISSUED and r.status != _UNDELIVERABLE]
    to_acknowledge = _elapsed((r.submitted_at, r.acknowledged_at) for r in issued)
    declined = [r for r in issued if r.response == Response.DECLINED.value]
    return RecommendationGroup(
        sector=sector,
        addressee_component=component,
        issued=len(issued),
        undeliverable=sum(r.status == _UNDELIVERABLE for r in rows),
        acknowledged=len(to_acknowledge),
        acknowledged_in_time=sum(
            r.acknowledged_at is not None and r.acknowledged_at <= r.due_by for r in issued
        ),
        accepted=sum(r.response == Response.ACCEPTED.value for r in issued),
        declined=len(declined),
        declined_reasons=[r.reason or "" for r in declined],
        done=sum(r.response == Response.DONE.value for r in issued),
        overdue=sum(is_overdue(r, now) for r in issued),
        median_seconds_to_acknowledge=_median(to_acknowledge),
        median_seconds_to_respond=_median(
            _elapsed((r.submitted_at, r.responded_at) for r in issued)
        ),
    )


def summarise_recommendations(
    rows: Iterable[RecommendationViewRecord], now: datetime
) -> RecommendationReport:
    """Group ``rows`` by sector and addressee component; ones still being issued are left out."""
    counted = [r for r in rows if r.status not in _NOT_ISSUED]
    groups: dict[tuple[str, str | None], list[RecommendationViewRecord]] = defaultdict(list)
    for row in counted:
        groups[(row.sector, row.addressee_component)].append(row)
    ordered = sorted(groups, key=lambda key: (key[0], key[1] or ""))
    return RecommendationReport(
        groups=[
            _group(sector, component, groups[sector, component], now)
            for sector, component in ordered
        ],
        totals=_group(ALL, ALL, counted, now),
    )


def _first_acknowledgement(row: AlertViewRecord) -> datetime | None:
    times = [datetime.fromisoformat(a["at"]) for a in row.acknowledgements]
    return min(times) if times else None


def _sector(sector: str, rows: Sequence[AlertViewRecord], escalations: int) -> AlertSector:
    delays = [
        (first - r.raised_at).total_seconds()
        for r in rows
        if (first := _first_acknowledgement(r)) is not None
    ]
    at_first_level = sum(bool(r.acknowledgements) and r.level == 1 and r.loop == 0 for r in rows)
    community = [r for r in rows if r.origin == "community"]
    feedback = _elapsed((r.raised_at, r.feedback_at) for r in community)
    return AlertSector(
        sector=sector,
        raised=len(rows),
        acknowledged=len(delays),
        median_seconds_to_acknowledge=_median(delays),
        share_acknowledged_at_first_level=at_first_level / len(rows) if rows else None,
        escalations=escalations,
        community=len(community),
        share_community_with_receipt=_share(
            sum(r.receipt_at is not None for r in community), community
        ),
        share_community_with_feedback=_share(len(feedback), community),
        median_seconds_to_feedback=_median(feedback),
    )


def _share(count: int, of: Sequence[object]) -> float | None:
    return count / len(of) if of else None


def summarise_alerts(
    rows: Iterable[AlertViewRecord], escalations: Mapping[str, int]
) -> AlertReport:
    """Group ``rows`` by sector; ``escalations`` counts ``alert.escalated`` by alert id."""
    by_sector: dict[str, list[AlertViewRecord]] = defaultdict(list)
    for row in rows:
        by_sector[row.sector].append(row)

    def escalations_of(alerts: Sequence[AlertViewRecord]) -> int:
        return sum(escalations.get(a.alert_id, 0) for a in alerts)

    everything = [a for alerts in by_sector.values() for a in alerts]
    return AlertReport(
        sectors=[
            _sector(sector, by_sector[sector], escalations_of(by_sector[sector]))
            for sector in sorted(by_sector)
        ],
        totals=_sector(ALL, everything, escalations_of(everything)),
    )


def _window(
    query: Select[Any],
    at: Any,
    sector_column: Any,
    since: datetime | None,
    sector: str | None,
    *,
    until: datetime | None = None,
) -> Select[Any]:
    if since is not None:
        query = query.where(at >= since)
    if until is not None:
        query = query.where(at < until)
    if sector is not None:
        query = query.where(sector_column == sector)
    return query


async def recommendation_report(
    session: AsyncSession, since: datetime | None, sector: str | None, now: datetime
) -> RecommendationReport:
    """The recommendation section: recommendations submitted since ``since``, in ``sector``."""
    view = RecommendationViewRecord
    query = _window(select(view), view.submitted_at, view.sector, since, sector)
    return summarise_recommendations((await session.scalars(query)).all(), now)


async def alert_report(
    session: AsyncSession,
    since: datetime | None,
    sector: str | None,
    until: datetime | None = None,
) -> AlertReport:
    """The alert section: alerts raised in [since, until), in ``sector``; merged ones left out."""
    view = AlertViewRecord
    alerts = _window(select(view), view.raised_at, view.sector, since, sector, until=until).where(
        view.status != "merged"
    )
    rows = (await session.scalars(alerts)).all()
    escalated = (
        select(TimelineRecord.alert_id, func.count())
        .where(TimelineRecord.type == ALERT_ESCALATED)
        .where(TimelineRecord.alert_id.in_(alerts.with_only_columns(view.alert_id)))
        .group_by(TimelineRecord.alert_id)
    )
    counts = {alert_id: int(n) for alert_id, n in (await session.execute(escalated)).all()}
    return summarise_alerts(rows, counts)


async def report(
    session: AsyncSession, since: datetime | None, sector: str | None, now: datetime
) -> Report:
    """Both sections over the same window."""
    return Report(
        since=since,
        sector=sector,
        generated_at=now,
        recommendations=await recommendation_report(session, since, sector, now),
        alerts=await alert_report(session, since, sector),
    )
