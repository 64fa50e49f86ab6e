"""Appending to the router's event log (the record auditors replay): see shared.event_log."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from shared.envelope import Envelope
from shared.event_log import append


async def append_events(session: AsyncSession, *envelopes: Envelope) -> None:
    """Append envelopes to the log, in the caller's transaction, in the given order.

    Call it after the transaction has taken its row locks (the log's lock comes last).
    """
    await append(session, envelopes)
