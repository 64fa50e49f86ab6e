"""Ingest's recommendation service: accept a recommendation, and stage the addressee's answers.

A submission is checked here against the directory, the author's clearance and
need-to-know (an immediate 422, before anything is written); the answers are staged
for the router, whose verdict the route gives the caller.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.ingest.alerts.queries import audience_of
from services.ingest.alerts.tables import AlertViewRecord
from services.ingest.command_staging import stage_on
from services.ingest.errors import InvalidRequest, Location
from services.ingest.idempotency import Created, Keyed, Kind, create_once
from services.ingest.recommendations.schemas import RespondBody, SubmitRecommendationBody
from services.ingest.recommendations.tables import (
    RecommendationTimelineRecord,
    RecommendationViewRecord,
)
from services.ingest.tables import OUTBOX
from shared.addressing import cleared_for
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
)
from shared.directory import Directory, Person
from shared.envelope import Envelope, utc_now
from shared.outbox import add_to_outbox
from shared.permissions import may_see_alert
from shared.source_protection import SourceKeyRing

PRODUCER = "ingest"
Status = RecommendationStatus


class InvalidRecommendation(InvalidRequest):
    """The request names things ingest does not know; ``problems`` are (location, message)."""


async def _problems(
    session: AsyncSession, directory: Directory, author: Person, body: SubmitRecommendationBody
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
    if body.alert_id is not None and not await _may_link(session, author, body.alert_id):
        problems.append((("alert_id",), f"unknown alert {body.alert_id}"))
    if not cleared_for(author, body.classification):
        # The author could not read it back: refused, as a message or an alert would be.
        problems.append(
            (
                ("classification",),
                f"{body.classification.value} is above your own clearance "
                f"({author.clearance.value})",
            )
        )
    return problems


async def _may_link(session: AsyncSession, author: Person, alert_id: UUID) -> bool:
    """Need-to-know: only an alert the author may see; any other is as unknown as no alert."""
    view = await session.get(AlertViewRecord, str(alert_id))
    return view is not None and may_see_alert(author, audience_of(view))


async def submit(
    sessions: async_sessionmaker[AsyncSession],
    directory: Directory,
    author: Person,
    body: SubmitRecommendationBody,
    idempotency_key: str | None = None,
    *,
    keys: SourceKeyRing,
) -> Created:
    """Accept a recommendation: its view, history and ``recommendation.submitted``, at once.

    Raises ``InvalidRecommendation`` naming every problem; then nothing is written. With
    an ``idempotency_key`` the same request again answers with the first recommendation
    (``created`` False), another request ``IdempotencyKeyReused``.
    """

    async def create(session: AsyncSession) -> UUID:
        return await _write(session, directory, author, body)

    keyed = Keyed(Kind.RECOMMENDATION, author.id, idempotency_key, body)
    return await create_once(sessions, keyed, keys, create)


async def _write(
    session: AsyncSession, directory: Directory, author: Person, body: SubmitRecommendationBody
) -> UUID:
    problems = await _problems(session, directory, author, body)
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


async def _request(
    sessions: async_sessionmaker[AsyncSession],
    recommendation_id: UUID,
    person: Person,
    type_: str,
    command: BaseModel,
) -> UUID:
    # Its state (issued yet? acknowledged?) and its addressees are the router's to
    # judge: the view may be a hop behind the answer given a moment ago.
    return await stage_on(
        sessions,
        RecommendationViewRecord,
        recommendation_id,
        person,
        type_=type_,
        command=command,
        missing=f"no recommendation {recommendation_id}",
    )


async def acknowledge(
    sessions: async_sessionmaker[AsyncSession], recommendation_id: UUID, person: Person
) -> UUID:
    """Request the acknowledgement of a recommendation by ``person``; the command's id."""
    command = AcknowledgeRecommendationV1(recommendation_id=recommendation_id, person_id=person.id)
    return await _request(sessions, recommendation_id, person, RECOMMENDATION_ACKNOWLEDGE, command)


async def respond(
    sessions: async_sessionmaker[AsyncSession],
    recommendation_id: UUID,
    person: Person,
    body: RespondBody,
) -> UUID:
    """Request ``person``'s answer: accepted, declined (with a reason) or done."""
    command = RespondRecommendationV1(
        recommendation_id=recommendation_id,
        person_id=person.id,
        response=body.response,
        reason=body.reason,
    )
    return await _request(sessions, recommendation_id, person, RECOMMENDATION_RESPOND, command)
