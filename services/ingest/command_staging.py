"""Ingest's command service: hand a person's command on to the router.

``stage_on`` stages a command about any subject ingest accepted (an alert, a
message, a recommendation); the alert commands are here. The permissions table
is checked by the route (a 403 that reveals nothing); everything that depends
on the subject's state or on who it concerns is the router's to decide, and the
route answers with its verdict (``answers``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar
from uuid import UUID

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.ingest.alerts.tables import AlertViewRecord
from services.ingest.tables import OUTBOX
from shared.contracts import ALERT_ACKNOWLEDGE, ALERT_ADD_NOTE, ALERT_RELEASE, ALERT_RESOLVE
from shared.contracts.escalation import (
    AcknowledgeAlertV1,
    AddNoteV1,
    ReleaseAlertV1,
    ResolveAlertV1,
)
from shared.directory import Person
from shared.envelope import Classification, Envelope
from shared.outbox import add_to_outbox

PRODUCER = "ingest"


class _Subject(Protocol):
    """A view a command can be about: it knows its classification."""

    @property
    def classification(self) -> str:
        """The subject's classification (a view column)."""


S = TypeVar("S", bound=_Subject)


async def stage_on(
    sessions: async_sessionmaker[AsyncSession],
    view: type[S],
    subject_id: UUID,
    person: Person,
    *,
    type_: str,
    command: BaseModel,
    missing: str,
    thread: Callable[[S], UUID] | None = None,
) -> UUID:
    """Stage ``command`` about a subject ingest accepted (``view``); the command's id.

    Nothing here judges the subject's state or who it concerns: the view may lag the
    router (a person paged a moment ago is not on it yet), and the router, which
    decides, answers someone it does not concern with the same "no such" as ``missing``.
    An unknown id raises ``LookupError(missing)``; ``thread`` gives the correlation id
    (the subject's own id by default).
    """
    async with sessions() as session, session.begin():
        found = await session.get(view, str(subject_id))
        if found is None:
            raise LookupError(missing)
        return await stage_command(
            session,
            type_,
            command,
            actor=person.id,
            correlation_id=thread(found) if thread else subject_id,
            classification=Classification(found.classification),
        )


async def stage_command(
    session: AsyncSession,
    type_: str,
    command: BaseModel,
    *,
    actor: str,
    correlation_id: UUID,
    classification: Classification,
    causation_id: UUID | None = None,
) -> UUID:
    """Stage a command for the router, in ``session``'s transaction (through the outbox).

    Also ingest's own events for the router's log (``alert.link_used``, ``sms.received``),
    caused by the command staged with them (``causation_id``). Returns the message's id:
    the router's verdict on a command names it as its cause.
    """
    envelope = Envelope(
        type=type_,
        producer=PRODUCER,
        actor=actor,
        correlation_id=correlation_id,
        causation_id=causation_id,
        classification=classification,
        payload=command.model_dump(mode="json"),
    )
    await add_to_outbox(session, OUTBOX, envelope)
    return envelope.id


async def _alert_command(
    sessions: async_sessionmaker[AsyncSession],
    alert_id: UUID,
    person: Person,
    type_: str,
    command: BaseModel,
) -> UUID:
    return await stage_on(
        sessions,
        AlertViewRecord,
        alert_id,
        person,
        type_=type_,
        command=command,
        missing=f"no alert {alert_id}",
    )


async def acknowledge(
    sessions: async_sessionmaker[AsyncSession],
    alert_id: UUID,
    person: Person,
    community_message: str | None = None,
) -> UUID:
    """Request the acknowledgement of an alert by ``person``; the command's id.

    ``community_message``: what the person releases to the alert's community reporter.
    """
    command = AcknowledgeAlertV1(
        alert_id=alert_id, person_id=person.id, community_message=community_message
    )
    return await _alert_command(sessions, alert_id, person, ALERT_ACKNOWLEDGE, command)


async def resolve(
    sessions: async_sessionmaker[AsyncSession],
    alert_id: UUID,
    person: Person,
    note: str,
    community_message: str | None = None,
) -> UUID:
    """Request the resolution of an alert; the command's id.

    ``community_message``: as for ``acknowledge``.
    """
    command = ResolveAlertV1(
        alert_id=alert_id, person_id=person.id, note=note, community_message=community_message
    )
    return await _alert_command(sessions, alert_id, person, ALERT_RESOLVE, command)


async def add_note(
    sessions: async_sessionmaker[AsyncSession], alert_id: UUID, person: Person, text: str
) -> UUID:
    """Request a note on an alert; the command's id."""
    command = AddNoteV1(alert_id=alert_id, person_id=person.id, text=text)
    return await _alert_command(sessions, alert_id, person, ALERT_ADD_NOTE, command)


async def release(
    sessions: async_sessionmaker[AsyncSession], alert_id: UUID, person: Person
) -> UUID:
    """Request the alert's release to partners' CAP feed; the command's id."""
    command = ReleaseAlertV1(alert_id=alert_id, person_id=person.id)
    return await _alert_command(sessions, alert_id, person, ALERT_RELEASE, command)
