"""The router's command service: acknowledge, resolve and annotate alerts.

Ingest checks permissions from its view for a quick 403; the router checks
again against the alert's policy snapshot and is the authority: a command it
refuses becomes an ``alert.command_rejected`` event, never a silent drop.
"""

from __future__ import annotations

import structlog
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from services.router.alert_store import snapshot_from_json, state_of
from services.router.escalation import (
    PolicySnapshot,
    Transition,
    acknowledge,
    resolve,
)
from services.router.tables import AlertRecord, OpenDedupKey
from services.router.transitions import EventFactory, apply_transition
from shared.contracts import ALERT_ACKNOWLEDGE, ALERT_ADD_NOTE, ALERT_NOTE_ADDED, ALERT_RESOLVE
from shared.contracts.escalation import AcknowledgeAlertV1, AddNoteV1, ResolveAlertV1
from shared.directory import Directory
from shared.envelope import Envelope, utc_now
from shared.permissions import may_act_on_alert

log = structlog.get_logger(__name__)


async def _locked_alert(session: AsyncSession, alert_id: str) -> AlertRecord | None:
    record = await session.get(AlertRecord, alert_id, with_for_update=True)
    if record is None:
        log.warning("command.unknown_alert", alert_id=alert_id)
    return record


def _snapshot(record: AlertRecord) -> PolicySnapshot:
    if record.snapshot:
        return snapshot_from_json(record.snapshot)
    return PolicySnapshot(policy_id=None, policy_ids=(), levels=())


def may_act_on(directory: Directory, record: AlertRecord, person_id: str) -> bool:
    """Resolve and notes: anyone on the escalation chain, or a JOC duty officer."""
    return may_act_on_alert(directory.person(person_id), _snapshot(record).chain, record.sector)


async def acknowledge_alert(session: AsyncSession, directory: Directory, command: Envelope) -> None:
    """Apply ``alert.acknowledge``."""
    ack = AcknowledgeAlertV1.model_validate(command.payload)
    record = await _locked_alert(session, str(ack.alert_id))
    if record is None:
        return
    person = directory.person(ack.person_id)
    component = person.component if person is not None else "unknown"
    if record.status == "merged":
        transition = Transition(
            state=state_of(record), rejected=f"merged into {record.merged_into}", changed=False
        )
    else:
        transition = acknowledge(
            state_of(record), _snapshot(record), ack.person_id, component, utc_now()
        )
    events = EventFactory(record, command, actor=ack.person_id)
    await apply_transition(
        session, record, transition, directory, events, command=ALERT_ACKNOWLEDGE
    )


async def resolve_alert(session: AsyncSession, directory: Directory, command: Envelope) -> None:
    """Apply ``alert.resolve``; the alert's dedup key is free again."""
    request = ResolveAlertV1.model_validate(command.payload)
    record = await _locked_alert(session, str(request.alert_id))
    if record is None:
        return
    state = state_of(record)
    if record.status == "merged":
        reason = f"merged into {record.merged_into}"
        transition = Transition(state=state, rejected=reason, changed=False)
    elif not may_act_on(directory, record, request.person_id):
        reason = f"{request.person_id} is not on this alert's escalation chain"
        transition = Transition(state=state, rejected=reason, changed=False)
    else:
        transition = resolve(state, request.person_id, request.note)
    if transition.changed and record.dedup_key:
        await session.execute(
            delete(OpenDedupKey).where(
                OpenDedupKey.dedup_key == record.dedup_key,
                OpenDedupKey.alert_id == record.alert_id,
            )
        )
    events = EventFactory(record, command, actor=request.person_id)
    await apply_transition(session, record, transition, directory, events, command=ALERT_RESOLVE)


async def add_note(session: AsyncSession, directory: Directory, command: Envelope) -> None:
    """Apply ``alert.add_note``: the note is an event on the alert's timeline."""
    note = AddNoteV1.model_validate(command.payload)
    record = await _locked_alert(session, str(note.alert_id))
    if record is None:
        return
    state = state_of(record)
    if may_act_on(directory, record, note.person_id):
        event = (ALERT_NOTE_ADDED, {"person_id": note.person_id, "text": note.text})
        transition = Transition(state=state, events=(event,))
    else:
        reason = f"{note.person_id} may not annotate this alert"
        transition = Transition(state=state, rejected=reason, changed=False)
    events = EventFactory(record, command, actor=note.person_id)
    await apply_transition(session, record, transition, directory, events, command=ALERT_ADD_NOTE)
