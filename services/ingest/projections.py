"""Keeps ingest's alert views up to date from the events of the other services."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest.tables import AlertPersonRecord, AlertViewRecord, TimelineRecord
from shared.contracts import ALERT_STATE_CHANGED, ALERT_TRIGGERED
from shared.contracts.alerts import AlertTriggeredV1
from shared.contracts.escalation import AlertStateV1
from shared.db import insert_ignoring_duplicates
from shared.envelope import Envelope

# Payload fields never copied into a timeline: contact addresses, the alert body, and
# the policy snapshot (auditors read it with `coord audit explain`).
_PRIVATE_FIELDS = frozenset({"address", "contacts", "alert", "source", "snapshot"})


async def apply_event(session: AsyncSession, envelope: Envelope) -> None:
    """Add the event to its alert's timeline and update the view; replays are no-ops."""
    view = await session.get(AlertViewRecord, str(envelope.correlation_id), with_for_update=True)
    if view is None:
        return  # not an alert this ingest accepted (e.g. another thread type)
    if envelope.type == ALERT_STATE_CHANGED:
        known = {*view.targets, *view.chain}
        apply_state(view, AlertStateV1.model_validate(envelope.payload))
        await _concerns(session, view.alert_id, {*view.targets, *view.chain} - known)
        return
    detail = {k: v for k, v in envelope.payload.items() if k not in _PRIVATE_FIELDS}
    detail.pop("alert_id", None)
    inserted = await insert_ignoring_duplicates(
        session,
        TimelineRecord.__table__,  # type: ignore[arg-type]
        {
            "event_id": str(envelope.id),
            "alert_id": view.alert_id,
            "type": envelope.type,
            "occurred_at": envelope.occurred_at,
            "detail": {"actor": envelope.actor, **detail},
        },
    )
    if inserted and envelope.type == ALERT_TRIGGERED and view.version == 0:
        # Before the first state arrives, show who level 1 pages.
        triggered = AlertTriggeredV1.model_validate(envelope.payload)
        view.policy_id = triggered.policy_id
        view.level = triggered.level
        view.targets = triggered.targets
        await _concerns(session, view.alert_id, set(triggered.targets))


async def _concerns(session: AsyncSession, alert_id: str, people: set[str]) -> None:
    """Record that the alert concerns ``people`` (need-to-know for the list in SQL)."""
    for person_id in sorted(people):
        await insert_ignoring_duplicates(
            session,
            AlertPersonRecord.__table__,  # type: ignore[arg-type]
            {"alert_id": alert_id, "person_id": person_id},
        )


def apply_state(view: AlertViewRecord, state: AlertStateV1) -> None:
    """Take the router's state when it is newer than what the view shows."""
    if state.version <= view.version:
        return  # an older state handled late (consumers run concurrently)
    view.version = state.version
    view.status = state.status
    view.policy_id = state.policy_id
    view.level = state.level
    view.loop = state.loop
    view.exhausted = state.exhausted
    view.next_escalation_at = state.next_escalation_at
    view.targets = state.targets
    view.chain = state.chain
    view.acknowledgements = [a.model_dump(mode="json") for a in state.acknowledgements]
    view.dedup_count = state.dedup_count
    view.merged_into = str(state.merged_into) if state.merged_into else None
