"""Converting between the alert row and the escalation rules' state and snapshot."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from services.router.alerts.escalation import (
    EscalationState,
    PolicySnapshot,
    TimerKind,
)
from services.router.alerts.tables import AlertRecord
from shared.state_rows import state_from, take_state

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
    # The row names two fields after what they hold: ``targets`` (everyone paged) and
    # ``timer_kind``; the rest share the state's names.
    return state_from(
        EscalationState,
        record,
        paged=record.targets,
        timer=TimerKind(record.timer_kind) if record.timer_kind else None,
    )


def store_state(record: AlertRecord, state: EscalationState) -> None:
    """Write ``state`` onto the row and bump its version (readers keep the newest)."""
    take_state(record, state)
    record.targets = list(state.paged)
    record.timer_kind = state.timer.value if state.timer else None
    record.version = (record.version or 0) + 1
