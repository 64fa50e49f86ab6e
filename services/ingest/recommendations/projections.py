"""Keeps ingest's recommendation views up to date from the router's events.

Every ``recommendation.*`` event of a recommendation this ingest accepted goes
into its timeline (keyed by event id: a redelivery is a no-op);
``recommendation.state_changed`` replaces the view's state when its version is
newer than the one shown (consumers run concurrently, so an older state may
arrive late).
"""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest.recommendations.tables import (
    RecommendationAddresseeRecord,
    RecommendationTimelineRecord,
    RecommendationViewRecord,
)
from shared.contracts import RECOMMENDATION_STATE_CHANGED
from shared.contracts.recommendations import RecommendationStateV1
from shared.db import insert_ignoring_duplicates
from shared.envelope import Envelope
from shared.state_rows import take_state

# The submitted payload repeats the view's fields: the timeline keeps only the event.
_REPEATED_FIELDS = frozenset(
    {"recommendation_id", "addressee", "sector", "action", "rationale", "due_by", "alert_id"}
)


async def apply_recommendation_event(session: AsyncSession, envelope: Envelope) -> None:
    """Add the event to its recommendation's timeline and apply a newer state."""
    view = await session.get(
        RecommendationViewRecord, str(envelope.correlation_id), with_for_update=True
    )
    if view is None:
        return  # not a recommendation this ingest accepted
    detail = {k: v for k, v in envelope.payload.items() if k not in _REPEATED_FIELDS}
    await insert_ignoring_duplicates(
        session,
        RecommendationTimelineRecord.__table__,  # type: ignore[arg-type]
        {
            "event_id": str(envelope.id),
            "recommendation_id": view.recommendation_id,
            "type": envelope.type,
            "occurred_at": envelope.occurred_at,
            "actor": envelope.actor,
            "detail": detail,
        },
    )
    if envelope.type == RECOMMENDATION_STATE_CHANGED:
        state = RecommendationStateV1.model_validate(envelope.payload)
        if apply_state(view, state):
            await _replace_addressees(session, view.recommendation_id, state.addressees)


def apply_state(view: RecommendationViewRecord, state: RecommendationStateV1) -> bool:
    """Take the router's state, whole, when it is newer than the view's; True when taken."""
    if state.version <= view.version:
        return False  # an older state handled late, or a redelivery
    take_state(view, state, keep=frozenset({"recommendation_id"}))
    return True


async def _replace_addressees(
    session: AsyncSession, recommendation_id: str, addressees: list[str]
) -> None:
    await session.execute(
        delete(RecommendationAddresseeRecord).where(
            RecommendationAddresseeRecord.recommendation_id == recommendation_id
        )
    )
    session.add_all(
        RecommendationAddresseeRecord(recommendation_id=recommendation_id, person_id=person_id)
        for person_id in dict.fromkeys(addressees)
    )
