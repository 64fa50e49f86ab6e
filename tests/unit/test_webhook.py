"""The webhook a person receives: its body, signature and retries."""

from __future__ import annotations

import json
from uuid import UUID, uuid4

import httpx
import pytest

from services.notifier.retry import RetryPolicy
from services.notifier.webhook import deliver_webhook, webhook_body
from shared.contracts.notifications import (
    AlertSummary,
    ContactPoint,
    NotificationKind,
    NotificationRequestedV1,
)
from shared.signing import verify

SECRET = "unit-webhook-secret-0123456789abcdef0123456789abcd"  # noqa: S105
CONTRACT_FIELDS = {
    "notification_id",
    "alert_id",
    "person_id",
    "kind",
    "message",
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
NO_WAIT = RetryPolicy(attempts=3, backoff_initial=0, backoff_max=0)
URL = "http://receiver.test/awa?token=private"


def request(**overrides: object) -> NotificationRequestedV1:
    fields: dict[str, object] = {
        "notification_id": uuid4(),
        "alert_id": uuid4(),
        "person_id": "awa.hfo",
        "contacts": [ContactPoint(channel="webhook", address=URL)],
        "policy_id": "poc-urgent",
        "level": 1,
        "alert": AlertSummary(
            title="Abduction reported near Mavivi",
            category="abduction",
            severity="severe",
            urgency="immediate",
            certainty="observed",
            sector="beni",
            location={"name": "Mavivi", "lat": 0.55, "lon": 29.47},
            origin="community",
            classification="confidential",
            raised_at="2026-11-23T10:00:00+00:00",
        ),
    }
    fields.update(overrides)
    return NotificationRequestedV1.model_validate(fields)


def test_webhook_body_has_the_contract_fields() -> None:
    notification = request()
    body = json.loads(webhook_body(notification))
    assert set(body) == CONTRACT_FIELDS
    assert UUID(body["alert_id"]) == notification.alert_id
    assert UUID(body["notification_id"]) == notification.notification_id
    assert body["person_id"] == "awa.hfo"
    assert body["title"] == "Abduction reported near Mavivi"
    assert body["location"] == {"name": "Mavivi", "lat": 0.55, "lon": 29.47}
    assert body["level"] == 1
    assert body["policy_id"] == "poc-urgent"
    assert body["kind"] == "page"
    assert body["message"] == ""


def test_webhook_body_carries_kind_and_message() -> None:
    notification = request(kind=NotificationKind.ACKNOWLEDGED, message="Acknowledged by lucas.ho")
    body = json.loads(webhook_body(notification))
    assert body["kind"] == "acknowledged"
    assert body["message"] == "Acknowledged by lucas.ho"


def test_webhook_body_leaks_neither_address_nor_source() -> None:
    raw = webhook_body(request())
    body = json.loads(raw)
    assert "address" not in body
    assert "contacts" not in body
    assert "source" not in body
    assert b"token=private" not in raw
    assert b"receiver.test" not in raw


def test_webhook_body_is_deterministic() -> None:
    notification = request()
    assert webhook_body(notification) == webhook_body(notification)


class Recorder:
    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.requests: list[httpx.Request] = []

    def __call__(self, http_request: httpx.Request) -> httpx.Response:
        self.requests.append(http_request)
        status = self.statuses[min(len(self.requests), len(self.statuses)) - 1]
        return httpx.Response(status)


async def test_delivery_is_signed_and_addressed() -> None:
    notification = request()
    recorder = Recorder([204])
    async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as client:
        result = await deliver_webhook(client, notification, URL, SECRET, NO_WAIT)
    assert (result.delivered, result.attempts, result.error) == (True, 1, None)
    [sent] = recorder.requests
    assert str(sent.url) == URL
    assert sent.method == "POST"
    assert sent.headers["content-type"] == "application/json"
    assert sent.headers["x-coord-event"] == "alert.page"
    assert sent.headers["x-coord-delivery"] == str(notification.notification_id)
    assert sent.content == webhook_body(notification)
    assert verify(sent.content, sent.headers["x-coord-signature"], SECRET)


@pytest.mark.parametrize(
    ("statuses", "delivered", "attempts", "error"),
    [
        pytest.param([500, 200], True, 2, None, id="retried-then-delivered"),
        pytest.param([503, 502, 201], True, 3, None, id="delivered-on-last-attempt"),
        pytest.param([500], False, 3, "WebhookRejected: HTTP 500", id="all-attempts-fail"),
        pytest.param([404], False, 3, "WebhookRejected: HTTP 404", id="client-error-fails"),
        pytest.param([302], False, 3, "WebhookRejected: HTTP 302", id="redirect-is-not-2xx"),
    ],
)
async def test_delivery_retries(
    statuses: list[int], delivered: bool, attempts: int, error: str | None
) -> None:
    notification = request()
    recorder = Recorder(statuses)
    async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as client:
        result = await deliver_webhook(client, notification, URL, SECRET, NO_WAIT)
    assert (result.delivered, result.attempts, result.error) == (delivered, attempts, error)
    assert len(recorder.requests) == attempts
    # receivers may dedup on the delivery id: it is stable across retries, as is the body
    assert {r.headers["x-coord-delivery"] for r in recorder.requests} == {
        str(notification.notification_id)
    }
    assert {r.content for r in recorder.requests} == {webhook_body(notification)}


async def test_connection_errors_are_reported() -> None:
    def refuse(http_request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=http_request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as client:
        result = await deliver_webhook(client, request(), URL, SECRET, NO_WAIT)
    assert not result.delivered
    assert result.attempts == 3
    assert result.error is not None
    assert result.error.startswith("ConnectError")


@pytest.mark.parametrize("kind", list(NotificationKind))
async def test_event_header_names_the_kind(kind: NotificationKind) -> None:
    recorder = Recorder([200])
    async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as client:
        await deliver_webhook(client, request(kind=kind), URL, SECRET, NO_WAIT)
    [sent] = recorder.requests
    assert sent.headers["x-coord-event"] == f"alert.{kind.value}"


async def test_errors_never_name_the_address() -> None:
    def refuse(http_request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {http_request.url}", request=http_request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as client:
        result = await deliver_webhook(client, request(), URL, SECRET, NO_WAIT)
    assert result.error == "ConnectError: cannot reach <address>"
