"""Ingest's recommendation service: accept a recommendation, and stage the addressee's answers.

The checks here give the caller an immediate 404/403/409 from ingest's view;
the router checks again against its own state and is the authority.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID, uuid4

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.ingest.commands import stage_command
from services.ingest.recommendation_queries import may_see
from services.ingest.recommendation_schemas import RespondBody, SubmitRecommendationBody
from services.ingest.recommendation_tables import (
    RecommendationTimelineRecord,
    RecommendationViewRecord,
)
from services.ingest.tables import OUTBOX, AlertViewRecord
from shared.contracts import (
    RECOMMENDATION_ACKNOWLEDGE,
    RECOMMENDATION_RESPOND,
    RECOMMENDATION_SUBMITTED,
)
from shared.contracts.recommendations import (
    AcknowledgeRecommendationV1,
    RecommendationStatus,
    RecommendationSubmittedV1,
    RespondRecommendationV1,
    Response,
)
from shared.directory import Directory, Person
from shared.envelope import Classification, Envelope, utc_now
from shared.outbox import add_to_outbox

PRODUCER = "ingest"
Status = RecommendationStatus
_ANSWERED = frozenset({Status.DECLINED, Status.DONE})

Location = tuple[str, ...]


class InvalidRecommendation(ValueError):
    """The request names things ingest does not know; ``problems`` are (location, message)."""

    def __init__(self, problems: list[tuple[Location, str]]) -> None:
        super().__init__("; ".join(message for _, message in problems))
        self.problems = problems


class RecommendationNotFound(LookupError):
    """No such recommendation, or not one the caller may see."""


class NotAllowed(PermissionError):
    """The caller sees the recommendation but is not an addressee."""


class WrongState(ValueError):
    """The recommendation's state does not allow this (yet, or any more)."""


async def _problems(
    session: AsyncSession, directory: Directory, body: SubmitRecommendationBody
) -> list[tuple[Location, str]]:
    problems: list[tuple[Location, str]] = []
    addressee = body.addressee
    if addressee.role is not None:
        roles = sorted({role for p in directory.people for role in p.roles})
        if addressee.role not in roles:
            problems.append(
                (
                    ("addressee", "role"),
                    f"unknown role {addressee.role!r}; known roles: {', '.join(roles)}",
                )
            )
    if addressee.person is not None and directory.person(addressee.person) is None:
        problems.append((("addressee", "person"), f"unknown person {addressee.person!r}"))
    if body.sector not in directory.sectors:
        problems.append(
            (
                ("sector",),
                f"unknown sector {body.sector!r}; known sectors: {', '.join(directory.sectors)}",
            )
        )
    if body.alert_id is not None and await session.get(AlertViewRecord, str(body.alert_id)) is None:
        problems.append((("alert_id",), f"unknown alert {body.alert_id}"))
    return problems


async def submit(
    sessions: async_sessionmaker[AsyncSession],
    directory: Directory,
    author: Person,
    body: SubmitRecommendationBody,
) -> UUID:
    """Accept a recommendation: its view, history and ``recommendation.submitted``, at once."""
    async with sessions() as session, session.begin():
        problems = await _problems(session, directory, body)
        if problems:
            raise InvalidRecommendation(problems)
        now = utc_now()
        recommendation_id = uuid4()
        submitted = RecommendationSubmittedV1(
            recommendation_id=recommendation_id, author=author.id, **body.model_dump()
        )
        envelope = Envelope(
            type=RECOMMENDATION_SUBMITTED,
            producer=PRODUCER,
            actor=author.id,
            correlation_id=recommendation_id,
            classification=body.classification,
            occurred_at=now,
            payload=submitted.model_dump(mode="json"),
        )
        session.add(_new_view(submitted, now))
        session.add(
            RecommendationTimelineRecord(
                event_id=str(envelope.id),
                recommendation_id=str(recommendation_id),
                type=RECOMMENDATION_SUBMITTED,
                occurred_at=now,
                actor=author.id,
                detail={},
            )
        )
        await add_to_outbox(session, OUTBOX, envelope)
    return recommendation_id


def _new_view(submitted: RecommendationSubmittedV1, now: datetime) -> RecommendationViewRecord:
    return RecommendationViewRecord(
        recommendation_id=str(submitted.recommendation_id),
        author=submitted.author,
        addressee=submitted.addressee.model_dump(mode="json", exclude_none=True),
        sector=submitted.sector,
        action=submitted.action,
        rationale=submitted.rationale,
        due_by=submitted.due_by,
        alert_id=str(submitted.alert_id) if submitted.alert_id else None,
        classification=submitted.classification.value,
        submitted_at=now,
        status=Status.SUBMITTED.value,
        addressees=[],
        addressee_component=None,
        escalated_to=[],
        version=0,
    )


def _refuse_unanswerable(status: Status) -> None:
    if status is Status.SUBMITTED:
        raise WrongState("the recommendation is not issued yet; try again in a moment")
    if status is Status.UNDELIVERABLE:
        raise WrongState("the recommendation is undeliverable: nobody can answer it")
    if status in _ANSWERED:
        raise WrongState(f"the recommendation was already answered: {status.value}")


def check_acknowledge(view: RecommendationViewRecord) -> None:
    """Raise unless the recommendation can be acknowledged now (the caller is an addressee)."""
    status = Status(view.status)
    _refuse_unanswerable(status)
    if status is not Status.ISSUED:
        raise WrongState(f"the recommendation was already acknowledged by {view.acknowledged_by}")


def check_respond(view: RecommendationViewRecord, response: Response) -> None:
    """Raise unless ``response`` can be given now (the caller is an addressee)."""
    status = Status(view.status)
    _refuse_unanswerable(status)
    if status is Status.ISSUED:
        raise WrongState("acknowledge the recommendation before responding")
    if status is Status.ACCEPTED and response is not Response.DONE:
        raise WrongState("the recommendation was already accepted: the only answer left is done")


async def _request(
    sessions: async_sessionmaker[AsyncSession],
    recommendation_id: UUID,
    person: Person,
    check: Callable[[RecommendationViewRecord], None],
    *,
    type_: str,
    command: BaseModel,
) -> None:
    """Check the request against the view, then stage the command, in one transaction."""
    async with sessions() as session, session.begin():
        view = await session.get(RecommendationViewRecord, str(recommendation_id))
        if view is None or not may_see(view, person):
            raise RecommendationNotFound(f"no recommendation {recommendation_id}")
        if person.id not in view.addressees:
            raise NotAllowed(f"{person.id} is not an addressee of this recommendation")
        check(view)
        await stage_command(
            session,
            type_,
            command,
            actor=person.id,
            correlation_id=recommendation_id,
            classification=Classification(view.classification),
        )


async def acknowledge(
    sessions: async_sessionmaker[AsyncSession], recommendation_id: UUID, person: Person
) -> None:
    """Request the acknowledgement of a recommendation by ``person``."""
    command = AcknowledgeRecommendationV1(recommendation_id=recommendation_id, person_id=person.id)
    await _request(
        sessions,
        recommendation_id,
        person,
        check_acknowledge,
        type_=RECOMMENDATION_ACKNOWLEDGE,
        command=command,
    )


async def respond(
    sessions: async_sessionmaker[AsyncSession],
    recommendation_id: UUID,
    person: Person,
    body: RespondBody,
) -> None:
    """Request ``person``'s answer: accepted, declined (with a reason) or done."""
    command = RespondRecommendationV1(
        recommendation_id=recommendation_id,
        person_id=person.id,
        response=body.response,
        reason=body.reason,
    )
    await _request(
        sessions,
        recommendation_id,
        person,
        lambda view: check_respond(view, body.response),
        type_=RECOMMENDATION_RESPOND,
        command=command,
    )
