"""Recommendations on the board: to answer, authored, and answering one (a decline needs a reason).

Read with the API's queries, answered with the API's staging functions and its
``RespondBody`` (so a decline without a reason is refused by the same rule).
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from services.ingest.board.acting import act
from services.ingest.board.pages import render
from services.ingest.board.session import Poster, Reader, Visitor
from services.ingest.recommendations import queries
from services.ingest.recommendations import service as recommendations
from services.ingest.recommendations.schemas import RecommendationView, RespondBody
from shared.contracts.recommendations import RecommendationStatus, Response
from shared.envelope import utc_now
from shared.permissions import Action

router = APIRouter(include_in_schema=False)
LIST_SIZE = 100
_OPEN = (RecommendationStatus.ISSUED.value, RecommendationStatus.ACKNOWLEDGED.value)


@router.get("/recommendations", response_class=HTMLResponse)
async def recommendation_lists(request: Request, visitor: Reader) -> HTMLResponse:
    """What the reader has to answer (overdue first), and what they wrote."""
    async with visitor.context.sessions() as session:
        page = await queries.list_recommendations(
            session, visitor.person, queries.RecommendationFilter(), LIST_SIZE, None, now=utc_now()
        )
    mine = visitor.person.id
    to_answer = [r for r in page.items if r.author != mine and r.status in _OPEN]
    to_answer.sort(key=lambda r: (not r.overdue, r.due_by))
    answered = [r for r in page.items if r.author != mine and r.status not in _OPEN]
    authored = [r for r in page.items if r.author == mine]
    return render(
        request,
        "recommendations.html",
        visitor,
        to_answer=to_answer,
        answered=answered,
        authored=authored,
    )


def _page(
    request: Request,
    visitor: Visitor,
    view: RecommendationView,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    mine = visitor.person.id in view.addressees
    return render(
        request,
        "recommendation.html",
        visitor,
        status_code=status_code,
        rec=view,
        may_acknowledge=mine
        and view.status == RecommendationStatus.ISSUED
        and visitor.may(Action.ACKNOWLEDGE),
        may_respond=mine
        and view.status == RecommendationStatus.ACKNOWLEDGED
        and visitor.may(Action.RESPOND),
        responses=[r.value for r in Response],
        errors=errors or {},
        values=values or {},
    )


def _not_found(request: Request, visitor: Visitor) -> HTMLResponse:
    return render(request, "error.html", visitor, status_code=404, problem="no_recommendation")


async def _visible(visitor: Visitor, recommendation_id: UUID) -> RecommendationView | None:
    async with visitor.context.sessions() as session:
        return await queries.get_recommendation(
            session, recommendation_id, visitor.person, utc_now()
        )


@router.get("/recommendations/{recommendation_id}", response_class=HTMLResponse)
async def recommendation_page(
    recommendation_id: UUID, request: Request, visitor: Reader
) -> HTMLResponse:
    """One recommendation, its history, and the answer form for its addressee."""
    view = await _visible(visitor, recommendation_id)
    if view is None:
        return _not_found(request, visitor)
    return _page(request, visitor, view)


@router.post("/recommendations/{recommendation_id}/acknowledge")
async def acknowledge(recommendation_id: UUID, visitor: Poster) -> RedirectResponse:
    """Acknowledge: seen, and will be answered."""
    sessions, person = visitor.context.sessions, visitor.person
    return await act(
        visitor,
        Action.ACKNOWLEDGE,
        "acknowledged",
        lambda: recommendations.acknowledge(sessions, recommendation_id, person),
        f"/recommendations/{recommendation_id}",
    )


@router.post("/recommendations/{recommendation_id}/respond", response_model=None)
async def respond(
    recommendation_id: UUID,
    request: Request,
    visitor: Poster,
    response: Annotated[str, Form(max_length=20)] = "",
    reason: Annotated[str, Form(max_length=5000)] = "",
) -> HTMLResponse | RedirectResponse:
    """Answer: accepted, declined (a reason is required) or done."""
    try:
        body = RespondBody.model_validate({"response": response, "reason": reason.strip() or None})
    except ValidationError as error:
        view = await _visible(visitor, recommendation_id)
        if view is None:
            return render(
                request, "error.html", visitor, status_code=404, problem="no_recommendation"
            )
        errors = {str(e["loc"][0]) if e["loc"] else "response": e["type"] for e in error.errors()}
        return _page(
            request,
            visitor,
            view,
            errors=errors,
            values={"response": response, "reason": reason},
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    sessions, person = visitor.context.sessions, visitor.person
    return await act(
        visitor,
        Action.RESPOND,
        "answered",
        lambda: recommendations.respond(sessions, recommendation_id, person, body),
        f"/recommendations/{recommendation_id}",
    )
