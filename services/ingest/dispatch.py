"""Which projection keeps ingest's read side for each type ``ingest.views`` carries.

The types come from ``shared.contracts.registry`` (what the queue delivers, the
router's events inside ``router.decisions``, which ``ViewKeeper`` unpacks), the
projection from the subject the type is about (its first part): an alert's
timeline shows every event of it, its notifications' outcomes included. A type
of a new subject bound to the queue without a projection fails at import.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest.alerts.projections import apply_event
from services.ingest.messages.projections import apply_message_event
from services.ingest.recommendations.projections import apply_recommendation_event
from shared.contracts.registry import INGEST_VIEWS, delivered_to
from shared.envelope import Envelope

log = structlog.get_logger(__name__)

Projection = Callable[[AsyncSession, Envelope], Awaitable[None]]

_BY_SUBJECT: dict[str, Projection] = {
    "alert": apply_event,
    "notification": apply_event,  # on the timeline of the alert it is about
    "message": apply_message_event,
    "recommendation": apply_recommendation_event,
}

#: type -> the projection that applies it to ingest's views.
PROJECTIONS: dict[str, Projection] = {
    type_: _BY_SUBJECT[type_.partition(".")[0]] for type_ in delivered_to(INGEST_VIEWS)
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
