"""End-to-end: an alert raised over HTTP is routed, notified by webhook and visible in its view.

Runs the three services as separate processes on a real RabbitMQ and on both databases.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import pytest

from tests.e2e.harness import alert_body, new_idempotency_key, wait_until
from tests.e2e.system import System
from tests.support.receiver import WebhookReceiver

# The tests of a backend share one system (tests/e2e/pool.py), each seeing only its own
# webhooks.
pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

# Fields of the webhook body (docs/contract.md, "Webhook delivery").
WEBHOOK_FIELDS = {
    "notification_id",
    "alert_id",
    "person_id",
    "title",
    "category",
    "severity",
    "urgency",
    "certainty",
    "sector",
    "location",
    "origin",
    "classification",
    "level",
    "policy_id",
    "raised_at",
}
FLOW_EVENTS = [
    "alert.raised",
    "alert.triggered",
    "notification.requested",
    "notification.delivered",
]
GRACE = 2.0  # seconds to wait for receipts that must NOT arrive


def _types(view: dict[str, Any]) -> list[str]:
    return [event.get("type") for event in view.get("timeline", [])]


# The basic slice runs on both databases; the rest on one each (their database work is
# covered on both by tests/integration), to keep the suite short.
ON_SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
ON_POSTGRESQL = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)


def _deliveries(
    view: dict[str, Any], person_id: str, status: str | None = None
) -> list[dict[str, Any]]:
    return [
        d
        for d in view.get("deliveries", [])
        if d.get("person_id") == person_id and (status is None or d.get("status") == status)
    ]


async def test_alert_reaches_the_head_of_field_office_and_nobody_else(
    system: System, receiver: WebhookReceiver
) -> None:
    client = await system.client("jo.operator")
    body = alert_body(
        category="abduction", severity="severe", sector="beni", title="Abduction near Mavivi"
    )
    response = await system.raise_alert(client, body)
    assert response.status_code == 201, response.text
    created = response.json()
    alert_id = created["id"]
    assert created["category"] == "abduction"
    assert created["sector"] == "beni"
    assert created["raised_by"] == "jo.operator"
    assert created["status"] in ("raised", "triggered")

    # the webhook of awa.hfo (head_of_field_office of beni; route -> poc-urgent level 1)
    receipts = await wait_until(
        lambda: receiver.receipts_for("awa.hfo", alert_id),
        timeout=30,
        message=lambda: (
            f"webhook of awa.hfo for alert {alert_id}; received so far: "
            f"{[(r.path, r.body[:200]) for r in receiver.requests]}"
        ),
    )

    async def view_complete() -> dict[str, Any]:
        view = await system.get_alert(client, alert_id)
        assert view["status"] == "triggered", view["status"]
        assert "awa.hfo" in view["notified"], view["notified"]
        assert _deliveries(view, "awa.hfo", "delivered"), view["deliveries"]
        assert set(FLOW_EVENTS) <= set(_types(view)), _types(view)
        return view

    view = await wait_until(view_complete, timeout=30, message=f"view of alert {alert_id} complete")
    await asyncio.sleep(GRACE)

    # nobody else was paged, and awa.hfo exactly once
    assert [(r.path, r.body[:200]) for r in receiver.receipts if r.person_id != "awa.hfo"] == []
    receipts = receiver.receipts_for("awa.hfo", alert_id)
    assert len(receipts) == 1, [r.headers for r in receipts]
    assert len(receiver.receipts) == 1

    # the webhook request
    receipt = receipts[0]
    assert receipt.method == "POST"
    assert (receipt.header("content-type") or "").startswith("application/json")
    assert receipt.signature_error() is None, receipt.signature_error()
    assert receipt.header("x-coord-event") == "alert.page"
    payload = receipt.json()
    assert payload.keys() >= WEBHOOK_FIELDS, f"missing fields: {WEBHOOK_FIELDS - payload.keys()}"
    assert payload["alert_id"] == alert_id
    assert payload["person_id"] == "awa.hfo"
    assert receipt.header("x-coord-delivery") == payload["notification_id"]
    assert payload["title"] == body["title"]
    assert payload["category"] == "abduction"
    assert payload["severity"] == "severe"
    assert payload["sector"] == "beni"
    assert payload["origin"] == "community"
    assert payload["classification"] == "unclassified"
    assert payload["policy_id"] == "poc-urgent"
    assert payload["level"] == 1

    # the alert view
    assert view["id"] == alert_id
    assert view["targets"] == ["awa.hfo"]
    assert view["notified"] == ["awa.hfo"]
    assert view["policy_id"] == "poc-urgent"
    assert view["level"] == 1
    delivered = _deliveries(view, "awa.hfo", "delivered")
    assert len(delivered) == 1, view["deliveries"]
    assert delivered[0]["channel"] == "webhook"
    assert delivered[0]["notification_id"] == payload["notification_id"]
    assert not _deliveries(view, "awa.hfo", "failed"), view["deliveries"]

    for event in view["timeline"]:
        assert isinstance(event.get("type"), str), event
        assert event["type"], event
        assert isinstance(event.get("at"), str), event
        datetime.fromisoformat(event["at"])  # ISO time
    first_at: dict[str, datetime] = {}
    for event in view["timeline"]:
        first_at.setdefault(event["type"], datetime.fromisoformat(event["at"]))
    # causal order across processes (one clock: all of them run on this host)
    raised, triggered, requested, delivered_at = (first_at[t] for t in FLOW_EVENTS)
    assert raised <= triggered <= delivered_at, first_at
    assert raised <= requested <= delivered_at, first_at


@ON_SQLITE
async def test_same_idempotency_key_creates_and_notifies_once(
    system: System, receiver: WebhookReceiver
) -> None:
    client = await system.client("amani.cla")
    body = alert_body(
        category="abduction", severity="severe", sector="beni", title="Idempotent alert"
    )
    key = new_idempotency_key()

    first = await system.raise_alert(client, body, idempotency_key=key)
    assert first.status_code == 201, first.text
    second = await system.raise_alert(client, body, idempotency_key=key)
    assert second.status_code == 200, second.text
    alert_id = first.json()["id"]
    assert second.json()["id"] == alert_id

    async def delivered() -> dict[str, Any]:
        view = await system.get_alert(client, alert_id)
        assert _deliveries(view, "awa.hfo", "delivered"), view.get("deliveries")
        return view

    await wait_until(delivered, timeout=30, message=f"delivery of alert {alert_id}")
    await wait_until(lambda: receiver.receipts_for("awa.hfo", alert_id), timeout=10)
    await asyncio.sleep(GRACE)

    assert len(receiver.receipts_for(alert_id=alert_id)) == 1, [
        (r.path, r.headers.get("x-coord-delivery")) for r in receiver.receipts
    ]
    # and no second alert was created under the same key
    assert {r.json()["alert_id"] for r in receiver.receipts} == {alert_id}
    view = await system.get_alert(client, alert_id)
    assert len(_deliveries(view, "awa.hfo", "delivered")) == 1, view["deliveries"]


@ON_POSTGRESQL
async def test_failing_webhook_is_a_visible_failed_delivery(
    system: System, receiver: WebhookReceiver
) -> None:
    # armed_group_movement in beni -> poc-joint level 1: awa.hfo, col.okafor, insp.diallo
    receiver.respond("col.okafor", 500)
    client = await system.client("jo.operator")
    response = await system.raise_alert(
        client,
        alert_body(category="armed_group_movement", severity="moderate", title="Column moving"),
    )
    assert response.status_code == 201, response.text
    alert_id = response.json()["id"]

    async def failure_visible() -> dict[str, Any]:
        view = await system.get_alert(client, alert_id)
        assert _deliveries(view, "col.okafor", "failed"), view.get("deliveries")
        assert _deliveries(view, "awa.hfo", "delivered"), view.get("deliveries")
        assert _deliveries(view, "insp.diallo", "delivered"), view.get("deliveries")
        return view

    view = await wait_until(
        failure_visible,
        timeout=60,
        message=f"failed delivery to col.okafor visible on alert {alert_id}",
    )
    assert sorted(view["targets"]) == ["awa.hfo", "col.okafor", "insp.diallo"]
    assert "col.okafor" not in view["notified"], view["notified"]
    assert sorted(view["notified"]) == ["awa.hfo", "insp.diallo"]
    failed = _deliveries(view, "col.okafor", "failed")
    assert failed[0]["channel"] == "webhook"
    assert failed[0].get("error"), f"a failed delivery should say why: {failed[0]}"
    assert not _deliveries(view, "col.okafor", "delivered")
    assert "notification.failed" in _types(view), _types(view)

    # it was retried (and every attempt is the same, signed delivery)
    attempts = receiver.receipts_for("col.okafor", alert_id)
    assert len(attempts) >= 2, f"expected retries, got {len(attempts)} attempt(s)"
    assert len({a.header("x-coord-delivery") for a in attempts}) == 1, [a.headers for a in attempts]
    assert attempts[0].header("x-coord-delivery") == failed[0]["notification_id"]
    for attempt in attempts:
        assert attempt.signature_error() is None, attempt.signature_error()
    assert all(a.status == 500 for a in attempts)
