"""Converting between the alert row and the escalation rules' state and snapshot."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import TypeAdapter

from services.router.alerts.escalation import (
    Acknowledgement,
    EscalationState,
    PolicySnapshot,
    TimerKind,
)
from services.router.alerts.tables import AlertRecord

# The snapshot's one shape is the dataclass: stored on the alert and on its
# ``alert.triggered`` event as its JSON form, read back by the same adapter.
_SNAPSHOT = TypeAdapter(PolicySnapshot)


def snapshot_to_json(snapshot: PolicySnapshot) -> dict[str, Any]:
    """The snapshot as stored on the alert (and shown to auditors)."""
    stored: dict[str, Any] = _SNAPSHOT.dump_python(snapshot, mode="json")
    return stored


def snapshot_from_json(data: dict[str, Any]) -> PolicySnapshot:
    """The snapshot stored on an alert."""
    return _SNAPSHOT.validate_python(data)


def state_of(record: AlertRecord) -> EscalationState:
    """The escalation state held by an alert row."""
    return EscalationState(
        status=record.status,
        cycle=record.cycle,
        loop=record.loop,
        level=record.level,
        exhausted=record.exhausted,
        acknowledgements=tuple(
            Acknowledgement(a["person_id"], a["component"], datetime.fromisoformat(a["at"]))
            for a in record.acknowledgements
        ),
        paged=tuple(record.targets),
        timer=TimerKind(record.timer_kind) if record.timer_kind else None,
        timer_due_at=record.timer_due_at,
    )


def store_state(record: AlertRecord, state: EscalationState) -> None:
    """Write ``state`` onto the row and bump its version (readers keep the newest)."""
    record.status = state.status
    record.cycle = state.cycle
    record.loop = state.loop
    record.level = state.level
    record.exhausted = state.exhausted
    record.acknowledgements = [
        {"person_id": a.person_id, "component": a.component, "at": a.at.isoformat()}
        for a in state.acknowledgements
    ]
    record.targets = list(state.paged)
    record.timer_kind = state.timer.value if state.timer else None
    record.timer_due_at = state.timer_due_at
    record.version = (record.version or 0) + 1
