"""The public HTTP API v1 of reports: is it heeded?"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.ingest.caller import AuthenticatedRoute
from services.ingest.deps import Context, MayReport
from services.ingest.reports import service as reports
from shared.envelope import Moment, utc_now

router = APIRouter(prefix="/v1/reports", tags=["reports"], route_class=AuthenticatedRoute)


@router.get("/recommendations", response_model=reports.Report)
async def recommendation_report(
    person: MayReport,  # noqa: ARG001 - the permission is the whole check
    context: Context,
    since: Moment | None = None,
    sector: Annotated[str | None, Query(max_length=100)] = None,
) -> reports.Report:
    """Is it heeded? Recommendations answered and alerts acknowledged, per sector.

    Counts recommendations submitted, and alerts raised, at or after ``since``.
    """
    # Mission-wide figures for those whose roles grant "report" (senior civilians,
    # auditors): counts and decline reasons, never a recommendation's text.
    async with context.sessions() as session:
        return await reports.report(session, since, sector, utc_now())
