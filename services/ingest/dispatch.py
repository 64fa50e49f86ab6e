"""Which projection keeps ingest's read side for each type ``ingest.views`` carries.

``PROJECTIONS`` lists the types one by one: tests/unit/test_event_registry.py
checks that they are exactly the types ``shared.contracts.registry`` routes to
``ingest.views``, so a type is not bound to the queue without a projection, nor
projected without being bound.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest.message_projections import apply_message_event
from services.ingest.projections import apply_event
from services.ingest.recommendation_projections import apply_recommendation_event
from shared.contracts import (
    ALERT_ACK_RECORDED,
    ALERT_ACKNOWLEDGE,
    ALERT_ACKNOWLEDGED,
    ALERT_ADD_NOTE,
    ALERT_COMMAND_REJECTED,
    ALERT_DEDUPLICATED,
    ALERT_ESCALATED,
    ALERT_EXHAUSTED,
    ALERT_MERGED,
    ALERT_NOTE_ADDED,
    ALERT_RAISED,
    ALERT_RESOLVE,
    ALERT_RESOLVED,
    ALERT_RETRIGGERED,
    ALERT_STATE_CHANGED,
    ALERT_TARGET_UNREACHABLE,
    ALERT_TRIGGERED,
    ALERT_UNROUTED,
    MESSAGE_ACKNOWLEDGE,
    MESSAGE_ACKNOWLEDGED,
    MESSAGE_ADDRESSED,
    MESSAGE_COMMAND_REJECTED,
    MESSAGE_ESCALATED,
    MESSAGE_MARK_READ,
    MESSAGE_READ,
    MESSAGE_SENT,
    MESSAGE_STATE_CHANGED,
    NOTIFICATION_CHANNEL_FAILED,
    NOTIFICATION_DELIVERED,
    NOTIFICATION_FAILED,
    NOTIFICATION_REQUESTED,
    RECOMMENDATION_ACKNOWLEDGE,
    RECOMMENDATION_ACKNOWLEDGED,
    RECOMMENDATION_COMMAND_REJECTED,
    RECOMMENDATION_ESCALATED,
    RECOMMENDATION_ISSUED,
    RECOMMENDATION_RESPOND,
    RECOMMENDATION_RESPONDED,
    RECOMMENDATION_STATE_CHANGED,
    RECOMMENDATION_SUBMITTED,
    RECOMMENDATION_UNDELIVERABLE,
)
from shared.envelope import Envelope

log = structlog.get_logger(__name__)

Projection = Callable[[AsyncSession, Envelope], Awaitable[None]]

# An alert's timeline shows every event of it, its notifications' outcomes included.
_ALERT_TIMELINE = (
    ALERT_RAISED,
    ALERT_ACKNOWLEDGE,
    ALERT_RESOLVE,
    ALERT_ADD_NOTE,
    ALERT_TRIGGERED,
    ALERT_TARGET_UNREACHABLE,
    ALERT_UNROUTED,
    ALERT_ESCALATED,
    ALERT_ACK_RECORDED,
    ALERT_ACKNOWLEDGED,
    ALERT_RETRIGGERED,
    ALERT_EXHAUSTED,
    ALERT_RESOLVED,
    ALERT_NOTE_ADDED,
    ALERT_MERGED,
    ALERT_DEDUPLICATED,
    ALERT_COMMAND_REJECTED,
    ALERT_STATE_CHANGED,
    NOTIFICATION_REQUESTED,
    NOTIFICATION_DELIVERED,
    NOTIFICATION_FAILED,
    NOTIFICATION_CHANNEL_FAILED,
)
_MESSAGES = (
    MESSAGE_SENT,
    MESSAGE_MARK_READ,
    MESSAGE_ACKNOWLEDGE,
    MESSAGE_ADDRESSED,
    MESSAGE_READ,
    MESSAGE_ACKNOWLEDGED,
    MESSAGE_ESCALATED,
    MESSAGE_COMMAND_REJECTED,
    MESSAGE_STATE_CHANGED,
)
_RECOMMENDATIONS = (
    RECOMMENDATION_SUBMITTED,
    RECOMMENDATION_ACKNOWLEDGE,
    RECOMMENDATION_RESPOND,
    RECOMMENDATION_ISSUED,
    RECOMMENDATION_UNDELIVERABLE,
    RECOMMENDATION_ACKNOWLEDGED,
    RECOMMENDATION_RESPONDED,
    RECOMMENDATION_ESCALATED,
    RECOMMENDATION_COMMAND_REJECTED,
    RECOMMENDATION_STATE_CHANGED,
)

#: type -> the projection that applies it to ingest's views.
PROJECTIONS: dict[str, Projection] = {
    **dict.fromkeys(_ALERT_TIMELINE, apply_event),
    **dict.fromkeys(_MESSAGES, apply_message_event),
    **dict.fromkeys(_RECOMMENDATIONS, apply_recommendation_event),
}


async def project(session: AsyncSession, envelope: Envelope) -> None:
    """Apply one event to the view it concerns; a type without a projection is skipped.

    Skipped, not refused: the read side has nothing to do with it, and a refusal would
    only cycle it to the dead-letter queue (say, through a binding of an older release).
    """
    projection = PROJECTIONS.get(envelope.type)
    if projection is None:
        log.warning("views.type_not_projected", type=envelope.type)
        return
    await projection(session, envelope)
