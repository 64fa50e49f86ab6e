"""Ingest's read side: events of the other services update the alert view it serves.

The router's events are the real ones: the router handler runs on the same
database and what it stages in its outbox is applied to ingest's view, as the
bus would deliver it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import httpx
import pytest
from sqlalchemy import inspect

from services.ingest.alerts.projections import apply_event
from services.ingest.alerts.tables import AlertViewRecord, TimelineRecord
from services.ingest.tables import OUTBOX
from services.router.handlers import RouterHandler
from services.router.tables import OUTBOX as ROUTER_OUTBOX
from shared.auth import mint_token
from shared.contracts import (
    ALERT_ACKNOWLEDGE,
    ALERT_STATE_CHANGED,
    NOTIFICATION_DELIVERED,
    NOTIFICATION_FAILED,
    NOTIFICATION_REQUESTED,
)
from shared.contracts.escalation import AcknowledgeAlertV1
from shared.contracts.notifications import NotificationDeliveredV2, NotificationFailedV2
from shared.envelope import Envelope
from tests.support.builders import SOURCE, alert_request, state_changed
from tests.support.database import Database
from tests.support.directories import directory_with_unreachable_target
from tests.support.ingest_client import ingest_client
from tests.support.outbox import events, messages

pytestmark = pytest.mark.integration

JWT_SECRET = "projection-jwt-secret-" + "0123456789abcdef" * 3
HEADERS = {"Authorization": f"Bearer {mint_token('jo.operator', JWT_SECRET)}"}


@pytest.fixture
async def client(db: Database) -> AsyncIterator[httpx.AsyncClient]:
    async with ingest_client(
        db, JWT_SECRET, directory=directory_with_unreachable_target()
    ) as client:
        yield client


@pytest.fixture
def router(db: Database) -> RouterHandler:
    directory = directory_with_unreachable_target()
    return RouterHandler(db.sessions, lambda: directory)


async def apply(db: Database, *envelopes: Envelope) -> None:
    for envelope in envelopes:
        async with db.sessions() as session, session.begin():
            await apply_event(session, envelope)


async def route(db: Database, router: RouterHandler, message: Envelope) -> list[Envelope]:
    """Hand ``message`` to the router; the events it staged for the bus (each once)."""
    before = len(await messages(db.sessions, ROUTER_OUTBOX))
    await router(message)
    return events((await messages(db.sessions, ROUTER_OUTBOX))[before:])


async def raise_alert(db: Database, client: httpx.AsyncClient, **overrides: object) -> Envelope:
    """Raise through the API; the ``alert.raised`` envelope ingest staged for the bus."""
    response = await client.post(
        "/v1/alerts", json=alert_request(source=SOURCE, **overrides), headers=HEADERS
    )
    assert response.status_code == 201, response.text
    async with db.sessions() as session:
        rows = (await session.execute(OUTBOX.select().order_by(OUTBOX.c.position))).all()
    return Envelope.model_validate_json(bytes(rows[-1].body))


async def view_of(client: httpx.AsyncClient, raised: Envelope) -> dict[str, Any]:
    response = await client.get(f"/v1/alerts/{raised.correlation_id}", headers=HEADERS)
    assert response.status_code == 200, response.text
    return dict(response.json())


def outcome(requested: Envelope, *, failed: bool = False) -> Envelope:
    fields = {
        "notification_id": requested.payload["notification_id"],
        "subject_type": "alert",
        "subject_id": requested.payload["subject_id"],
        "person_id": requested.payload["person_id"],
        "kind": requested.payload["kind"],
        "channel": "webhook",
        "attempts": 2,
    }
    if failed:
        return requested.caused(
            NOTIFICATION_FAILED,
            NotificationFailedV2.model_validate({**fields, "error": "WebhookRejected: HTTP 500"}),
            producer="notifier",
            schema_version=2,
        )
    return requested.caused(
        NOTIFICATION_DELIVERED,
        NotificationDeliveredV2.model_validate(fields),
        producer="notifier",
        schema_version=2,
    )


def acknowledgement(raised: Envelope, person_id: str) -> Envelope:
    return raised.caused(
        ALERT_ACKNOWLEDGE,
        AcknowledgeAlertV1(alert_id=raised.payload["alert_id"], person_id=person_id),
        producer="ingest",
        actor=person_id,
    )


def of_type(events: list[Envelope], type_: str) -> list[Envelope]:
    return [e for e in events if e.type == type_]


async def test_view_follows_the_alert_through_routing_and_delivery(
    db: Database, client: httpx.AsyncClient, router: RouterHandler
) -> None:
    raised = await raise_alert(db, client, category="displacement", sector="north")
    routed = await route(db, router, raised)
    [to_lucas] = of_type(routed, NOTIFICATION_REQUESTED)

    # the bus delivers ingest's own alert.raised back to it, then the router's events
    await apply(db, raised, *routed, outcome(to_lucas))

    response = await client.get(f"/v1/alerts/{raised.correlation_id}", headers=HEADERS)
    assert response.status_code == 200
    view = response.json()
    assert view["status"] == "triggered"
    assert view["policy_id"] == "can-relay"
    assert (view["level"], view["current_level"], view["loop"]) == (1, 1, 0)
    assert view["exhausted"] is False
    assert view["next_escalation_at"] is not None
    assert view["targets"] == ["amani.cla", "lucas.ho"]
    assert view["chain"] == ["amani.cla", "lucas.ho"]
    assert view["acknowledgements"] == []
    assert (view["dedup_count"], view["merged_into"]) == (1, None)
    assert view["notified"] == ["lucas.ho"]
    assert sorted((d["person_id"], d["status"]) for d in view["deliveries"]) == [
        ("amani.cla", "unreachable"),
        ("lucas.ho", "delivered"),
    ]
    types = [t["type"] for t in view["timeline"]]
    assert types.count("alert.raised") == 1
    # the state itself is not a timeline entry: it is the view
    assert set(types) == {
        "alert.raised",
        "alert.triggered",
        "alert.target_unreachable",
        "notification.requested",
        "notification.delivered",
    }
    # neither the reporting source nor a contact address reaches the read side
    assert SOURCE["name"] not in response.text
    assert SOURCE["contact"] not in response.text
    assert "http://127.0.0.1:9101/lucas" not in response.text
    assert "contacts" not in response.text


async def test_replayed_events_change_nothing(
    db: Database, client: httpx.AsyncClient, router: RouterHandler
) -> None:
    raised = await raise_alert(db, client)
    routed = await route(db, router, raised)
    await apply(db, *routed)
    before = await db.count(TimelineRecord)
    view = await view_of(client, raised)
    await apply(db, *routed, *routed)
    assert await db.count(TimelineRecord) == before
    assert before == 1 + len([e for e in routed if e.type != ALERT_STATE_CHANGED])
    assert await view_of(client, raised) == view


async def test_failure_is_shown_with_its_error(
    db: Database, client: httpx.AsyncClient, router: RouterHandler
) -> None:
    raised = await raise_alert(db, client)
    routed = await route(db, router, raised)
    [requested] = of_type(routed, NOTIFICATION_REQUESTED)
    await apply(db, *routed, outcome(requested, failed=True))
    view = await view_of(client, raised)
    assert view["notified"] == []
    [failure] = view["deliveries"]
    assert failure["status"] == "failed"
    assert failure["error"] == "WebhookRejected: HTTP 500"
    assert failure["notification_id"] == requested.payload["notification_id"]


async def test_late_raised_event_does_not_move_a_triggered_alert_back(
    db: Database, client: httpx.AsyncClient, router: RouterHandler
) -> None:
    raised = await raise_alert(db, client)
    routed = await route(db, router, raised)
    [state] = of_type(routed, ALERT_STATE_CHANGED)
    await apply(db, state, raised)  # consumed out of order
    view = await view_of(client, raised)
    assert view["status"] == "triggered"
    assert view["targets"] == ["awa.hfo"]


async def test_triggered_without_its_state_shows_level_one_but_not_a_status(
    db: Database, client: httpx.AsyncClient, router: RouterHandler
) -> None:
    raised = await raise_alert(db, client)
    routed = await route(db, router, raised)
    await apply(db, *(e for e in routed if e.type != ALERT_STATE_CHANGED))
    view = await view_of(client, raised)
    # the status is the router's to say (alert.state_changed); until then, who level 1 pages
    assert view["status"] == "raised"
    assert (view["policy_id"], view["level"], view["targets"]) == ("poc-urgent", 1, ["awa.hfo"])
    assert view["chain"] == []


async def test_older_state_handled_after_a_newer_one_changes_nothing(
    db: Database, client: httpx.AsyncClient, router: RouterHandler
) -> None:
    raised = await raise_alert(db, client)
    routed = await route(db, router, raised)
    acked = await route(db, router, acknowledgement(raised, "awa.hfo"))
    [triggered_state] = of_type(routed, ALERT_STATE_CHANGED)
    [acked_state] = of_type(acked, ALERT_STATE_CHANGED)
    assert (triggered_state.payload["version"], acked_state.payload["version"]) == (1, 2)

    # the consumers run concurrently: version 2 may be handled before version 1
    await apply(db, raised, *(e for e in acked if e.type != ALERT_STATE_CHANGED), acked_state)
    newer = await view_of(client, raised)
    assert newer["status"] == "acknowledged"
    assert [(a["person_id"], a["component"]) for a in newer["acknowledgements"]] == [
        ("awa.hfo", "civilian")
    ]
    assert newer["next_escalation_at"] is None

    await apply(db, triggered_state)
    assert await view_of(client, raised) == newer
    async with db.sessions() as session:
        record = await session.get(AlertViewRecord, str(raised.correlation_id))
    assert record is not None
    assert record.version == 2

    # a late alert.triggered does not overwrite what the router's state says either
    await apply(db, *(e for e in routed if e.type != ALERT_STATE_CHANGED))
    late = await view_of(client, raised)
    assert (late["status"], late["targets"], late["chain"]) == (
        newer["status"],
        newer["targets"],
        newer["chain"],
    )


async def test_acknowledged_fyi_is_not_a_delivery(
    db: Database, client: httpx.AsyncClient, router: RouterHandler
) -> None:
    raised = await raise_alert(db, client)
    routed = await route(db, router, raised)
    [page] = of_type(routed, NOTIFICATION_REQUESTED)
    acked = await route(db, router, acknowledgement(raised, "awa.hfo"))
    [fyi] = of_type(acked, NOTIFICATION_REQUESTED)
    assert (fyi.payload["kind"], fyi.payload["message"]) == (
        "acknowledged",
        "acknowledged by awa.hfo",
    )
    await apply(db, *routed, outcome(page), *acked, outcome(fyi, failed=True))
    view = await view_of(client, raised)
    # only pages are deliveries; the FYI's failure stays in the timeline
    assert [(d["notification_id"], d["status"]) for d in view["deliveries"]] == [
        (page.payload["notification_id"], "delivered")
    ]
    assert view["notified"] == ["awa.hfo"]
    assert [t["type"] for t in view["timeline"]].count(NOTIFICATION_FAILED) == 1


async def test_merged_duplicate_shows_where_it_went(
    db: Database, client: httpx.AsyncClient, router: RouterHandler
) -> None:
    first = await raise_alert(db, client, dedup_key="mavivi-road")
    second = await raise_alert(db, client, dedup_key="mavivi-road")
    routed = [*await route(db, router, first), *await route(db, router, second)]
    await apply(db, first, second, *routed)

    duplicate = await view_of(client, second)
    assert duplicate["status"] == "merged"
    assert duplicate["merged_into"] == str(first.correlation_id)
    assert duplicate["targets"] == []
    assert "alert.deduplicated" in [t["type"] for t in duplicate["timeline"]]
    opened = await view_of(client, first)
    assert (opened["status"], opened["dedup_count"]) == ("triggered", 2)
    assert "alert.merged" in [t["type"] for t in opened["timeline"]]


async def test_events_of_unknown_alerts_are_ignored(db: Database) -> None:
    alert_id = uuid4()
    stray = Envelope(
        type="alert.triggered",
        producer="router",
        actor="router",
        correlation_id=alert_id,
        payload={"alert_id": str(alert_id), "policy_id": None, "level": 1, "targets": []},
    )
    stray_state = state_changed(alert_id, policy_id=None, level=None, chain=[])
    await apply(db, stray, stray_state)
    assert await db.count(TimelineRecord) == 0
    assert await db.count(AlertViewRecord) == 0


async def test_the_view_has_no_status_rank_any_more(db: Database) -> None:
    # superseded by the version of the router's state (migration 0003)
    assert "status_rank" not in AlertViewRecord.__table__.c
    async with db.engine.connect() as connection:
        columns = await connection.run_sync(
            lambda c: {col["name"] for col in inspect(c).get_columns("ingest_alert_views")}
        )
    assert "status_rank" not in columns
    assert {"version", "chain", "acknowledgements", "dedup_count", "merged_into"} <= columns
