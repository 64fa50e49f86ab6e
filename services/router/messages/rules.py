"""Per-addressee rules of a coordination message: reads, acknowledgements, escalation.

Pure functions over ``AddresseeState`` lists, no I/O. A ``requires_ack``
message that an addressee has not acknowledged by the due time escalates to
their superior; each further window without an acknowledgement goes one step
further up the chain of command, until the chain ends.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.contracts.messages import AddresseeState


def _find(addressees: list[AddresseeState], person_id: str) -> AddresseeState | None:
    return next((a for a in addressees if a.person_id == person_id and a.delivered), None)


def mark_read(
    addressees: list[AddresseeState], person_id: str, now: datetime
) -> list[AddresseeState] | None:
    """The addressees with ``person_id``'s first read; None when nothing changes."""
    found = _find(addressees, person_id)
    if found is None or found.read_at is not None:
        return None
    read = found.model_copy(update={"read_at": now})
    return [read if a is found else a for a in addressees]


def acknowledge(
    addressees: list[AddresseeState], person_id: str, requires_ack: bool, now: datetime
) -> tuple[list[AddresseeState] | None, str | None]:
    """The addressees after ``person_id`` acknowledges, or (None, why it is refused).

    An acknowledgement counts as a read too.
    """
    found = _find(addressees, person_id)
    if found is None:
        return None, f"{person_id} is not a delivered addressee of this message"
    if not requires_ack:
        return None, "this message does not ask for an acknowledgement"
    if found.acknowledged_at is not None:
        return None, f"{person_id} already acknowledged"
    acked = found.model_copy(update={"acknowledged_at": now, "read_at": found.read_at or now})
    return [acked if a is found else a for a in addressees], None


def awaiting_ack(addressees: list[AddresseeState]) -> list[AddresseeState]:
    """Delivered addressees who have not acknowledged and whose escalation has not ended."""
    return [
        a
        for a in addressees
        if a.delivered and a.acknowledged_at is None and not a.escalation_ended
    ]


def next_due(
    addressees: list[AddresseeState], due_at: datetime, window: timedelta
) -> datetime | None:
    """When the next escalation step is due after the one at ``due_at``; None when done."""
    return due_at + window if awaiting_ack(addressees) else None
