"""An alert's page: its story in words, the chain ahead, and what the reader may do.

The commands (acknowledge, resolve, note, release to partners) are staged by the same
functions as the API's and answered with the router's verdict, shown on the page the post
redirects to. On an alert a community contact reported, acknowledging and resolving may
release a message to them (``services.ingest.board.community``); nothing is sent unless
one is chosen.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from services.ingest import command_staging as commands
from services.ingest.alerts import queries
from services.ingest.alerts.schemas import AlertListItem
from services.ingest.board.acting import act, back_to
from services.ingest.board.board import row_of
from services.ingest.board.chain import levels_ahead
from services.ingest.board.community import (
    FeedbackRefused,
    chosen_message,
    community_facts,
    reporter_language,
)
from services.ingest.board.flash import Flash
from services.ingest.board.pages import render
from services.ingest.board.session import Poster, Reader, Visitor
from services.ingest.stream.hub import STREAMED_TYPES
from shared.envelope import Classification
from shared.permissions import Action

router = APIRouter(include_in_schema=False)
Note = Annotated[str, Form(max_length=5000)]
Next = Annotated[str, Form()]
# The feedback's choice (a set phrase's key, "free", or "" for nothing) and typed text;
# bounded loosely here, the text's own limit is checked to word the refusal.
Choice = Annotated[str, Form(max_length=20)]
Typed = Annotated[str, Form(max_length=5000)]


async def _alert(alert_id: UUID, request: Request, visitor: Visitor, template: str) -> HTMLResponse:
    context = visitor.context
    async with context.sessions() as session:
        view = await queries.get_alert(session, alert_id, visitor.person)
    if view is None:
        return render(request, "error.html", visitor, status_code=404, problem="no_alert")
    item = AlertListItem.model_validate(view.model_dump())
    return render(
        request,
        template,
        visitor,
        alert=view,
        row=row_of(visitor, item),
        ahead=levels_ahead(
            context.directory, view.policy_id, view.level, view.sector, view.next_escalation_at
        ),
        may_note=visitor.may(Action.POST_MESSAGE) and view.status != "resolved",
        # The router decides (docs/cap.md); the button shows where it would agree.
        may_release=visitor.may(Action.RELEASE)
        and view.classification == Classification.UNCLASSIFIED.value
        and view.released_at is None
        and view.status != "merged",
        community=community_facts(context.directory, view),
        live_events=STREAMED_TYPES,
    )


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
async def alert_page(alert_id: UUID, request: Request, visitor: Reader) -> HTMLResponse:
    """The alert as its reader may see it; 404 for one they may not (as the API)."""
    return await _alert(alert_id, request, visitor, "alert.html")


@router.get("/alerts/{alert_id}/live", response_class=HTMLResponse)
async def alert_live(alert_id: UUID, request: Request, visitor: Reader) -> HTMLResponse:
    """The page's live part (state, acknowledgements, timeline), for the page to swap in."""
    return await _alert(alert_id, request, visitor, "alert_live.html")


async def _feedback(visitor: Visitor, alert_id: UUID, choice: str, text: str) -> str | None:
    """The message to the reporter the form releases (None: nothing, or no reporter).

    The set phrases are taken in the reporter's language, read from the alert as the
    visitor may see it: an alert they may not see releases nothing (the router refuses).
    """
    if not choice:
        return None
    async with visitor.context.sessions() as session:
        view = await queries.get_alert(session, alert_id, visitor.person)
    if view is None or view.reporter is None:
        return None
    language = reporter_language(visitor.context.directory, view.reporter)
    return chosen_message(choice, text, language)


@router.post("/alerts/{alert_id}/acknowledge")
async def acknowledge(
    alert_id: UUID,
    visitor: Poster,
    *,
    back: Next = "",
    community: Choice = "",
    community_text: Typed = "",
) -> RedirectResponse:
    """Acknowledge as the signed-in person, releasing the chosen feedback, if any."""
    sessions, person = visitor.context.sessions, visitor.person
    back = back or f"/alerts/{alert_id}"
    try:
        message = await _feedback(visitor, alert_id, community, community_text)
    except FeedbackRefused as refused:
        return back_to(back, Flash("refused", "acknowledged", refused.reason))
    return await act(
        visitor,
        Action.ACKNOWLEDGE,
        "acknowledged",
        lambda: commands.acknowledge(sessions, alert_id, person, message),
        back,
    )


@router.post("/alerts/{alert_id}/resolve")
async def resolve(
    alert_id: UUID,
    visitor: Poster,
    *,
    note: Note = "",
    back: Next = "",
    community: Choice = "",
    community_text: Typed = "",
) -> RedirectResponse:
    """Resolve, with an optional closing note and the chosen feedback, if any."""
    sessions, person = visitor.context.sessions, visitor.person
    back = back or f"/alerts/{alert_id}"
    try:
        message = await _feedback(visitor, alert_id, community, community_text)
    except FeedbackRefused as refused:
        return back_to(back, Flash("refused", "resolved", refused.reason))
    return await act(
        visitor,
        Action.RESOLVE,
        "resolved",
        lambda: commands.resolve(sessions, alert_id, person, note.strip(), message),
        back,
    )


@router.post("/alerts/{alert_id}/notes")
async def add_note(alert_id: UUID, visitor: Poster, note: Note = "") -> RedirectResponse:
    """Add a note to the alert's timeline."""
    back = f"/alerts/{alert_id}"
    if not note.strip():
        return back_to(back, Flash("refused", "noted", "empty_note"))
    sessions, person = visitor.context.sessions, visitor.person
    return await act(
        visitor,
        Action.POST_MESSAGE,
        "noted",
        lambda: commands.add_note(sessions, alert_id, person, note.strip()),
        back,
    )


@router.post("/alerts/{alert_id}/release")
async def release(alert_id: UUID, visitor: Poster) -> RedirectResponse:
    """Release the alert to partners: their CAP feed carries it from now on."""
    sessions, person = visitor.context.sessions, visitor.person
    return await act(
        visitor,
        Action.RELEASE,
        "released",
        lambda: commands.release(sessions, alert_id, person),
        f"/alerts/{alert_id}",
    )
