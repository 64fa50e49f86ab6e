"""The router's command service: acknowledge, resolve, annotate and release alerts.

Ingest checks only the permissions table; the router checks need-to-know,
the alert's policy snapshot and its state, and is the authority: a command it
refuses becomes an ``alert.command_rejected`` event with its ``Refusal``, never a
silent drop, and one it accepts is answered with the alert's state.
"""

from __future__ import annotations

import structlog
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from services.router.alerts.codes import release_code
from services.router.alerts.escalation import PolicySnapshot, Transition, acknowledge, resolve
from services.router.alerts.feedback import community_feedback
from services.router.alerts.store import snapshot_from_json, state_of
from services.router.alerts.tables import AlertRecord, OpenDedupKey
from services.router.alerts.transitions import EventFactory, apply_transition, reject
from services.router.authority import NotYetKnown, Verdict, alert_refusal
from services.router.tables import stage
from shared.contracts import (
    ALERT_ACKNOWLEDGE,
    ALERT_ADD_NOTE,
    ALERT_NOTE_ADDED,
    ALERT_RELEASE,
    ALERT_RELEASED,
    ALERT_RESOLVE,
)
from shared.contracts.commands import Refusal
from shared.contracts.escalation import (
    AcknowledgeAlertV1,
    AddNoteV1,
    ReleaseAlertV1,
    ResolveAlertV1,
)
from shared.directory import Directory
from shared.envelope import Classification, Envelope, utc_now
from shared.permissions import Action, AlertAudience, allowed, may_act_on_alert, refusal

log = structlog.get_logger(__name__)


async def _locked_alert(session: AsyncSession, alert_id: str) -> AlertRecord:
    record = await session.get(AlertRecord, alert_id, with_for_update=True)
    if record is None:
        log.info("command.alert_not_yet_known", alert_id=alert_id)
        raise NotYetKnown(f"alert {alert_id} is not routed yet")
    return record


def _snapshot(record: AlertRecord) -> PolicySnapshot:
    if record.snapshot:
        return snapshot_from_json(record.snapshot)
    return PolicySnapshot(policy_id=None, policy_ids=(), levels=())


def audience(record: AlertRecord) -> AlertAudience:
    """What need-to-know looks at on the router's alert: everyone paged or on the chain."""
    return AlertAudience(
        classification=Classification(record.summary.get("classification", "unclassified")),
        sector=record.sector,
        raised_by=record.raised_by,
        chain=frozenset({*record.targets, *_snapshot(record).chain}),
        origin=str(record.summary.get("origin", "")),
    )


def may_act_on(directory: Directory, record: AlertRecord, person_id: str) -> bool:
    """Resolve and notes: anyone on the escalation chain, or a JOC duty officer."""
    return may_act_on_alert(directory.person(person_id), _snapshot(record).chain, record.sector)


def _refusal(directory: Directory, record: AlertRecord, person_id: str) -> Verdict:
    """Need-to-know, then a merged alert (its duplicate takes the commands)."""
    refused = alert_refusal(directory, person_id, record.alert_id, audience(record))
    if refused is None and record.status == "merged":
        return Refusal.WRONG_STATE, f"the alert was merged into {record.merged_into}"
    return refused


def acknowledge_refusal(directory: Directory, record: AlertRecord, person_id: str) -> Verdict:
    """Why ``person_id`` may not acknowledge the alert now; None when they may."""
    refused = _refusal(directory, record, person_id)
    if refused is not None:
        return refused
    if record.status == "resolved":
        return Refusal.WRONG_STATE, "the alert is already resolved"
    chain = _snapshot(record).chain
    if not chain:
        return Refusal.WRONG_STATE, "no route pages anyone for this alert: the JOC resolves it"
    if person_id not in chain:
        return Refusal.NOT_ALLOWED, f"{person_id} is not on this alert's escalation chain"
    return None


def act_refusal(
    directory: Directory, record: AlertRecord, person_id: str, *, note: bool = False
) -> Verdict:
    """Why ``person_id`` may not resolve (or, ``note``, annotate) the alert; None if they may.

    A merged alert still takes notes: they stay on its own timeline.
    """
    if note:
        refused = alert_refusal(directory, person_id, record.alert_id, audience(record))
    else:
        refused = _refusal(directory, record, person_id)
    if refused is not None:
        return refused
    if not may_act_on(directory, record, person_id):
        return Refusal.NOT_ALLOWED, f"{person_id} is neither on the escalation chain nor the JOC"
    return None


def release_refusal(directory: Directory, record: AlertRecord, person_id: str) -> Verdict:
    """Why ``person_id`` may not release the alert to partners; None when they may.

    Only an UNCLASSIFIED alert leaves the mission, and only by someone whose role
    releases (``Action.RELEASE``) and whom the alert concerns.
    """
    refused = _refusal(directory, record, person_id)
    if refused is not None:
        return refused
    person = directory.person(person_id)
    if person is None or not allowed(person, Action.RELEASE):
        shown = refusal(person, Action.RELEASE) if person else f"{person_id} may not release"
        return Refusal.NOT_ALLOWED, shown
    classification = record.summary.get("classification", Classification.UNCLASSIFIED.value)
    if classification != Classification.UNCLASSIFIED.value:
        return (
            Refusal.WRONG_STATE,
            f"the alert is {classification}: only unclassified alerts are released to partners",
        )
    return None


async def acknowledge_alert(session: AsyncSession, directory: Directory, command: Envelope) -> None:
    """Apply ``alert.acknowledge``."""
    ack = AcknowledgeAlertV1.model_validate(command.payload)
    record = await _locked_alert(session, str(ack.alert_id))
    events = EventFactory(record, command, actor=ack.person_id)
    refused = acknowledge_refusal(directory, record, ack.person_id)
    if refused is not None:
        await reject(session, events, ALERT_ACKNOWLEDGE, *refused)
        return
    person = directory.person(ack.person_id)
    component = person.component if person is not None else "unknown"
    transition = acknowledge(
        state_of(record), _snapshot(record), ack.person_id, component, utc_now()
    )
    await apply_transition(
        session, record, transition, directory, events, command=ALERT_ACKNOWLEDGE
    )
    if transition.changed:
        await stage(session, community_feedback(record, directory, ack.community_message, events))


async def resolve_alert(session: AsyncSession, directory: Directory, command: Envelope) -> None:
    """Apply ``alert.resolve``; the alert's short code and dedup key are free again."""
    request = ResolveAlertV1.model_validate(command.payload)
    record = await _locked_alert(session, str(request.alert_id))
    events = EventFactory(record, command, actor=request.person_id)
    refused = act_refusal(directory, record, request.person_id)
    if refused is not None:
        await reject(session, events, ALERT_RESOLVE, *refused)
        return
    transition = resolve(state_of(record), request.person_id, request.note)
    if transition.changed:
        await release_code(session, record.alert_id)
    if transition.changed and record.dedup_key:
        await session.execute(
            delete(OpenDedupKey).where(
                OpenDedupKey.dedup_key == record.dedup_key,
                OpenDedupKey.alert_id == record.alert_id,
            )
        )
    await apply_transition(session, record, transition, directory, events, command=ALERT_RESOLVE)
    if transition.changed:
        feedback = community_feedback(record, directory, request.community_message, events)
        await stage(session, feedback)


async def add_note(session: AsyncSession, directory: Directory, command: Envelope) -> None:
    """Apply ``alert.add_note``: the note is an event on the alert's timeline."""
    note = AddNoteV1.model_validate(command.payload)
    record = await _locked_alert(session, str(note.alert_id))
    events = EventFactory(record, command, actor=note.person_id)
    refused = act_refusal(directory, record, note.person_id, note=True)
    if refused is not None:
        await reject(session, events, ALERT_ADD_NOTE, *refused)
        return
    event = (ALERT_NOTE_ADDED, {"person_id": note.person_id, "text": note.text})
    transition = Transition(state=state_of(record), events=(event,))
    await apply_transition(session, record, transition, directory, events, command=ALERT_ADD_NOTE)


async def release_alert(session: AsyncSession, directory: Directory, command: Envelope) -> None:
    """Apply ``alert.release``: partners' CAP feed carries the alert from now on.

    Releasing twice changes nothing: the answer is the alert as released the first time.
    """
    request = ReleaseAlertV1.model_validate(command.payload)
    record = await _locked_alert(session, str(request.alert_id))
    events = EventFactory(record, command, actor=request.person_id)
    refused = release_refusal(directory, record, request.person_id)
    if refused is not None:
        await reject(session, events, ALERT_RELEASE, *refused)
        return
    if record.released_at is not None:
        transition = Transition(state=state_of(record), changed=False)
    else:
        record.released_at = utc_now()
        event = (ALERT_RELEASED, {"person_id": request.person_id})
        transition = Transition(state=state_of(record), events=(event,))
    await apply_transition(session, record, transition, directory, events, command=ALERT_RELEASE)
