"""The public HTTP API v1: thin routes over the alert service."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.ingest import alerts
from services.ingest.schemas import AlertView
from shared.auth import InvalidToken, subject_of
from shared.contracts.alerts import RaiseAlertV1
from shared.directory import Directory, Person


class ApiContext:
    """What the routes need, set once the service has started."""

    def __init__(
        self, directory: Directory, sessions: async_sessionmaker[AsyncSession], jwt_secret: str
    ) -> None:
        self.directory = directory
        self.sessions = sessions
        self.jwt_secret = jwt_secret


def _context(request: Request) -> ApiContext:
    context: ApiContext | None = getattr(request.app.state, "api", None)
    if context is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "service is starting")
    return context


Context = Annotated[ApiContext, Depends(_context)]


def _unauthorized(reason: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, reason, headers={"WWW-Authenticate": "Bearer"}
    )


def current_person(
    context: Context,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Person:
    """The directory person the bearer token speaks for; 401 otherwise."""
    if not authorization:
        raise _unauthorized("missing Authorization header with a bearer token")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("Authorization header must be 'Bearer <token>'")
    try:
        person_id = subject_of(token.strip(), context.jwt_secret)
    except InvalidToken as error:
        raise _unauthorized(str(error)) from None
    person = context.directory.person(person_id)
    if person is None:
        raise _unauthorized(f"token subject {person_id!r} is not a person of the directory")
    return person


CurrentPerson = Annotated[Person, Depends(current_person)]

router = APIRouter(prefix="/v1", tags=["alerts"])


@router.post(
    "/alerts",
    status_code=status.HTTP_201_CREATED,
    response_model=AlertView,
    responses={
        200: {"description": "Replay of an earlier request with the same Idempotency-Key"},
        401: {"description": "Missing or invalid bearer token"},
        413: {"description": "Body larger than the limit"},
        422: {"description": "Invalid alert, or Idempotency-Key reused with another body"},
    },
)
async def raise_alert(
    body: RaiseAlertV1,
    person: CurrentPerson,
    context: Context,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> AlertView:
    """Raise a protection alert; it is routed to the people responsible."""
    try:
        accepted = await alerts.raise_alert(
            context.sessions, context.directory, person.id, body, idempotency_key
        )
    except alerts.UnknownSector as error:
        raise RequestValidationError(
            [{"loc": ("body", "sector"), "msg": str(error), "type": "value_error"}]
        ) from None
    except alerts.IdempotencyKeyReused as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None
    if not accepted.created:
        response.status_code = status.HTTP_200_OK
    async with context.sessions() as session:
        view = await alerts.get_alert(session, accepted.alert_id)
    if view is None:  # pragma: no cover - the view is written with the alert
        raise HTTPException(status.HTTP_500_INTERNAL_SERVER_ERROR, "alert view missing")
    return view


@router.get(
    "/alerts/{alert_id}",
    response_model=AlertView,
    dependencies=[Depends(current_person)],
    responses={
        404: {"description": "No such alert"},
        200: {"content": {"application/json": {"example": AlertView.example()}}},
    },
)
async def get_alert(alert_id: UUID, context: Context) -> AlertView:
    """An alert with its status, who was notified, and its timeline."""
    async with context.sessions() as session:
        view = await alerts.get_alert(session, alert_id)
    if view is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alert {alert_id}")
    return view


def include_routes(app: FastAPI) -> None:
    """Mount the v1 API on ``app``."""
    app.include_router(router)
