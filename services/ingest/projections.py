"""Keeps ingest's alert views up to date from the events of the other services."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest.tables import AlertViewRecord, TimelineRecord
from shared.contracts import ALERT_TRIGGERED
from shared.contracts.alerts import AlertTriggeredV1
from shared.db import insert_ignoring_duplicates
from shared.envelope import Envelope

# Later lifecycle states rank higher, so an event handled late never moves an
# alert back (consumers handle messages concurrently).
STATUS_RANK = {"raised": 0, "triggered": 1}

# Payload fields never copied into a timeline: contact addresses, the alert body.
_PRIVATE_FIELDS = frozenset({"address", "alert", "source"})


async def apply_event(session: AsyncSession, envelope: Envelope) -> None:
    """Add the event to its alert's timeline and update the view; replays are no-ops."""
    view = await session.get(AlertViewRecord, str(envelope.correlation_id), with_for_update=True)
    if view is None:
        return  # not an alert this ingest accepted (e.g. another thread type)
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
    if not inserted or envelope.type != ALERT_TRIGGERED:
        return
    triggered = AlertTriggeredV1.model_validate(envelope.payload)
    if STATUS_RANK["triggered"] >= view.status_rank:
        view.status = "triggered"
        view.status_rank = STATUS_RANK["triggered"]
        view.policy_id = triggered.policy_id
        view.level = triggered.level
        view.targets = triggered.targets
