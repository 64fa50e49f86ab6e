"""Ingest's coordination-message service: accept a message, hand read/ack commands on.

A message is checked against the directory for an immediate 422 and staged in
the outbox in the same transaction as the view it writes. Reads and
acknowledgements are the router's to decide: the route answers with its verdict.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID, uuid4

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.ingest.command_staging import stage_on
from services.ingest.errors import InvalidRequest
from services.ingest.idempotency import Created, Keyed, Kind, create_once
from services.ingest.messages.schemas import SendMessageBody
from services.ingest.messages.tables import MessageAddresseeRecord, MessageViewRecord
from services.ingest.tables import OUTBOX
from shared.addressing import cleared_for, deliveries, resolve_addressees, unknown_addressees
from shared.contracts import MESSAGE_ACKNOWLEDGE, MESSAGE_MARK_READ, MESSAGE_SENT
from shared.contracts.messages import (
    AcknowledgeMessageV1,
    Addressees,
    MarkReadV1,
    MessageSentV1,
)
from shared.directory import Directory, Person
from shared.envelope import Classification, Envelope, utc_now
from shared.outbox import add_to_outbox
from shared.permissions import may_see_message
from shared.source_protection import SourceKeyRing

PRODUCER = "ingest"


class InvalidMessage(InvalidRequest):
    """The message cannot be sent: ``problems`` are (field, what is wrong) pairs."""

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        super().__init__([((field,), f"{field}: {problem}") for field, problem in problems])


def _addressing_problems(
    directory: Directory, sender: Person, request: SendMessageBody
) -> list[tuple[str, str]]:
    problems = [("to", problem) for problem in unknown_addressees(directory, request.to)]
    if not problems and not resolve_addressees(directory, request.to, sender.id):
        problems.append(("to", "names nobody in the directory but the sender"))
    if not cleared_for(sender, request.classification):
        problems.append(
            (
                "classification",
                f"{request.classification.value} is above your own clearance "
                f"({sender.clearance.value})",
            )
        )
    return problems


async def _replied_to(
    session: AsyncSession, directory: Directory, message_id: UUID, person: Person
) -> MessageViewRecord | None:
    """The message ``person`` replies to, if they sent it or it was delivered to them.

    A message the router has not addressed yet (``version`` 0: the page may already be
    on its way) is judged as the router will address it, from the directory, so that an
    addressee who replies at once is not refused because the view lags.
    """
    view = await session.get(MessageViewRecord, str(message_id))
    if view is None:
        return None
    classification = Classification(view.classification)
    if view.version == 0:
        to = Addressees.model_validate(view.to)
        found = deliveries(directory, to, view.sender, classification)
        delivered = [d.person_id for d in found if d.delivered]
    else:
        delivered = list(
            await session.scalars(
                select(MessageAddresseeRecord.person_id).where(
                    MessageAddresseeRecord.message_id == view.message_id,
                    MessageAddresseeRecord.delivered.is_(True),
                )
            )
        )
    mine = view.sender == person.id or person.id in delivered
    return (
        view if mine and may_see_message(person, view.sender, delivered, classification) else None
    )


async def send_message(
    sessions: async_sessionmaker[AsyncSession],
    directory: Directory,
    sender: Person,
    request: SendMessageBody,
    idempotency_key: str | None = None,
    *,
    keys: SourceKeyRing,
) -> Created:
    """Accept a message: its view and ``message.sent`` in one transaction.

    Raises ``InvalidMessage`` naming every problem; then nothing is written. With an
    ``idempotency_key`` the same request again answers with the first message
    (``created`` False), another request ``IdempotencyKeyReused``.
    """

    async def create(session: AsyncSession) -> UUID:
        return await _write(session, directory, sender, request)

    keyed = Keyed(Kind.MESSAGE, sender.id, idempotency_key, request)
    return await create_once(sessions, keyed, keys, create)


async def _write(
    session: AsyncSession,
    directory: Directory,
    sender: Person,
    request: SendMessageBody,
) -> UUID:
    problems = _addressing_problems(directory, sender, request)
    message_id = uuid4()
    thread_id = message_id
    if request.in_reply_to is not None:
        replied = await _replied_to(session, directory, request.in_reply_to, sender)
        if replied is None:
            problems.append(("in_reply_to", "no such message"))
        else:
            thread_id = UUID(replied.thread_id)
    if problems:
        raise InvalidMessage(problems)
    now = utc_now()
    sent = MessageSentV1(
        message_id=message_id,
        sender=sender.id,
        to=request.to,
        subject=request.subject,
        body=request.body,
        classification=request.classification,
        thread_id=thread_id,
        in_reply_to=request.in_reply_to,
        requires_ack=request.requires_ack,
        ack_due_at=request.ack_due_at,
    )
    session.add(
        MessageViewRecord(
            message_id=str(message_id),
            thread_id=str(thread_id),
            in_reply_to=str(request.in_reply_to) if request.in_reply_to else None,
            sender=sender.id,
            to=request.to.model_dump(mode="json"),
            subject=request.subject,
            body=request.body,
            classification=request.classification.value,
            requires_ack=request.requires_ack,
            ack_due_at=request.ack_due_at,
            sent_at=now,
            version=0,
            next_escalation_at=None,
        )
    )
    envelope = Envelope(
        type=MESSAGE_SENT,
        producer=PRODUCER,
        actor=sender.id,
        correlation_id=thread_id,
        classification=request.classification,
        occurred_at=now,
        payload=sent.model_dump(mode="json"),
    )
    await add_to_outbox(session, OUTBOX, envelope)
    return message_id


async def _request(
    sessions: async_sessionmaker[AsyncSession],
    message_id: UUID,
    person: Person,
    type_: str,
    command: BaseModel,
) -> UUID:
    # Who it was delivered to is the router's to say (the view may not list an
    # addressee paged a moment ago), so need-to-know is checked there.
    return await stage_on(
        sessions,
        MessageViewRecord,
        message_id,
        person,
        type_=type_,
        command=command,
        missing=f"no message {message_id}",
        thread=lambda view: UUID(view.thread_id),
    )


async def mark_read(
    sessions: async_sessionmaker[AsyncSession], message_id: UUID, person: Person
) -> UUID:
    """Request that the message be recorded as read by ``person``; the command's id."""
    command = MarkReadV1(message_id=message_id, person_id=person.id)
    return await _request(sessions, message_id, person, MESSAGE_MARK_READ, command)


async def acknowledge(
    sessions: async_sessionmaker[AsyncSession], message_id: UUID, person: Person
) -> UUID:
    """Request the acknowledgement of the message by ``person``; the command's id."""
    command = AcknowledgeMessageV1(message_id=message_id, person_id=person.id)
    return await _request(sessions, message_id, person, MESSAGE_ACKNOWLEDGE, command)
