"""The board: the alerts a person may see, counters that filter, rows that say what is next.

``/board`` is the page; ``/board/rows`` is its live part, fetched again by the page's
script whenever the stream says something changed (``board.js``).
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from services.ingest.alerts import queries
from services.ingest.alerts.schemas import AlertListItem
from services.ingest.board.chain import ComponentAcknowledgement, quorum
from services.ingest.board.filters import RECENT, STATUSES, BadFilter, BoardFilter
from services.ingest.board.pages import render
from services.ingest.board.session import Reader, Visitor
from services.ingest.stream.hub import STREAMED_TYPES
from shared.contracts.alerts import Category, Component, Severity
from shared.envelope import utc_now
from shared.permissions import Action

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 100


@dataclass(frozen=True)
class BoardRow:
    """One alert on the board, with what its reader may do about it."""

    alert: AlertListItem
    quorum: list[ComponentAcknowledgement]
    may_acknowledge: bool
    may_resolve: bool


def row_of(visitor: Visitor, alert: AlertListItem) -> BoardRow:
    """The board's row of ``alert`` for ``visitor``.

    The actions shown are those the permissions table allows on the alert's state; the
    router still decides (a row may be a moment behind it).
    """
    person = visitor.person
    acknowledged = any(a.person_id == person.id for a in alert.acknowledgements)
    return BoardRow(
        alert=alert,
        quorum=quorum(
            visitor.context.directory,
            alert.policy_id,
            alert.level,
            alert.sector,
            alert.acknowledgements,
        ),
        may_acknowledge=(
            visitor.may(Action.ACKNOWLEDGE)
            and alert.status == "triggered"
            and person.id in alert.targets
            and not acknowledged
        ),
        may_resolve=visitor.may(Action.RESOLVE) and alert.status in ("triggered", "acknowledged"),
    )


async def _board(request: Request, visitor: Visitor, template: str) -> HTMLResponse:
    context = visitor.context
    try:
        wanted = BoardFilter.from_query(request.query_params, context.directory)
    except BadFilter as error:
        return render(request, "error.html", visitor, status_code=400, problem=str(error))
    now = utc_now()
    where = wanted.query(visitor.person.id, now)
    async with context.sessions() as session:
        page = await queries.list_alerts(session, visitor.person, where, PAGE_SIZE, None)
        counts = await queries.count_alerts(session, visitor.person, where, now - RECENT)
    return render(
        request,
        template,
        visitor,
        rows=[row_of(visitor, alert) for alert in page.items],
        more=page.next_cursor is not None,
        counts=counts,
        wanted=wanted,
        statuses=STATUSES,
        sectors=context.directory.sectors,
        severities=[s.value for s in Severity],
        categories=[c.value for c in Category],
        origins=[c.value for c in Component],
        live_events=STREAMED_TYPES,
    )


@router.get("/")
async def home() -> RedirectResponse:
    """The board is the home page."""
    return RedirectResponse("/board", status_code=303)


@router.get("/board", response_class=HTMLResponse)
async def board(request: Request, visitor: Reader) -> HTMLResponse:
    """The board page: counters, filters, the alerts, live."""
    return await _board(request, visitor, "board.html")


@router.get("/board/rows", response_class=HTMLResponse)
async def board_rows(request: Request, visitor: Reader) -> HTMLResponse:
    """The board's live part (counters and rows), for the page to swap in."""
    return await _board(request, visitor, "board_live.html")
