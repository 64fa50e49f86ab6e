"""Dependencies of the HTTP routes: the service context and the authenticated person."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import HTTPConnection

from services.ingest.cap.profile import CapProfile
from services.ingest.stream.hub import StreamHub
from services.ingest.verdicts import VerdictWaiters
from shared.auth import Authenticator, IdentityProviderUnavailable, InvalidToken, VerifiedToken
from shared.directory import Directory, Person
from shared.directory_store import DirectorySource
from shared.permissions import Action, allowed, refusal
from shared.source_protection import SourceKeyRing


@dataclass(frozen=True)
class ApiContext:
    """What the routes need, set once the service has started."""

    directories: DirectorySource
    sessions: async_sessionmaker[AsyncSession]
    authenticator: Authenticator  # bearer tokens: HS256 in development, OIDC in production
    stream: StreamHub
    source_keys: SourceKeyRing  # seals alert sources; opens them for cleared auditors
    verdicts: VerdictWaiters  # the router's verdicts on commands, waited for by the routes
    command_wait: float = 3.0  # seconds a command waits for its verdict (COORD_COMMAND_WAIT)
    cap: CapProfile = field(default_factory=CapProfile)  # the mission in CAP (COORD_CAP_*)

    @property
    def directory(self) -> Directory:
        """The directory in force now (it follows ``coord directory load``)."""
        return self.directories.current


async def context_of(request: Request) -> ApiContext:
    """The service context; 503 while the service is starting."""
    # async: FastAPI runs a plain ``def`` dependency on a worker thread, a thread hop on
    # every request for one attribute read.
    context: ApiContext | None = getattr(request.app.state, "api", None)
    if context is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "service is starting")
    return context


Context = Annotated[ApiContext, Depends(context_of)]


def unauthorized(reason: str) -> HTTPException:
    """A 401 naming ``reason``, asking for a bearer token."""
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, reason, headers={"WWW-Authenticate": "Bearer"}
    )


class BearerToken(HTTPBearer):
    """The request's ``Authorization: Bearer <token>``, declared in the OpenAPI document.

    Declared so that Swagger UI (``/docs``) offers "Authorize"; parsed here rather than by
    ``HTTPBearer`` so that a 401 says what is wrong with the header.
    """

    async def __call__(self, request: HTTPConnection) -> HTTPAuthorizationCredentials:
        """The scheme and the token; 401 naming the problem when there is none."""
        authorization = request.headers.get("Authorization")
        if not authorization:
            raise unauthorized("missing Authorization header with a bearer token")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorized("Authorization header must be 'Bearer <token>'")
        return HTTPAuthorizationCredentials(scheme=scheme, credentials=token.strip())


bearer_token = BearerToken(
    scheme_name="bearer",
    bearerFormat="JWT",
    description="A JWT whose `sub` is a person of the directory (development: `coord token ID`).",
)


async def verified_token(
    request: Request,
    context: Context,
    credentials: Annotated[HTTPAuthorizationCredentials, Security(bearer_token)],
) -> VerifiedToken:
    """The request's valid bearer token: its subject and expiry; 401 otherwise.

    Verified once per request: the route (``services.ingest.caller``) verifies it before
    the body is read and keeps it on the request's state.
    """
    known: VerifiedToken | None = getattr(request.state, "token", None)
    if known is not None:
        return known
    try:
        token = await context.authenticator.verify(credentials.credentials)
    except InvalidToken as error:
        raise unauthorized(str(error)) from None
    except IdentityProviderUnavailable:
        # Not the caller's fault: their token may be fine; they should retry.
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "the identity provider cannot be reached to check the token; try again shortly",
            headers={"Retry-After": "5"},
        ) from None
    request.state.token = token
    return token


Token = Annotated[VerifiedToken, Depends(verified_token)]


async def current_person(context: Context, token: Token) -> Person:
    """The directory person the bearer token speaks for; 401 otherwise."""
    person_id = token.subject
    person = context.directory.person(person_id)
    if person is None:
        raise unauthorized(f"token subject {person_id!r} is not a person of the directory")
    return person


CurrentPerson = Annotated[Person, Depends(current_person)]


def require(action: Action) -> Callable[[Person], Awaitable[Person]]:
    """A dependency: the authenticated person, when the permissions table lets them ``action``."""

    async def permitted(person: CurrentPerson) -> Person:  # async: no thread-pool hop
        if not allowed(person, action):
            raise HTTPException(status.HTTP_403_FORBIDDEN, refusal(person, action))
        return person

    return permitted


# The authenticated person, allowed by the permissions table to ... (403 otherwise).
MayRaiseAlert = Annotated[Person, Depends(require(Action.RAISE_ALERT))]
MayPostMessage = Annotated[Person, Depends(require(Action.POST_MESSAGE))]
MayAcknowledge = Annotated[Person, Depends(require(Action.ACKNOWLEDGE))]
MayResolve = Annotated[Person, Depends(require(Action.RESOLVE))]
MayRecommend = Annotated[Person, Depends(require(Action.RECOMMEND))]
MayRespond = Annotated[Person, Depends(require(Action.RESPOND))]
MayRead = Annotated[Person, Depends(require(Action.READ))]
MayReport = Annotated[Person, Depends(require(Action.REPORT))]
MayAudit = Annotated[Person, Depends(require(Action.AUDIT))]
MayRelease = Annotated[Person, Depends(require(Action.RELEASE))]
