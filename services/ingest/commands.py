"""Ingest's alert command service: hand a person's command on to the router.

The permissions table is checked by the route (a 403 that reveals nothing);
everything that depends on the alert's state or on who it concerns is the
router's to decide, and the route answers with its verdict (``verdicts``).
"""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.ingest.tables import OUTBOX, AlertViewRecord
from shared.contracts import ALERT_ACKNOWLEDGE, ALERT_ADD_NOTE, ALERT_RESOLVE
from shared.contracts.escalation import AcknowledgeAlertV1, AddNoteV1, ResolveAlertV1
from shared.directory import Person
from shared.envelope import Classification, Envelope
from shared.outbox import add_to_outbox

PRODUCER = "ingest"


class AlertNotFound(LookupError):
    """No such alert."""


class NotAllowed(PermissionError):
    """The caller may not do this to this alert."""


async def _request(
    sessions: async_sessionmaker[AsyncSession],
    alert_id: UUID,
    person: Person,
    *,
    type_: str,
    command: BaseModel,
) -> UUID:
    """Stage the command for an alert ingest accepted; the command's id.

    Nothing here judges the alert's state or who it concerns: the view may lag the
    router (a person paged a moment ago is not on it yet), and the router, which
    decides, answers someone it does not concern with the same "no alert".
    """
    async with sessions() as session, session.begin():
        view = await session.get(AlertViewRecord, str(alert_id))
        if view is None:
            raise AlertNotFound(f"no alert {alert_id}")
        return await stage_command(
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
) -> UUID:
    """Stage a command for the router, in ``session``'s transaction (through the outbox).

    Returns the command's id: the router's verdict names it as its cause.
    """
    envelope = Envelope(
        type=type_,
        producer=PRODUCER,
        actor=actor,
        correlation_id=correlation_id,
        classification=classification,
        payload=command.model_dump(mode="json"),
    )
    await add_to_outbox(session, OUTBOX, envelope)
    return envelope.id


async def acknowledge(
    sessions: async_sessionmaker[AsyncSession], alert_id: UUID, person: Person
) -> UUID:
    """Request the acknowledgement of an alert by ``person``; the command's id."""
    command = AcknowledgeAlertV1(alert_id=alert_id, person_id=person.id)
    return await _request(sessions, alert_id, person, type_=ALERT_ACKNOWLEDGE, command=command)


async def resolve(
    sessions: async_sessionmaker[AsyncSession], alert_id: UUID, person: Person, note: str
) -> UUID:
    """Request the resolution of an alert; the command's id."""
    command = ResolveAlertV1(alert_id=alert_id, person_id=person.id, note=note)
    return await _request(sessions, alert_id, person, type_=ALERT_RESOLVE, command=command)


async def add_note(
    sessions: async_sessionmaker[AsyncSession], alert_id: UUID, person: Person, text: str
) -> UUID:
    """Request a note on an alert; the command's id."""
    command = AddNoteV1(alert_id=alert_id, person_id=person.id, text=text)
    return await _request(sessions, alert_id, person, type_=ALERT_ADD_NOTE, command=command)
