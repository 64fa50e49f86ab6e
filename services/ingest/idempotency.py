"""``Idempotency-Key`` for every POST that creates something: alerts, messages, recommendations.

A key is one person's, whatever it created: the first request with it creates the
object and records the key in the same transaction; the same request again (same
kind, same canonical body) answers with that object and writes nothing; anything
else with the key is refused (``IdempotencyKeyReused``).

The request is kept as a keyed digest only (``SourceKeyRing.digest``), for every kind:
an alert's body holds its source, and a message's or a recommendation's free text may
name the same people; a plain hash would let whoever reads this table test a guess.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from fastapi import Header, HTTPException, status
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.ingest.tables import IdempotencyKeyRecord
from shared.envelope import utc_now
from shared.source_protection import SourceKeyRing

#: The header of a creating POST; a retry with the same key and body is answered 200.
IdempotencyKey = Annotated[
    str | None,
    Header(
        min_length=1,
        max_length=200,
        description="Makes a retry safe: the same key with the same body answers 200 with "
        "the object the first request created; with another body, 422",
    ),
]

#: The answers a route taking ``IdempotencyKey`` documents (besides its own).
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "Replay of an earlier request with the same Idempotency-Key"},
}
REUSED = "Idempotency-Key was already used with a different request"


class Kind(StrEnum):
    """What a key created."""

    ALERT = "alert"
    MESSAGE = "message"
    RECOMMENDATION = "recommendation"


class IdempotencyKeyReused(ValueError):
    """The key was used before with a different request (another body, or another kind)."""


def reused(error: IdempotencyKeyReused) -> HTTPException:
    """The route's answer to a reused key: 422 naming the header."""
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error))


@dataclass(frozen=True)
class Keyed:
    """A creating request: who, with which key (if any), of what kind, and its body."""

    kind: Kind
    person_id: str
    key: str | None
    body: BaseModel

    def canonical(self) -> bytes:
        """The body as the model has it: field order and spacing do not matter."""
        return self.body.model_dump_json().encode()


@dataclass(frozen=True)
class Created:
    """The object a request created; ``created`` is False for a replay."""

    id: UUID
    created: bool


Create = Callable[[AsyncSession], Awaitable[UUID]]


async def create_once(
    sessions: async_sessionmaker[AsyncSession],
    request: Keyed,
    keys: SourceKeyRing,
    create: Create,
) -> Created:
    """Run ``create`` in a transaction, at most once per (person, key); the object's id.

    ``create`` writes the object on the session it is given and returns its id; an
    exception from it writes nothing. Without a key every call creates.
    """
    try:
        return await _once(sessions, request, keys, create)
    except IntegrityError:
        if request.key is None:
            raise
        # A concurrent request with the same key won the race: answer with its object.
        return await _once(sessions, request, keys, create)


async def _once(
    sessions: async_sessionmaker[AsyncSession],
    request: Keyed,
    keys: SourceKeyRing,
    create: Create,
) -> Created:
    body = request.canonical()
    async with sessions() as session, session.begin():
        if request.key is not None:
            earlier = await session.get(IdempotencyKeyRecord, (request.person_id, request.key))
            if earlier is not None:
                if earlier.kind != request.kind or earlier.request_hash not in keys.digests(body):
                    raise IdempotencyKeyReused(REUSED)
                return Created(UUID(earlier.subject_id), created=False)
        subject_id = await create(session)
        if request.key is not None:
            session.add(
                IdempotencyKeyRecord(
                    person_id=request.person_id,
                    key=request.key,
                    kind=request.kind.value,
                    request_hash=keys.digest(body),
                    subject_id=str(subject_id),
                    created_at=utc_now(),
                )
            )
    return Created(subject_id, created=True)
