"""The router's recommendation service: issue, acknowledge, respond, escalate when overdue.

The rules are in ``recommendation_rules``; this module loads and stores the
row, stages the events and decides who is told: the addressees when it is
issued, the author when it is answered, and - unanswered at the due time - the
author's and the addressees' superiors (the JOC when there are none).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.router.authority import NotYetKnown, Verdict, recommendation_refusal
from services.router.notices import SubjectEvents
from services.router.recommendations import rules
from services.router.recommendations.tables import RecommendationRecord
from services.router.tables import claim_due, stage
from shared.addressing import cleared_for, recommendation_addressees, superiors_of
from shared.contracts import (
    RECOMMENDATION_ACKNOWLEDGE,
    RECOMMENDATION_ACKNOWLEDGED,
    RECOMMENDATION_COMMAND_REJECTED,
    RECOMMENDATION_ESCALATED,
    RECOMMENDATION_ISSUED,
    RECOMMENDATION_RESPOND,
    RECOMMENDATION_RESPONDED,
    RECOMMENDATION_STATE_CHANGED,
    RECOMMENDATION_UNDELIVERABLE,
)
from shared.contracts.commands import Refusal
from shared.contracts.notifications import NotificationKind, SubjectType
from shared.contracts.recommendations import (
    AcknowledgeRecommendationV1,
    RecommendationAcknowledgedV1,
    RecommendationCommandRejectedV1,
    RecommendationEscalatedV1,
    RecommendationIssuedV1,
    RecommendationRespondedV1,
    RecommendationStateV1,
    RecommendationStatus,
    RecommendationSubmittedV1,
    RecommendationUndeliverableV1,
    RespondRecommendationV1,
)
from shared.directory import Directory
from shared.envelope import Classification, Envelope, utc_now
from shared.event_log import append as append_to_log
from shared.state_rows import state_from, take_state

log = structlog.get_logger(__name__)


def _events(
    record: RecommendationRecord, cause: Envelope | None, actor: str = "router"
) -> SubjectEvents:
    return SubjectEvents(
        subject_type=SubjectType.RECOMMENDATION,
        subject_id=UUID(record.recommendation_id),
        correlation_id=UUID(record.recommendation_id),
        classification=Classification(record.classification),
        cause=cause,
        actor=actor,
    )


def state_of(record: RecommendationRecord) -> rules.RecommendationState:
    """The rules' view of the row."""
    return state_from(rules.RecommendationState, record)


def _store(record: RecommendationRecord, state: rules.RecommendationState) -> None:
    take_state(record, state)
    unanswered = state.status in {RecommendationStatus.ISSUED, RecommendationStatus.ACKNOWLEDGED}
    record.timer_due_at = record.due_by if unanswered and state.escalated_at is None else None
    record.version += 1


def _state_event(record: RecommendationRecord, events: SubjectEvents) -> Envelope:
    state = state_from(RecommendationStateV1, record)
    return events.make(RECOMMENDATION_STATE_CHANGED, state)


def live_state(record: RecommendationRecord) -> dict[str, Any]:
    """The row as the payload of its state event (what a replay of the log must rebuild)."""
    return _state_event(record, _events(record, None)).payload


def summary(record: RecommendationRecord) -> dict[str, object]:
    """What a notification shows about a recommendation (its rationale stays in coord)."""
    return {
        "title": record.action[:200],
        "author": record.author,
        "sector": record.sector,
        "due_by": record.due_by.isoformat(),
        "classification": record.classification,
        "alert_id": record.alert_id,
    }


async def issue(session: AsyncSession, directory: Directory, submitted: Envelope) -> None:
    """Apply ``recommendation.submitted``: resolve the addressee and tell them."""
    request = RecommendationSubmittedV1.model_validate(submitted.payload)
    people = recommendation_addressees(directory, request.addressee, request.sector)
    cleared = [p for p in people if cleared_for(p, request.classification)]
    record = RecommendationRecord(
        recommendation_id=str(request.recommendation_id),
        author=request.author,
        sector=request.sector,
        classification=request.classification.value,
        action=request.action,
        alert_id=str(request.alert_id) if request.alert_id else None,
        due_by=request.due_by,
        submitted_at=submitted.occurred_at,
        status=(
            RecommendationStatus.ISSUED if cleared else RecommendationStatus.UNDELIVERABLE
        ).value,
        addressees=[p.id for p in cleared],
        addressee_component=cleared[0].component if cleared else None,
        escalated_to=[],
        timer_due_at=request.due_by if cleared else None,
        version=1,
    )
    session.add(record)
    events = _events(record, submitted)
    produced: list[Envelope] = []
    if cleared:
        issued = RecommendationIssuedV1(
            recommendation_id=request.recommendation_id,
            addressees=record.addressees,
            addressee_component=record.addressee_component,
            due_by=request.due_by,
        )
        produced.append(events.make(RECOMMENDATION_ISSUED, issued))
        produced += events.tell(
            directory,
            record.addressees,
            NotificationKind.RECOMMENDATION,
            summary(record),
            f"From {record.author}: acknowledge, then accept, decline or mark done",
        )
    else:
        who = request.addressee.role or request.addressee.person
        reason = (
            f"nobody cleared for {request.classification.value} holds {who} in {request.sector}"
            if people
            else f"nobody is {who} in {request.sector}"
        )
        gone = RecommendationUndeliverableV1(
            recommendation_id=request.recommendation_id, reason=reason
        )
        produced.append(events.make(RECOMMENDATION_UNDELIVERABLE, gone))
        line = f"Recommendation not delivered: {reason}"
        produced += events.tell(
            directory,
            [record.author],
            NotificationKind.RECOMMENDATION_ANSWERED,
            summary(record),
            line,
        )
        produced += events.tell_joc(directory, record.sector, summary(record), line)
    produced.append(_state_event(record, events))
    await append_to_log(session, (submitted,))  # the recommendation as written, before its effects
    await stage(session, produced)


async def _locked(session: AsyncSession, recommendation_id: UUID) -> RecommendationRecord:
    record = await session.get(RecommendationRecord, str(recommendation_id), with_for_update=True)
    if record is None:
        log.info("command.recommendation_not_yet_known", recommendation_id=str(recommendation_id))
        raise NotYetKnown(f"recommendation {recommendation_id} is not issued yet")
    return record


def _refusal(directory: Directory, record: RecommendationRecord, person_id: str) -> Verdict:
    return recommendation_refusal(
        directory.person(person_id),
        record.recommendation_id,
        author=record.author,
        addressees=list(record.addressees),
        classification=Classification(record.classification),
    )


async def _reject(
    session: AsyncSession, events: SubjectEvents, command: str, refused: tuple[Refusal, str]
) -> None:
    refusal, reason = refused
    rejection = RecommendationCommandRejectedV1(
        recommendation_id=events.subject_id,
        command=command,
        person_id=events.actor,
        reason=reason,
        refusal=refusal,
    )
    await stage(session, [events.make(RECOMMENDATION_COMMAND_REJECTED, rejection)])


async def _apply(  # noqa: PLR0917 - private; every argument is needed
    session: AsyncSession,
    directory: Directory,
    record: RecommendationRecord,
    decision: rules.Decision,
    events: SubjectEvents,
    command: str,
    event: Envelope,
) -> None:
    if decision.rejected is not None:
        await _reject(session, events, command, (Refusal.WRONG_STATE, decision.rejected))
        return
    _store(record, decision.state)
    line = f"{events.actor}: {decision.state.status.value}"
    if decision.state.reason and decision.state.status is RecommendationStatus.DECLINED:
        line += f" - {decision.state.reason}"
    produced = [event]
    produced += events.tell(
        directory,
        [record.author],
        NotificationKind.RECOMMENDATION_ANSWERED,
        summary(record),
        line,
    )
    produced.append(_state_event(record, events))
    await stage(session, produced)


async def acknowledge(session: AsyncSession, directory: Directory, command: Envelope) -> None:
    """Apply ``recommendation.acknowledge``; the author is told."""
    ack = AcknowledgeRecommendationV1.model_validate(command.payload)
    record = await _locked(session, ack.recommendation_id)
    events = _events(record, command, actor=ack.person_id)
    refused = _refusal(directory, record, ack.person_id)
    if refused is not None:
        await _reject(session, events, RECOMMENDATION_ACKNOWLEDGE, refused)
        return
    decision = rules.acknowledge(state_of(record), ack.person_id, utc_now())
    acknowledged = RecommendationAcknowledgedV1(
        recommendation_id=ack.recommendation_id, person_id=ack.person_id, in_time=decision.in_time
    )
    await _apply(
        session,
        directory,
        record,
        decision,
        events,
        RECOMMENDATION_ACKNOWLEDGE,
        events.make(RECOMMENDATION_ACKNOWLEDGED, acknowledged),
    )


async def respond(session: AsyncSession, directory: Directory, command: Envelope) -> None:
    """Apply ``recommendation.respond``; the author is told, with the reason of a decline."""
    answer = RespondRecommendationV1.model_validate(command.payload)
    record = await _locked(session, answer.recommendation_id)
    events = _events(record, command, actor=answer.person_id)
    refused = _refusal(directory, record, answer.person_id)
    if refused is not None:
        await _reject(session, events, RECOMMENDATION_RESPOND, refused)
        return
    decision = rules.respond(
        state_of(record), answer.person_id, answer.response, answer.reason, utc_now()
    )
    responded = RecommendationRespondedV1(
        recommendation_id=answer.recommendation_id,
        person_id=answer.person_id,
        response=answer.response,
        reason=answer.reason,
        in_time=decision.in_time,
    )
    await _apply(
        session,
        directory,
        record,
        decision,
        events,
        RECOMMENDATION_RESPOND,
        events.make(RECOMMENDATION_RESPONDED, responded),
    )


def overdue_recipients(directory: Directory, record: RecommendationRecord) -> list[str]:
    """The author's superior (next senior of their chain) and each addressee's superior."""
    classification = Classification(record.classification)
    people = [directory.person(record.author), *map(directory.person, record.addressees)]
    found: dict[str, None] = {}
    for person in people:
        if person is not None:
            for superior in superiors_of(directory, person, classification):
                found.setdefault(superior.id)
    return list(found)


def escalate(
    record: RecommendationRecord, directory: Directory, now: datetime, events: SubjectEvents
) -> list[Envelope]:
    """The due time passed unanswered: tell the superiors (or the JOC), once."""
    decision = rules.on_due(state_of(record), now)
    if not decision.changed:
        record.timer_due_at = None
        return []
    recipients = overdue_recipients(directory, record)
    record.escalated_to = recipients
    _store(record, decision.state)
    line = (
        f"Unanswered recommendation from {record.author} to {', '.join(record.addressees)}, "
        f"due {record.due_by:%Y-%m-%d %H:%M} UTC ({record.status})"
    )
    escalated = RecommendationEscalatedV1(recommendation_id=events.subject_id, to=recipients)
    produced = [events.make(RECOMMENDATION_ESCALATED, escalated)]
    if recipients:
        produced += events.tell(
            directory, recipients, NotificationKind.RECOMMENDATION_OVERDUE, summary(record), line
        )
    else:
        produced += events.tell_joc(
            directory, record.sector, summary(record), f"{line}; nobody above them to tell"
        )
    produced.append(_state_event(record, events))
    return produced


async def fire_due_recommendations(
    session: AsyncSession, directory: Directory, now: datetime, batch: int
) -> int:
    """Escalate every recommendation past its due time unanswered (up to ``batch``)."""
    records = await claim_due(
        session, RecommendationRecord, RecommendationRecord.timer_due_at, now, batch
    )
    for record in records:
        await stage(session, escalate(record, directory, now, _events(record, None)))
    return len(records)
