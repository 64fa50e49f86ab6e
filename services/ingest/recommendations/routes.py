"""The public HTTP API v1 of recommendations.

Need-to-know: only the author and the addressees see a recommendation;
anyone else gets 404, as if it did not exist.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, Response, status
from fastapi.responses import JSONResponse

from services.ingest import idempotency
from services.ingest.answers import answer, command_responses
from services.ingest.caller import AuthenticatedRoute
from services.ingest.deps import (
    Context,
    MayAcknowledge,
    MayRead,
    MayRecommend,
    MayRespond,
)
from services.ingest.recommendations import queries as recommendation_queries
from services.ingest.recommendations import service as recommendations
from services.ingest.recommendations.schemas import (
    RecommendationPage,
    RecommendationView,
    RespondBody,
    SubmitRecommendationBody,
)
from shared.contracts.recommendations import RecommendationStatus
from shared.directory import Person
from shared.envelope import utc_now

router = APIRouter(prefix="/v1", tags=["recommendations"], route_class=AuthenticatedRoute)

_NOT_FOUND = "No such recommendation, or not one the caller may see"
_VIEW_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {"example": RecommendationView.example()}}},
    401: {"description": "Missing or invalid bearer token"},
    404: {"description": _NOT_FOUND},
}


async def _visible_view(
    context: Context, recommendation_id: UUID, person: Person
) -> RecommendationView:
    async with context.sessions() as session:
        view = await recommendation_queries.get_recommendation(
            session, recommendation_id, person, utc_now()
        )
    if view is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no recommendation {recommendation_id}")
    return view


@router.post(
    "/recommendations",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RecommendationView,
    responses={
        **idempotency.RESPONSES,
        401: {"description": "Missing or invalid bearer token"},
        413: {"description": "Body larger than the limit"},
        422: {
            "description": "Invalid recommendation: unknown role, person or sector, an alert_id "
            "not of an alert the author may see, classification above the author's clearance, "
            "due_by not in the future; or Idempotency-Key reused with another request"
        },
    },
)
async def submit_recommendation(
    body: SubmitRecommendationBody,
    person: MayRecommend,
    context: Context,
    response: Response,
    idempotency_key: idempotency.IdempotencyKey = None,
) -> RecommendationView:
    """Submit a recommendation; the router issues it to the addressee.

    Answers 202 with the recommendation: ``status`` is ``submitted`` and
    ``addressees`` empty until the router has issued it. A retry with the same
    ``Idempotency-Key`` and body answers 200 with that recommendation.
    """
    try:
        submitted = await recommendations.submit(
            context.sessions,
            context.directory,
            person,
            body,
            idempotency_key,
            keys=context.source_keys,
        )
    except idempotency.IdempotencyKeyReused as error:
        raise idempotency.reused(error) from None
    if not submitted.created:
        response.status_code = status.HTTP_200_OK
    response.headers["Location"] = f"/v1/recommendations/{submitted.id}"
    return await _visible_view(context, submitted.id, person)


@router.get("/recommendations", response_model=RecommendationPage)
async def list_recommendations(
    person: MayRead,
    context: Context,
    *,
    status_: Annotated[RecommendationStatus | None, Query(alias="status")] = None,
    sector: Annotated[str | None, Query(max_length=100)] = None,
    overdue: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> RecommendationPage:
    """Recommendations the caller wrote or was issued, newest first; follow ``next_cursor``."""
    where = recommendation_queries.RecommendationFilter(
        status=status_.value if status_ else None, sector=sector, overdue=overdue
    )
    async with context.sessions() as session:
        return await recommendation_queries.list_recommendations(
            session, person, where, limit, cursor, now=utc_now()
        )


@router.get(
    "/recommendations/{recommendation_id}",
    response_model=RecommendationView,
    responses=_VIEW_RESPONSES,
)
async def get_recommendation(
    recommendation_id: UUID, person: MayRead, context: Context
) -> RecommendationView:
    """A recommendation with its state and its history (oldest first)."""
    return await _visible_view(context, recommendation_id, person)


async def _command(
    context: Context, recommendation_id: UUID, person: Person, staged: Awaitable[UUID]
) -> RecommendationView | JSONResponse:
    return await answer(
        context,
        staged,
        location=f"/v1/recommendations/{recommendation_id}",
        read=lambda: _visible_view(context, recommendation_id, person),
    )


@router.post(
    "/recommendations/{recommendation_id}/acknowledge",
    response_model=RecommendationView,
    responses=command_responses("recommendation"),
)
async def acknowledge_recommendation(
    recommendation_id: UUID, person: MayAcknowledge, context: Context
) -> RecommendationView | JSONResponse:
    """Acknowledge (an addressee, once): the recommendation is seen and will be answered."""
    staged = recommendations.acknowledge(context.sessions, recommendation_id, person)
    return await _command(context, recommendation_id, person, staged)


@router.post(
    "/recommendations/{recommendation_id}/respond",
    response_model=RecommendationView,
    responses=command_responses("recommendation"),
)
async def respond_to_recommendation(
    recommendation_id: UUID, body: RespondBody, person: MayRespond, context: Context
) -> RecommendationView | JSONResponse:
    """Answer after acknowledging: accepted, declined (with a reason) or done."""
    staged = recommendations.respond(context.sessions, recommendation_id, person, body)
    return await _command(context, recommendation_id, person, staged)
