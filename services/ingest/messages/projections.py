"""Keeps ingest's message views up to date from the router's ``message.state_changed``.

The state carries every addressee, so the view takes it whole; the other
``message.*`` events (and ingest's own ``message.sent``) change nothing here.
"""

from __future__ import annotations

from sqlalchemy import delete, insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest.messages.tables import MessageAddresseeRecord, MessageViewRecord
from shared.contracts import MESSAGE_STATE_CHANGED
from shared.contracts.messages import AddresseeState, MessageStateV1
from shared.envelope import Envelope


async def apply_message_event(session: AsyncSession, envelope: Envelope) -> None:
    """Apply a ``message.*`` event to the views; replays and stale states are no-ops."""
    if envelope.type != MESSAGE_STATE_CHANGED:
        return
    await apply_message_state(session, MessageStateV1.model_validate(envelope.payload))


async def apply_message_state(session: AsyncSession, state: MessageStateV1) -> bool:
    """Take the router's state when it is newer than the view's; True when taken.

    The view row is locked first, so two consumers applying states of one
    message at once take them one after the other. Unknown messages are ignored.
    """
    view = await session.get(
        MessageViewRecord, str(state.message_id), with_for_update=True, populate_existing=True
    )
    if view is None or state.version <= view.version:
        return False  # not a message this ingest accepted, or an older state handled late
    view.version = state.version
    view.next_escalation_at = state.next_escalation_at
    await session.execute(
        delete(MessageAddresseeRecord).where(MessageAddresseeRecord.message_id == view.message_id)
    )
    # One row per person (the router lists each once; a duplicate would break the key).
    addressees: dict[str, AddresseeState] = {}
    for addressee in state.addressees:
        addressees.setdefault(addressee.person_id, addressee)
    if addressees:
        await session.execute(
            insert(MessageAddresseeRecord),
            [
                {
                    "message_id": view.message_id,
                    "person_id": a.person_id,
                    "position": position,
                    "delivered": a.delivered,
                    "reason": a.reason,
                    "read_at": a.read_at,
                    "acknowledged_at": a.acknowledged_at,
                    "escalation_level": a.escalation_level,
                    "escalated_to": list(a.escalated_to),
                }
                for position, a in enumerate(addressees.values())
            ],
        )
    return True
