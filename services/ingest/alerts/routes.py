"""The public HTTP API v1 of alerts: thin routes over the alert services."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, HTTPException, Query, Response, status
from fastapi.responses import JSONResponse

from services.ingest import command_staging as commands
from services.ingest import idempotency
from services.ingest.alerts import queries
from services.ingest.alerts import service as alerts
from services.ingest.alerts.cap_export import alert_message
from services.ingest.alerts.schemas import (
    AcknowledgeBody,
    AlertPage,
    AlertView,
    NoteBody,
    ResolveBody,
)
from services.ingest.answers import answer, command_responses
from services.ingest.caller import AuthenticatedRoute
from services.ingest.cap.negotiation import prefers_cap
from services.ingest.cap.schema import MEDIA_TYPE as CAP_MEDIA_TYPE
from services.ingest.deps import (
    ApiContext,
    Context,
    MayAcknowledge,
    MayPostMessage,
    MayRaiseAlert,
    MayRead,
    MayRelease,
    MayResolve,
)
from shared.contracts.alerts import Category, Component, RaiseAlertV1, Severity
from shared.directory import Person
from shared.envelope import Moment

router = APIRouter(prefix="/v1", tags=["alerts"], route_class=AuthenticatedRoute)


@router.post(
    "/alerts",
    status_code=status.HTTP_201_CREATED,
    response_model=AlertView,
    responses={
        **idempotency.RESPONSES,
        401: {"description": "Missing or invalid bearer token"},
        413: {"description": "Body larger than the limit"},
        422: {"description": "Invalid alert, or Idempotency-Key reused with another body"},
    },
)
async def raise_alert(
    body: RaiseAlertV1,
    person: MayRaiseAlert,
    context: Context,
    response: Response,
    idempotency_key: idempotency.IdempotencyKey = None,
) -> AlertView:
    """Raise a protection alert; it is routed to the people responsible."""
    try:
        accepted = await alerts.raise_alert(
            context.sessions,
            context.directory,
            person.id,
            body,
            idempotency_key,
            keys=context.source_keys,
        )
    except idempotency.IdempotencyKeyReused as error:
        raise idempotency.reused(error) from None
    if not accepted.created:
        response.status_code = status.HTTP_200_OK
    if accepted.view is not None:
        return accepted.view  # as written: no read back (docs/performance.md)
    async with context.sessions() as session:  # a replay: the alert as it is now
        view = await queries.get_alert(session, accepted.id)
    if view is None:  # pragma: no cover - the view is written with the alert
        raise HTTPException(status.HTTP_500_INTERNAL_SERVER_ERROR, "alert view missing")
    return view


# Before "/alerts/{alert_id}", whose UUID would refuse "<id>.cap" with a 422.
@router.get(
    "/alerts/{alert_id}.cap",
    response_class=Response,
    responses={
        404: {"description": "No such alert, or none the caller may see"},
        200: {"content": {CAP_MEDIA_TYPE: {}}, "description": "A CAP 1.2 message"},
    },
)
async def get_alert_as_cap(alert_id: UUID, person: MayRead, context: Context) -> Response:
    """The alert as a CAP 1.2 message (docs/cap.md); need-to-know as for its JSON."""
    return _cap_response(await _visible_view(context, alert_id, person), context)


@router.get(
    "/alerts/{alert_id}",
    response_model=AlertView,
    responses={
        404: {"description": "No such alert, or none the caller may see"},
        200: {
            "content": {
                "application/json": {"example": AlertView.example()},
                CAP_MEDIA_TYPE: {},
            },
            "description": "The alert; as CAP 1.2 with Accept: application/cap+xml",
        },
    },
)
async def get_alert(
    alert_id: UUID,
    person: MayRead,
    context: Context,
    accept: Annotated[str, Header()] = "",
) -> AlertView | Response:
    """An alert with its status, who was notified, and its timeline (need-to-know: else 404).

    With ``Accept: application/cap+xml``, the same alert as a CAP 1.2 message.
    """
    view = await _visible_view(context, alert_id, person)
    return _cap_response(view, context) if prefers_cap(accept) else view


def _cap_response(view: AlertView, context: ApiContext) -> Response:
    return Response(
        alert_message(view, context.cap),
        media_type=CAP_MEDIA_TYPE,
        headers={"Vary": "Accept"},
    )


async def _visible_view(context: Context, alert_id: UUID, person: Person) -> AlertView:
    async with context.sessions() as session:
        view = await queries.get_alert(session, alert_id, person)
    if view is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alert {alert_id}")
    return view


async def _command(
    context: Context, alert_id: UUID, person: Person, staged: Awaitable[UUID]
) -> AlertView | JSONResponse:
    return await answer(
        context,
        staged,
        location=f"/v1/alerts/{alert_id}",
        read=lambda: _visible_view(context, alert_id, person),
    )


@router.post(
    "/alerts/{alert_id}/acknowledge",
    response_model=AlertView,
    responses=command_responses("alert"),
)
async def acknowledge_alert(
    alert_id: UUID,
    person: MayAcknowledge,
    context: Context,
    body: AcknowledgeBody | None = None,
) -> AlertView | JSONResponse:
    """Acknowledge: stops escalation (on a quorum level, once every component has).

    Answers with the router's verdict: the alert as it is after the acknowledgement.
    """
    message = body.community_message if body else None
    staged = commands.acknowledge(context.sessions, alert_id, person, message)
    return await _command(context, alert_id, person, staged)


@router.post(
    "/alerts/{alert_id}/resolve",
    response_model=AlertView,
    responses=command_responses("alert"),
)
async def resolve_alert(
    alert_id: UUID,
    person: MayResolve,
    context: Context,
    body: ResolveBody | None = None,
) -> AlertView | JSONResponse:
    """Resolve: final; escalation stops and everyone paged is told."""
    note, message = (body.note, body.community_message) if body else ("", None)
    staged = commands.resolve(context.sessions, alert_id, person, note, message)
    return await _command(context, alert_id, person, staged)


@router.post(
    "/alerts/{alert_id}/notes",
    response_model=AlertView,
    responses=command_responses("alert"),
)
async def add_note(
    alert_id: UUID, body: NoteBody, person: MayPostMessage, context: Context
) -> AlertView | JSONResponse:
    """Add a note to the alert's timeline."""
    return await _command(
        context, alert_id, person, commands.add_note(context.sessions, alert_id, person, body.text)
    )


@router.post(
    "/alerts/{alert_id}/release",
    response_model=AlertView,
    responses=command_responses("alert"),
)
async def release_alert(
    alert_id: UUID, person: MayRelease, context: Context
) -> AlertView | JSONResponse:
    """Release to partners: an UNCLASSIFIED alert goes on their CAP feed (docs/cap.md).

    On the log as ``alert.released``; releasing again changes nothing.
    """
    staged = commands.release(context.sessions, alert_id, person)
    return await _command(context, alert_id, person, staged)


@router.get("/alerts", response_model=AlertPage)
async def list_alerts(
    context: Context,
    person: MayRead,
    *,
    status_: Annotated[
        str | None,
        Query(alias="status", pattern="^(raised|triggered|acknowledged|resolved|merged)$"),
    ] = None,
    sector: Annotated[str | None, Query(max_length=100)] = None,
    category: Category | None = None,
    severity: Severity | None = None,
    origin: Component | None = None,
    since: Moment | None = None,
    mine: Annotated[
        bool, Query(description="Only alerts that page or may page the caller")
    ] = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> AlertPage:
    """Alerts the caller may see, newest first, filtered; follow ``next_cursor`` for more."""
    where = queries.AlertFilter(
        status=status_,
        sector=sector,
        category=category.value if category else None,
        severity=severity.value if severity else None,
        origin=origin.value if origin else None,
        since=since,
        concerning=person.id if mine else None,
    )
    async with context.sessions() as session:
        return await queries.list_alerts(session, person, where, limit, cursor)
