"""The router's events for ingest's views, packed one message per transaction.

``pack`` is what an outbox writes at commit: each envelope as itself for the queues
that take it directly, and the ones the views take from the router
(``shared.contracts.registry.in_decisions``) together in one ``router.decisions``
envelope, in order. ``unpack`` gives a consumer the events back.
"""

from __future__ import annotations

from collections.abc import Sequence

from shared.contracts import ROUTER_DECISIONS
from shared.contracts.decisions import RouterDecisionsV1
from shared.contracts.registry import INGEST_VIEWS, ROUTER, ROUTES, in_decisions
from shared.envelope import Classification, Envelope

_LEVELS = list(Classification)


def pack(envelopes: Sequence[Envelope]) -> list[Envelope]:
    """The messages that carry ``envelopes``, in order.

    Each on its own where a queue takes it directly, then one ``router.decisions`` with
    the views' share of the router's events, if any.
    """
    alone = [e for e in envelopes if _direct_queues(e.type)]
    decided = [e for e in envelopes if in_decisions(e.type)]
    if not decided:
        return alone
    first = decided[0]
    carrier = Envelope(
        type=ROUTER_DECISIONS,
        producer=ROUTER,
        actor=ROUTER,
        correlation_id=first.correlation_id,
        causation_id=first.causation_id,
        # What it carries is only read by the views; marked as its most sensitive event.
        classification=max((e.classification for e in decided), key=_LEVELS.index),
        payload=RouterDecisionsV1(events=[e.model_dump(mode="json") for e in decided]).model_dump(
            mode="json"
        ),
    )
    return [*alone, carrier]


def unpack(envelope: Envelope) -> list[Envelope]:
    """The events an envelope carries: a ``router.decisions``' events, else itself."""
    if envelope.type != ROUTER_DECISIONS:
        return [envelope]
    decisions = RouterDecisionsV1.model_validate(envelope.payload)
    return [Envelope.model_validate(event) for event in decisions.events]


def _direct_queues(type_: str) -> frozenset[str]:
    """The queues that take ``type_`` as a message of its own."""
    queues = ROUTES[type_].queues
    return queues - {INGEST_VIEWS} if in_decisions(type_) else queues
