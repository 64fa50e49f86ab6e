"""Ingest's command service: check a request against the view, then hand it to the router.

The check here gives the caller an immediate 403/404/409; the router checks
again against the policy snapshot and is the authority.
"""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.ingest.queries import audience_of
from services.ingest.tables import OUTBOX, AlertViewRecord
from shared.contracts import ALERT_ACKNOWLEDGE, ALERT_ADD_NOTE, ALERT_RESOLVE
from shared.contracts.escalation import AcknowledgeAlertV1, AddNoteV1, ResolveAlertV1
from shared.directory import Person
from shared.envelope import Classification, Envelope
from shared.outbox import add_to_outbox
from shared.permissions import may_acknowledge, may_act_on_alert, may_see_alert

PRODUCER = "ingest"


class AlertNotFound(LookupError):
    """No such alert."""


class NotAllowed(PermissionError):
    """The caller may not do this to this alert."""


class WrongState(ValueError):
    """The alert's state does not allow this (e.g. resolved)."""


def _refuse_closed(view: AlertViewRecord) -> None:
    if view.status == "resolved":
        raise WrongState("the alert is already resolved")
    if view.status == "merged":
        raise WrongState(f"the alert was merged into {view.merged_into}")


def check_acknowledge(view: AlertViewRecord, person: Person) -> None:
    """Raise unless ``person`` may acknowledge the alert now."""
    _refuse_closed(view)
    if not view.chain:
        if view.status == "raised":
            raise WrongState("the alert is not routed yet; try again in a moment")
        raise WrongState("no route pages anyone for this alert: the JOC resolves it by hand")
    if not may_acknowledge(person.id, view.chain):
        raise NotAllowed(f"{person.id} is not on this alert's escalation chain")


def check_resolve(view: AlertViewRecord, person: Person) -> None:
    """Raise unless ``person`` may resolve the alert now."""
    _refuse_closed(view)
    if not may_act_on_alert(person, view.chain, view.sector):
        raise NotAllowed(f"{person.id} is neither on the escalation chain nor the JOC")


def check_note(view: AlertViewRecord, person: Person) -> None:
    """Raise unless ``person`` may add a note."""
    if not may_act_on_alert(person, view.chain, view.sector):
        raise NotAllowed(f"{person.id} is neither on the escalation chain nor the JOC")


async def _request(
    sessions: async_sessionmaker[AsyncSession],
    alert_id: UUID,
    person: Person,
    check: Callable[[AlertViewRecord, Person], None],
    *,
    type_: str,
    command: BaseModel,
) -> None:
    """Check the request against the view, then stage the command, in one transaction."""
    async with sessions() as session, session.begin():
        view = await session.get(AlertViewRecord, str(alert_id))
        if view is None or not may_see_alert(person, audience_of(view)):
            raise AlertNotFound(f"no alert {alert_id}")  # need-to-know: never a hint it exists
        check(view, person)
        await stage_command(
            session,
            type_,
            command,
            actor=person.id,
            correlation_id=alert_id,
            classification=Classification(view.classification),
        )


async def stage_command(
    session: AsyncSession,
    type_: str,
    command: BaseModel,
    *,
    actor: str,
    correlation_id: UUID,
    classification: Classification,
) -> None:
    """Stage a command for the router, in ``session``'s transaction (through the outbox)."""
    envelope = Envelope(
        type=type_,
        producer=PRODUCER,
        actor=actor,
        correlation_id=correlation_id,
        classification=classification,
        payload=command.model_dump(mode="json"),
    )
    await add_to_outbox(session, OUTBOX, envelope)


async def acknowledge(
    sessions: async_sessionmaker[AsyncSession], alert_id: UUID, person: Person
) -> None:
    """Request the acknowledgement of an alert by ``person``."""
    command = AcknowledgeAlertV1(alert_id=alert_id, person_id=person.id)
    await _request(
        sessions, alert_id, person, check_acknowledge, type_=ALERT_ACKNOWLEDGE, command=command
    )


async def resolve(
    sessions: async_sessionmaker[AsyncSession], alert_id: UUID, person: Person, note: str
) -> None:
    """Request the resolution of an alert."""
    command = ResolveAlertV1(alert_id=alert_id, person_id=person.id, note=note)
    await _request(sessions, alert_id, person, check_resolve, type_=ALERT_RESOLVE, command=command)


async def add_note(
    sessions: async_sessionmaker[AsyncSession], alert_id: UUID, person: Person, text: str
) -> None:
    """Request a note on an alert."""
    command = AddNoteV1(alert_id=alert_id, person_id=person.id, text=text)
    await _request(sessions, alert_id, person, check_note, type_=ALERT_ADD_NOTE, command=command)
