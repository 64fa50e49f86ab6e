"""Every message type: who produces it, and which durable queues take it.

The one place that says where a type goes. ``shared.bus`` binds its queues
from it (exact routing keys), ``shared.outbox.add_to_outbox`` refuses a type
that no queue takes (it would be returned as unroutable and never published),
and tests/unit/shared/test_event_registry.py checks each service's dispatch against
it: a service handles exactly the types routed to its queue.

A type with no queue is *log-only*: the router appends it to the event log and
never stages it in an outbox (``directory.loaded``: nobody consumes it; the
CLI and every service read the stored versions instead).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shared.contracts import (
    ALERT_ACK_RECORDED,
    ALERT_ACKNOWLEDGE,
    ALERT_ACKNOWLEDGED,
    ALERT_ADD_NOTE,
    ALERT_COMMAND_REJECTED,
    ALERT_DEDUPLICATED,
    ALERT_ESCALATED,
    ALERT_EXHAUSTED,
    ALERT_LINK_USED,
    ALERT_MERGED,
    ALERT_NOTE_ADDED,
    ALERT_RAISED,
    ALERT_RELEASE,
    ALERT_RELEASED,
    ALERT_RESOLVE,
    ALERT_RESOLVED,
    ALERT_RETRIGGERED,
    ALERT_STATE_CHANGED,
    ALERT_TARGET_UNREACHABLE,
    ALERT_TRIGGERED,
    ALERT_UNROUTED,
    ALERT_UPGRADED,
    AUDIT_ACCESSED,
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
    OUTBOX_DROPPED,
    OUTBOX_PARKED,
    OUTBOX_RETRIED,
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
    ROUTER_DECISIONS,
    SMS_RECEIVED,
    SMS_TRIAGED,
)
from shared.directory_store import DIRECTORY_LOAD, DIRECTORY_LOADED, DIRECTORY_REJECTED

# The durable queues (declared in shared.bus) and who consumes them.
ROUTER_INBOX = "router.inbox"  # the router: commands, and what goes on the event log
NOTIFIER_INBOX = "notifier.inbox"  # the notifier: what to deliver
INGEST_VIEWS = "ingest.views"  # ingest: its read side (views, timelines)
QUEUES = (ROUTER_INBOX, NOTIFIER_INBOX, INGEST_VIEWS)

# Producers. The services stage into their outbox; the CLI publishes once, confirmed.
INGEST, ROUTER, NOTIFIER, CLI = "ingest", "router", "notifier", "coord-cli"
OUTBOX_OWNERS = (INGEST, ROUTER, NOTIFIER)


@dataclass(frozen=True)
class Route:
    """Who produces a type, and the durable queues bound to it (none: log-only)."""

    producers: frozenset[str]
    queues: frozenset[str]

    @property
    def log_only(self) -> bool:
        """Never published: appended to the event log only, never staged in an outbox."""
        return not self.queues


def _route(producers: str | tuple[str, ...], *queues: str) -> Route:
    named = (producers,) if isinstance(producers, str) else producers
    return Route(frozenset(named), frozenset(queues))


_R, _N, _V = ROUTER_INBOX, NOTIFIER_INBOX, INGEST_VIEWS

#: type -> its route. Ingest's views take every alert, notification, message and
#: recommendation type (timelines show them all, commands included as they come back),
#: but ``alert.raised``: the ingest that accepts an alert writes its view and timeline in
#: the same transaction (every replica shares the database), so its projection was a
#: no-op costing a delivery and a transaction per alert (docs/performance.md).
ROUTES: Mapping[str, Route] = {
    # alerts: raised and commanded through ingest, decided by the router
    ALERT_RAISED: _route(INGEST, _R),
    ALERT_ACKNOWLEDGE: _route(INGEST, _R, _V),
    ALERT_RESOLVE: _route(INGEST, _R, _V),
    ALERT_ADD_NOTE: _route(INGEST, _R, _V),
    ALERT_RELEASE: _route(INGEST, _R, _V),
    ALERT_LINK_USED: _route(INGEST, _R, _V),  # on the log, and on the alert's timeline
    SMS_RECEIVED: _route(INGEST, _R),  # on the log; its command speaks on the timeline
    SMS_TRIAGED: _route(INGEST, _R),  # a CLA's decision on an unknown number's SMS
    ALERT_TRIGGERED: _route(ROUTER, _V),
    ALERT_TARGET_UNREACHABLE: _route(ROUTER, _V),
    ALERT_UNROUTED: _route(ROUTER, _V),
    ALERT_ESCALATED: _route(ROUTER, _V),
    ALERT_ACK_RECORDED: _route(ROUTER, _V),
    ALERT_ACKNOWLEDGED: _route(ROUTER, _V),
    ALERT_RETRIGGERED: _route(ROUTER, _V),
    ALERT_EXHAUSTED: _route(ROUTER, _V),
    ALERT_RESOLVED: _route(ROUTER, _V),
    ALERT_NOTE_ADDED: _route(ROUTER, _V),
    ALERT_RELEASED: _route(ROUTER, _V),
    ALERT_MERGED: _route(ROUTER, _V),
    ALERT_DEDUPLICATED: _route(ROUTER, _V),
    ALERT_UPGRADED: _route(ROUTER, _V),
    ALERT_COMMAND_REJECTED: _route(ROUTER, _V),
    ALERT_STATE_CHANGED: _route(ROUTER, _V),
    # notifications: requested by the router, delivered by the notifier
    NOTIFICATION_REQUESTED: _route(ROUTER, _N, _V),
    NOTIFICATION_DELIVERED: _route(NOTIFIER, _R, _V),
    NOTIFICATION_FAILED: _route(NOTIFIER, _R, _V),
    NOTIFICATION_CHANNEL_FAILED: _route(NOTIFIER, _R, _V),
    # coordination messages
    MESSAGE_SENT: _route(INGEST, _R, _V),
    MESSAGE_MARK_READ: _route(INGEST, _R, _V),
    MESSAGE_ACKNOWLEDGE: _route(INGEST, _R, _V),
    MESSAGE_ADDRESSED: _route(ROUTER, _V),
    MESSAGE_READ: _route(ROUTER, _V),
    MESSAGE_ACKNOWLEDGED: _route(ROUTER, _V),
    MESSAGE_ESCALATED: _route(ROUTER, _V),
    MESSAGE_COMMAND_REJECTED: _route(ROUTER, _V),
    MESSAGE_STATE_CHANGED: _route(ROUTER, _V),
    # recommendations
    RECOMMENDATION_SUBMITTED: _route(INGEST, _R, _V),
    RECOMMENDATION_ACKNOWLEDGE: _route(INGEST, _R, _V),
    RECOMMENDATION_RESPOND: _route(INGEST, _R, _V),
    RECOMMENDATION_ISSUED: _route(ROUTER, _V),
    RECOMMENDATION_UNDELIVERABLE: _route(ROUTER, _V),
    RECOMMENDATION_ACKNOWLEDGED: _route(ROUTER, _V),
    RECOMMENDATION_RESPONDED: _route(ROUTER, _V),
    RECOMMENDATION_ESCALATED: _route(ROUTER, _V),
    RECOMMENDATION_COMMAND_REJECTED: _route(ROUTER, _V),
    RECOMMENDATION_STATE_CHANGED: _route(ROUTER, _V),
    # the log itself: reading it, the directory, the outboxes
    AUDIT_ACCESSED: _route((INGEST, CLI), _R),
    DIRECTORY_LOAD: _route(CLI, _R),
    DIRECTORY_LOADED: _route(ROUTER),  # log-only
    DIRECTORY_REJECTED: _route(ROUTER),  # log-only
    OUTBOX_PARKED: _route(OUTBOX_OWNERS, _R),
    OUTBOX_RETRIED: _route(CLI, _R),
    OUTBOX_DROPPED: _route(CLI, _R),
    # transport: the router's events for the views, one message per transaction
    ROUTER_DECISIONS: _route(ROUTER, _V),
}


def in_decisions(type_: str) -> bool:
    """True for a router event that reaches ingest's views inside ``router.decisions``.

    Every event only the router produces that the views take: the views' queue is bound
    to ``router.decisions`` instead of to each of them (``shared.decisions.pack``).
    """
    route = ROUTES.get(type_)
    return (
        type_ != ROUTER_DECISIONS
        and route is not None
        and route.producers == {ROUTER}
        and INGEST_VIEWS in route.queues
    )


def delivered_to(queue: str) -> tuple[str, ...]:
    """The event types ``queue``'s consumer is given, by their own or in decisions (sorted)."""
    return tuple(
        sorted(t for t, route in ROUTES.items() if queue in route.queues and t != ROUTER_DECISIONS)
    )


def bindings(queue: str) -> tuple[str, ...]:
    """The routing keys bound to ``queue`` (exact types, sorted).

    A router event the views take in ``router.decisions`` is not bound to them by its own.
    """
    return tuple(
        sorted(
            t
            for t, route in ROUTES.items()
            if queue in route.queues and not (queue == INGEST_VIEWS and in_decisions(t))
        )
    )


def is_published(type_: str) -> bool:
    """True when some durable queue takes ``type_`` (so publishing it cannot be unroutable)."""
    route = ROUTES.get(type_)
    return route is not None and not route.log_only
