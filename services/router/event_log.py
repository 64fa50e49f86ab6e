"""Appending to the router's event log (the record auditors replay)."""

from __future__ import annotations

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.router.tables import EventRecord
from shared.envelope import Envelope, utc_now


async def append_events(session: AsyncSession, *envelopes: Envelope) -> None:
    """Append envelopes to the log, in the caller's transaction, in the given order."""
    if not envelopes:
        return
    now = utc_now()
    await session.execute(
        insert(EventRecord),
        [
            {
                "event_id": str(e.id),
                "type": e.type,
                "schema_version": e.schema_version,
                "occurred_at": e.occurred_at,
                "recorded_at": now,
                "producer": e.producer,
                "actor": e.actor,
                "correlation_id": str(e.correlation_id),
                "causation_id": str(e.causation_id) if e.causation_id else None,
                "classification": e.classification.value,
                "payload": e.payload,
            }
            for e in envelopes
        ],
    )
