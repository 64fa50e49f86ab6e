"""One registry of message types (shared/contracts/registry.py) and everything built on it:
the queues' bindings, each service's dispatch, and the outbox's guard (issue #12)."""

from __future__ import annotations

from typing import Any

import pytest

from services.ingest.dispatch import PROJECTIONS
from services.notifier.service import HANDLERS
from services.router.handlers import EFFECTS
from shared.bus import INGEST_VIEWS_QUEUE, NOTIFIER_QUEUE, ROUTER_QUEUE, TOPOLOGY
from shared.contracts import EVENT_TYPES
from shared.contracts.registry import (
    CLI,
    INGEST_VIEWS,
    NOTIFIER_INBOX,
    OUTBOX_OWNERS,
    QUEUES,
    ROUTER_INBOX,
    ROUTES,
    bindings,
    delivered_to,
    is_published,
)
from shared.directory_store import DIRECTORY_LOAD, DIRECTORY_LOADED, DIRECTORY_REJECTED
from shared.outbox import UnpublishableType, add_to_outbox
from tests.support.builders import raised_envelope

#: queue -> the types its consumer dispatches on.
DISPATCH: dict[str, set[str]] = {
    ROUTER_INBOX: set(EFFECTS),
    NOTIFIER_INBOX: set(HANDLERS),
    INGEST_VIEWS: set(PROJECTIONS),
}


@pytest.mark.parametrize("queue", QUEUES)
def test_each_service_handles_exactly_the_types_routed_to_its_queue(queue: str) -> None:
    routed = set(delivered_to(queue))
    assert DISPATCH[queue] - routed == set(), "handled, but never delivered to the queue"
    assert routed - DISPATCH[queue] == set(), "delivered to the queue, but nobody handles it"


def test_the_queues_are_bound_to_exact_types_from_the_registry() -> None:
    assert {spec.name for spec in TOPOLOGY} == set(QUEUES)
    for spec in (ROUTER_QUEUE, NOTIFIER_QUEUE, INGEST_VIEWS_QUEUE):
        assert spec.bindings == bindings(spec.name)
        assert not [b for b in spec.bindings if "#" in b or "*" in b], "no wildcards"


def test_every_known_type_is_registered() -> None:
    known = {type_ for type_, _ in EVENT_TYPES} | {
        DIRECTORY_LOAD,
        DIRECTORY_LOADED,
        DIRECTORY_REJECTED,
    }
    assert set(ROUTES) == known


def test_every_staged_type_has_a_queue_and_only_the_log_only_ones_have_none() -> None:
    # Log-only: appended to the router's log, never staged in an outbox (nobody consumes it).
    log_only = {type_ for type_, route in ROUTES.items() if route.log_only}
    assert log_only == {DIRECTORY_LOADED, DIRECTORY_REJECTED}
    for type_, route in ROUTES.items():
        assert route.producers, f"{type_}: who produces it?"
        assert route.producers <= {*OUTBOX_OWNERS, CLI}, type_
        assert route.queues <= set(QUEUES), type_
        assert is_published(type_) is (type_ not in log_only)


def test_the_outbox_notices_and_the_log_reading_go_to_the_router() -> None:
    for type_ in ("outbox.parked", "outbox.retried", "outbox.dropped", "audit.accessed"):
        assert ROUTES[type_].queues == {ROUTER_INBOX}, type_


class _NoSession:
    """add_to_outbox must refuse before it touches the session."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the session was used ({name}) for a type no queue takes")


@pytest.mark.parametrize("type_", [DIRECTORY_LOADED, DIRECTORY_REJECTED, "nobody.listens"])
async def test_add_to_outbox_refuses_a_type_no_queue_takes(type_: str) -> None:
    envelope = raised_envelope().model_copy(update={"type": type_})
    with pytest.raises(UnpublishableType, match="routed to no queue"):
        await add_to_outbox(_NoSession(), None, raised_envelope(), envelope)  # type: ignore[arg-type]
