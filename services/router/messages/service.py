"""The router's coordination-message service: address, record reads and acks, escalate.

The router is the authority on who gets a message: it resolves the addressees
against the directory and delivers only to those cleared for the message's
classification; the others are named back to the sender with the reason.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.router.authority import NotYetKnown, Verdict, message_refusal
from services.router.messages import rules as message_rules
from services.router.messages.tables import MessageRecord
from services.router.notices import SubjectEvents
from services.router.tables import claim_due, stage
from shared.addressing import deliveries, joc_operators, superiors_of
from shared.contracts import (
    MESSAGE_ACKNOWLEDGE,
    MESSAGE_ACKNOWLEDGED,
    MESSAGE_ADDRESSED,
    MESSAGE_COMMAND_REJECTED,
    MESSAGE_ESCALATED,
    MESSAGE_MARK_READ,
    MESSAGE_READ,
    MESSAGE_STATE_CHANGED,
)
from shared.contracts.commands import Refusal
from shared.contracts.messages import (
    AcknowledgeMessageV1,
    AddresseeState,
    MarkReadV1,
    MessageAcknowledgedV1,
    MessageAddressedV1,
    MessageCommandRejectedV1,
    MessageEscalatedV1,
    MessageReadV1,
    MessageSentV1,
    MessageStateV1,
)
from shared.contracts.notifications import NotificationKind, SubjectType
from shared.directory import Directory
from shared.envelope import Classification, Envelope, utc_now
from shared.event_log import append as append_to_log

log = structlog.get_logger(__name__)

# A window shorter than this would escalate up the whole chain at once.
MIN_ACK_WINDOW = timedelta(seconds=1)


def _events(record: MessageRecord, cause: Envelope | None, actor: str = "router") -> SubjectEvents:
    return SubjectEvents(
        subject_type=SubjectType.MESSAGE,
        subject_id=UUID(record.message_id),
        correlation_id=UUID(record.thread_id),
        classification=Classification(record.classification),
        cause=cause,
        actor=actor,
    )


def _addressees(record: MessageRecord) -> list[AddresseeState]:
    return [AddresseeState.model_validate(a) for a in record.addressees]


def _store(record: MessageRecord, addressees: list[AddresseeState]) -> None:
    record.addressees = [a.model_dump(mode="json") for a in addressees]
    record.version += 1


def _state_event(record: MessageRecord, events: SubjectEvents) -> Envelope:
    state = MessageStateV1(
        message_id=UUID(record.message_id),
        version=record.version,
        addressees=_addressees(record),
        next_escalation_at=record.timer_due_at,
    )
    return events.make(MESSAGE_STATE_CHANGED, state)


def live_state(record: MessageRecord) -> dict[str, Any]:
    """The row as the payload of its state event (what a replay of the log must rebuild)."""
    return _state_event(record, _events(record, None)).payload


def summary(record: MessageRecord, body: str | None = None) -> dict[str, object]:
    """What a notification shows: the body only of an unclassified message.

    A classified body stays in coord, where need-to-know is enforced; email
    and webhooks leave the mission's control.
    """
    shown: dict[str, object] = {
        "title": record.subject,
        "from": record.sender,
        "classification": record.classification,
        "thread_id": record.thread_id,
        "requires_ack": record.requires_ack,
    }
    if body is not None and record.classification == Classification.UNCLASSIFIED.value:
        shown["body"] = body
    return shown


async def address_message(session: AsyncSession, directory: Directory, sent: Envelope) -> None:
    """Apply ``message.sent``: resolve, filter by clearance, deliver, tell the sender who not."""
    message = MessageSentV1.model_validate(sent.payload)
    found = deliveries(directory, message.to, message.sender, message.classification)
    addressees = [
        AddresseeState(person_id=d.person_id, delivered=d.delivered, reason=d.reason) for d in found
    ]
    delivered = [a.person_id for a in addressees if a.delivered]
    window = None
    due = None
    if message.requires_ack and message.ack_due_at is not None and delivered:
        due = message.ack_due_at
        window = max(message.ack_due_at - sent.occurred_at, MIN_ACK_WINDOW)
    record = MessageRecord(
        message_id=str(message.message_id),
        sender=message.sender,
        subject=message.subject,
        classification=message.classification.value,
        thread_id=str(message.thread_id),
        requires_ack=message.requires_ack,
        ack_window_seconds=window.total_seconds() if window else None,
        sent_at=sent.occurred_at,
        addressees=[a.model_dump(mode="json") for a in addressees],
        timer_due_at=due,
        version=1,
    )
    session.add(record)
    events = _events(record, sent)
    produced = [
        events.make(
            MESSAGE_ADDRESSED, MessageAddressedV1(message_id=message.message_id, deliveries=found)
        )
    ]
    shown = summary(record, message.body)
    produced += events.tell(directory, delivered, NotificationKind.MESSAGE, shown)
    refused = [a for a in addressees if not a.delivered]
    if refused:
        line = "; ".join(f"{a.person_id}: {a.reason}" for a in refused)
        produced += events.tell(
            directory,
            [message.sender],
            NotificationKind.MESSAGE_UNDELIVERED,
            summary(record),
            f"Not delivered to {len(refused)} addressee(s) - {line}",
        )
    produced.append(_state_event(record, events))
    await append_to_log(session, (sent,))  # the message as sent is on the log, before its effects
    await stage(session, produced)
    log.info("message.addressed", delivered=len(delivered), refused=len(refused))


async def _locked(session: AsyncSession, message_id: UUID) -> MessageRecord:
    record = await session.get(MessageRecord, str(message_id), with_for_update=True)
    if record is None:
        log.info("command.message_not_yet_known", message_id=str(message_id))
        raise NotYetKnown(f"message {message_id} is not addressed yet")
    return record


async def _reject(
    session: AsyncSession,
    events: SubjectEvents,
    command: str,
    person_id: str,
    refused: tuple[Refusal, str],
) -> None:
    refusal, reason = refused
    rejection = MessageCommandRejectedV1(
        message_id=events.subject_id,
        command=command,
        person_id=person_id,
        reason=reason,
        refusal=refusal,
    )
    await stage(session, [events.make(MESSAGE_COMMAND_REJECTED, rejection)])


def _refusal(directory: Directory, record: MessageRecord, person_id: str) -> Verdict:
    delivered = [a.person_id for a in _addressees(record) if a.delivered]
    return message_refusal(
        directory.person(person_id),
        record.message_id,
        sender=record.sender,
        delivered_to=delivered,
        classification=Classification(record.classification),
    )


async def mark_read(session: AsyncSession, directory: Directory, command: Envelope) -> None:
    """Apply ``message.mark_read``: an addressee's first read is recorded, later ones not."""
    read = MarkReadV1.model_validate(command.payload)
    record = await _locked(session, read.message_id)
    events = _events(record, command, actor=read.person_id)
    refused = _refusal(directory, record, read.person_id)
    if refused is not None:
        await _reject(session, events, MESSAGE_MARK_READ, read.person_id, refused)
        return
    changed = message_rules.mark_read(_addressees(record), read.person_id, utc_now())
    if changed is None:
        # Read before: the first read is what counts; the answer is the state as it is.
        await stage(session, [_state_event(record, events)])
        return
    _store(record, changed)
    payload = MessageReadV1(message_id=read.message_id, person_id=read.person_id)
    await stage(session, [events.make(MESSAGE_READ, payload), _state_event(record, events)])


async def acknowledge_message(
    session: AsyncSession, directory: Directory, command: Envelope
) -> None:
    """Apply ``message.acknowledge``; an acknowledged addressee escalates no further."""
    ack = AcknowledgeMessageV1.model_validate(command.payload)
    record = await _locked(session, ack.message_id)
    events = _events(record, command, actor=ack.person_id)
    refused = _refusal(directory, record, ack.person_id)
    if refused is not None:
        await _reject(session, events, MESSAGE_ACKNOWLEDGE, ack.person_id, refused)
        return
    now = utc_now()
    changed, reason = message_rules.acknowledge(
        _addressees(record), ack.person_id, record.requires_ack, now
    )
    if changed is None:
        refused = (Refusal.WRONG_STATE, reason or "refused")
        await _reject(session, events, MESSAGE_ACKNOWLEDGE, ack.person_id, refused)
        return
    _store(record, changed)
    if not message_rules.awaiting_ack(changed):
        record.timer_due_at = None  # nobody left to chase
    due = _first_due(record)
    late = due is not None and now > due
    payload = MessageAcknowledgedV1(message_id=ack.message_id, person_id=ack.person_id, late=late)
    await stage(session, [events.make(MESSAGE_ACKNOWLEDGED, payload), _state_event(record, events)])


def _first_due(record: MessageRecord) -> datetime | None:
    if record.ack_window_seconds is None:
        return None
    return record.sent_at + timedelta(seconds=record.ack_window_seconds)


def escalate(
    record: MessageRecord, directory: Directory, due_at: datetime, events: SubjectEvents
) -> list[Envelope]:
    """One escalation step at ``due_at``: each addressee still silent goes one level up."""
    classification = Classification(record.classification)
    silent = {a.person_id for a in message_rules.awaiting_ack(_addressees(record))}
    told: dict[str, list[str]] = {}  # silent addressee -> superiors told (empty: chain ended)
    levels: dict[str, int] = {}  # silent addressee -> the level this step tried
    updated: list[AddresseeState] = []
    for addressee in _addressees(record):
        if addressee.person_id in silent:
            level = levels[addressee.person_id] = addressee.escalation_level + 1
            person = directory.person(addressee.person_id)
            above = superiors_of(directory, person, classification, level) if person else []
            told[addressee.person_id] = [p.id for p in above]
            addressee = addressee.model_copy(  # noqa: PLW2901 - the updated copy replaces it
                update={
                    "escalation_level": level if above else addressee.escalation_level,
                    "escalated_to": [*addressee.escalated_to, *told[addressee.person_id]],
                    "escalation_ended": not above,
                }
            )
        updated.append(addressee)
    _store(record, updated)
    window = timedelta(seconds=record.ack_window_seconds or MIN_ACK_WINDOW.total_seconds())
    record.timer_due_at = message_rules.next_due(updated, due_at, window)
    produced: list[Envelope] = []
    for person_id, superiors in told.items():
        line = (
            f"{person_id} has not acknowledged '{record.subject}' "
            f"(due {due_at:%Y-%m-%d %H:%M:%S} UTC)"
        )
        if superiors:
            produced += events.tell(
                directory,
                superiors,
                NotificationKind.MESSAGE_UNACKNOWLEDGED,
                summary(record),
                line,
            )
        else:
            # The chain of command ran out: whoever asked for the acknowledgement must
            # know it will not come, and so must the JOC.
            # (Mission-wide duty officers only: a message has no sector.)
            joc = [p.id for p in joc_operators(directory, "")]
            produced += events.tell(
                directory,
                [record.sender, *joc],
                NotificationKind.NOBODY_TO_ESCALATE_TO,
                summary(record),
                f"{line}; nobody above them to escalate to",
            )
        escalated = MessageEscalatedV1(
            message_id=UUID(record.message_id),
            person_id=person_id,
            level=levels[person_id],
            superiors=superiors,
            next_escalation_at=record.timer_due_at,
        )
        produced.append(events.make(MESSAGE_ESCALATED, escalated))
    produced.append(_state_event(record, events))
    return produced


async def fire_due_messages(
    session: AsyncSession, directory: Directory, now: datetime, batch: int
) -> int:
    """Escalate every message whose acknowledgement is overdue (up to ``batch``)."""
    records = await claim_due(session, MessageRecord, MessageRecord.timer_due_at, now, batch)
    for record in records:
        due_at = record.timer_due_at
        if due_at is None:  # pragma: no cover - selected by its due time
            continue
        await stage(session, escalate(record, directory, due_at, _events(record, None)))
    return len(records)
