"""Applying a transition of the escalation rules: state, events, notifications.

Everything a transition produces is written in the caller's transaction: the
alert row, the event log and the outbox, so no event exists without its state
change and none is lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from services.router.alerts.escalation import Page, Transition
from services.router.alerts.store import snapshot_from_json, store_state
from services.router.alerts.tables import AlertRecord
from services.router.notices import SubjectEvents
from services.router.tables import stage
from shared.addressing import cleared_for, contact_points, joc_operators
from shared.contracts import (
    ALERT_COMMAND_REJECTED,
    ALERT_STATE_CHANGED,
    ALERT_TARGET_UNREACHABLE,
    payload_model,
)
from shared.contracts.alerts import TargetUnreachableV1
from shared.contracts.commands import Refusal
from shared.contracts.escalation import AlertStateV1, CommandRejectedV1
from shared.contracts.notifications import AlertSummary, NotificationKind, SubjectType
from shared.directory import Directory, Person
from shared.envelope import Classification, Envelope
from shared.state_rows import state_from

PRODUCER = "router"

# Kinds told to the JOC duty officers rather than to the alert's targets.
_JOC_KINDS = {
    NotificationKind.ESCALATION_EXHAUSTED,
    NotificationKind.TARGET_UNREACHABLE,
    NotificationKind.UNROUTED,
}


class EventFactory:
    """Builds the router's envelopes for one alert, each caused by ``cause`` if given."""

    def __init__(self, record: AlertRecord, cause: Envelope | None, actor: str = PRODUCER) -> None:
        self.alert_id = UUID(record.alert_id)
        self.subject = SubjectEvents(
            subject_type=SubjectType.ALERT,
            subject_id=self.alert_id,
            correlation_id=self.alert_id,
            classification=Classification(record.summary.get("classification", "unclassified")),
            cause=cause,
            actor=actor,
        )

    def make(self, type_: str, fields: dict[str, Any]) -> Envelope:
        """An event of ``type_`` about this alert, validated against its contract."""
        payload = payload_model(type_, 1).model_validate({"alert_id": self.alert_id, **fields})
        return self.subject.make(type_, payload)


def state_event(record: AlertRecord, events: EventFactory) -> Envelope:
    """``alert.state_changed`` with the row's whole state, for the read side."""
    snapshot = snapshot_from_json(record.snapshot) if record.snapshot else None
    state = state_from(
        AlertStateV1,
        record,
        level=record.level if snapshot else None,
        next_escalation_at=record.timer_due_at if record.timer_kind == "escalate" else None,
        chain=snapshot.chain if snapshot else [],
        code=record.summary.get("code"),
    )
    return events.make(ALERT_STATE_CHANGED, state.model_dump(exclude={"alert_id"}))


def notifications(
    record: AlertRecord, directory: Directory, pages: tuple[Page, ...], events: EventFactory
) -> list[Envelope]:
    """``notification.requested`` per person and page; unreachable people are events."""
    produced: list[Envelope] = []
    summary = AlertSummary.model_validate(record.summary)
    shown = summary.model_dump(mode="json")  # the same for every person told
    queue = list(pages)
    for page in queue:
        kind = NotificationKind(page.kind)
        people = (
            [p.id for p in joc_operators(directory, record.sector)]
            if kind in _JOC_KINDS
            else list(page.people)
        )
        for person_id in people:
            person = directory.person(person_id)
            contacts = contact_points(person) if person is not None else []
            reason = _unreachable(person, contacts, summary.classification)
            if reason is not None:
                # Never a silent skip: the JOC sees who could not be reached.
                produced.append(
                    events.make(
                        ALERT_TARGET_UNREACHABLE,
                        TargetUnreachableV1(
                            alert_id=events.alert_id,
                            person_id=person_id,
                            reason=reason,
                            kind=kind.value,
                        ).model_dump(exclude={"alert_id"}),
                    )
                )
                if kind is NotificationKind.PAGE:
                    # ...and told: the loop reaches this JOC notice after the current page.
                    # (A JOC notice nobody can receive is only an event: no loop.)
                    notice = Page((), NotificationKind.TARGET_UNREACHABLE.value, page.level)
                    queue.append(replace(notice, message=f"{person_id} cannot be paged: {reason}"))
                continue
            if person is None:  # not reached: _unreachable names that reason first
                continue
            produced.append(
                events.subject.notification(
                    person,
                    contacts,
                    kind,
                    shown,
                    page.message,
                    policy_id=record.policy_id,
                    level=page.level,
                )
            )
    return produced


def _unreachable(
    person: Person | None, contacts: Sequence[object], classification: str
) -> str | None:
    """Why ``person`` cannot be paged about an alert of ``classification``; None if they can."""
    if person is None:
        return "not in the directory"
    if not cleared_for(person, Classification(classification)):
        # Need-to-know: a page would tell them what they may not read.
        return f"cleared for {person.clearance.value} only; the alert is {classification}"
    if not contacts:
        return "no contact on a supported channel"
    return None


async def apply_transition(
    session: AsyncSession,
    record: AlertRecord,
    transition: Transition,
    directory: Directory,
    events: EventFactory,
    *,
    command: str | None = None,
) -> None:
    """Store the transition's state and stage its events and notifications.

    A command always gets a verdict that ingest answers the person with: its
    rejection, or the alert's state after it (even when it changed nothing, such
    as a second acknowledgement by the same person).
    """
    if transition.rejected is not None and command is not None:
        await reject(session, events, command, Refusal.WRONG_STATE, transition.rejected)
        return
    if not transition.changed:
        if command is not None:
            await stage(session, [state_event(record, events)])
        return
    store_state(record, transition.state)
    produced = [events.make(type_, dict(fields)) for type_, fields in transition.events]
    produced += notifications(record, directory, transition.pages, events)
    produced.append(state_event(record, events))
    await stage(session, produced)


async def reject(
    session: AsyncSession, events: EventFactory, command: str, refusal: Refusal, reason: str
) -> None:
    """Stage ``alert.command_rejected``: the router's refusal of ``command``, and why."""
    rejection = CommandRejectedV1(
        alert_id=events.alert_id,
        command=command,
        person_id=events.subject.actor,
        reason=reason,
        refusal=refusal,
    )
    await stage(
        session,
        [events.make(ALERT_COMMAND_REJECTED, rejection.model_dump(exclude={"alert_id"}))],
    )
