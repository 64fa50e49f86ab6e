"""The report as charts: is it heeded? For those whose roles grant ``report``.

The figures are the API's report (``services.ingest.reports``): the page only draws them.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.ingest.board.charts import bars, line_chart, stacked
from services.ingest.board.pages import render
from services.ingest.board.session import Reader
from services.ingest.reports import service as reports
from shared.envelope import utc_now
from shared.permissions import Action

router = APIRouter(include_in_schema=False)
DAYS = 7
# The parts of a component's recommendations, in the order they are drawn.
OUTCOMES = ("accepted", "done", "declined", "overdue", "open")


def _day(now: datetime, back: int) -> datetime:
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=back)


@router.get("/reports", response_class=HTMLResponse)
async def report_page(request: Request, visitor: Reader) -> HTMLResponse:
    """The last week: time to acknowledge, first-level acknowledgements, recommendations."""
    if not visitor.may(Action.REPORT):
        return render(request, "error.html", visitor, status_code=403, problem="no_report")
    now = utc_now()
    since = _day(now, DAYS - 1)
    async with visitor.context.sessions() as session:
        whole = await reports.report(session, since, None, now)
        daily = [
            await reports.alert_report(session, _day(now, back), None, until=_day(now, back - 1))
            for back in range(DAYS - 1, -1, -1)
        ]
    sectors = sorted({s.sector for day in daily for s in day.sectors})
    minutes: dict[str, list[float | None]] = defaultdict(list)
    for day in daily:
        found = {s.sector: s.median_seconds_to_acknowledge for s in day.sectors}
        for sector in sectors:
            seconds = found.get(sector)
            minutes[sector].append(None if seconds is None else round(seconds / 60, 1))
    components: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(OUTCOMES, 0))
    for group in whole.recommendations.groups:
        counts = components[group.addressee_component or "?"]
        answered = group.accepted + group.declined + group.done
        counts["accepted"] += group.accepted
        counts["done"] += group.done
        counts["declined"] += group.declined
        # "overdue" also counts answers that came after an escalation: only the
        # unanswered are split into overdue and open, so the parts add up to the whole.
        unanswered = max(group.issued - answered, 0)
        late = min(group.overdue, unanswered)
        counts["overdue"] += late
        counts["open"] += unanswered - late
    return render(
        request,
        "reports.html",
        visitor,
        report=whole,
        since=since,
        ack_over_time=line_chart(
            [_day(now, b).strftime("%d/%m") for b in range(DAYS - 1, -1, -1)], dict(minutes)
        ),
        first_level=bars(
            [(s.sector, s.share_acknowledged_at_first_level) for s in whole.alerts.sectors], top=1.0
        ),
        heeded=[
            stacked(c, [(o, counts[o]) for o in OUTCOMES])
            for c, counts in sorted(components.items())
        ],
    )
