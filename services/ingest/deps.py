"""Dependencies of the HTTP routes: the service context and the authenticated person."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.ingest.stream import StreamHub
from shared.auth import InvalidToken, subject_of
from shared.directory import Directory, Person
from shared.directory_store import DirectorySource


@dataclass(frozen=True)
class ApiContext:
    """What the routes need, set once the service has started."""

    directories: DirectorySource
    sessions: async_sessionmaker[AsyncSession]
    jwt_secret: str
    stream: StreamHub

    @property
    def directory(self) -> Directory:
        """The directory in force now (it follows ``coord directory load``)."""
        return self.directories.current


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
