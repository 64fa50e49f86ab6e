"""The webhook a person receives: its body, signature and retries."""

from __future__ import annotations

import json
from types import SimpleNamespace
from uuid import UUID

import httpx
import pytest

from services.notifier.retry import RetryPolicy
from services.notifier.webhook import deliver_webhook, webhook_body, webhook_headers
from shared import signing
from shared.contracts.notifications import (
    NotificationKind,
    NotificationRequestedV2,
    SubjectType,
)
from shared.signing import Verdict, sign, verify
from tests.support.notifications import (
    MESSAGE_ID,
    MESSAGE_SUMMARY,
    RECOMMENDATION_ID,
    RECOMMENDATION_SUMMARY,
    URL,
    request,
    subject_request,
)

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


# (request, body, X-Coord-Event) of every subject other than an alert
SUBJECT_CASES = [
    pytest.param(
        subject_request(SubjectType.MESSAGE, NotificationKind.MESSAGE, MESSAGE_SUMMARY),
        {
            "notification_id": "3a7e9c51-2f6d-4b8e-a1c4-5d7f9e0b2c36",
            "subject_type": "message",
            "message_id": str(MESSAGE_ID),
            "person_id": "awa.hfo",
            "kind": "message",
            "message": "",
            "policy_id": None,
            "level": 1,
            **MESSAGE_SUMMARY,
        },
        "message.message",
        id="message",
    ),
    pytest.param(
        subject_request(
            SubjectType.MESSAGE,
            NotificationKind.MESSAGE_UNACKNOWLEDGED,
            MESSAGE_SUMMARY,
            message="Not acknowledged by awa.hfo",
            policy_id="message-escalation",
            level=2,
        ),
        {
            "notification_id": "3a7e9c51-2f6d-4b8e-a1c4-5d7f9e0b2c36",
            "subject_type": "message",
            "message_id": str(MESSAGE_ID),
            "person_id": "awa.hfo",
            "kind": "message_unacknowledged",
            "message": "Not acknowledged by awa.hfo",
            "policy_id": "message-escalation",
            "level": 2,
            **MESSAGE_SUMMARY,
        },
        "message.message_unacknowledged",
        id="message-unacknowledged",
    ),
    pytest.param(
        subject_request(
            SubjectType.RECOMMENDATION, NotificationKind.RECOMMENDATION, RECOMMENDATION_SUMMARY
        ),
        {
            "notification_id": "3a7e9c51-2f6d-4b8e-a1c4-5d7f9e0b2c36",
            "subject_type": "recommendation",
            "recommendation_id": str(RECOMMENDATION_ID),
            "person_id": "awa.hfo",
            "kind": "recommendation",
            "message": "",
            "policy_id": None,
            "level": 1,
            **RECOMMENDATION_SUMMARY,  # its alert_id is the linked alert's, a summary field
        },
        "recommendation.recommendation",
        id="recommendation",
    ),
    pytest.param(
        subject_request(
            SubjectType.RECOMMENDATION,
            NotificationKind.RECOMMENDATION_OVERDUE,
            RECOMMENDATION_SUMMARY,
            message="Unanswered by its due time",
        ),
        {
            "notification_id": "3a7e9c51-2f6d-4b8e-a1c4-5d7f9e0b2c36",
            "subject_type": "recommendation",
            "recommendation_id": str(RECOMMENDATION_ID),
            "person_id": "awa.hfo",
            "kind": "recommendation_overdue",
            "message": "Unanswered by its due time",
            "policy_id": None,
            "level": 1,
            **RECOMMENDATION_SUMMARY,
        },
        "recommendation.recommendation_overdue",
        id="recommendation-overdue",
    ),
]


def test_a_routed_alert_carries_its_short_code_in_the_body() -> None:
    # Version 1 knew no codes (above); the router's version 2 puts the code in the summary.
    upcast = request()
    routed = upcast.model_copy(update={"summary": {**upcast.summary, "code": "4821"}})
    body = json.loads(webhook_body(routed))
    assert set(body) == CONTRACT_FIELDS | {"code"}
    assert body["code"] == "4821"


def test_webhook_body_has_the_contract_fields() -> None:
    notification = request()
    body = json.loads(webhook_body(notification))
    assert set(body) == CONTRACT_FIELDS
    assert UUID(body["alert_id"]) == notification.subject_id
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
    assert verify(sent.content, sent.headers["x-coord-signature"], SECRET, tolerance=5)


def test_headers_sign_the_timestamp_and_the_body() -> None:
    notification = request()
    body = webhook_body(notification)
    headers = webhook_headers(notification, body, SECRET, timestamp=1_795_000_000)
    signature = headers["X-Coord-Signature"]
    assert signature == sign(body, SECRET, 1_795_000_000)
    assert signature.startswith("t=1795000000,v1=")
    assert verify(body, signature, SECRET, tolerance=300, now=1_795_000_100) is Verdict.OK
    assert verify(body, signature, SECRET, tolerance=300, now=1_795_000_301) is Verdict.STALE


async def test_each_attempt_is_signed_when_it_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    # A retry long after the first attempt must not carry a timestamp receivers find stale.
    clock = iter([1_795_000_000.0, 1_795_000_400.0])
    monkeypatch.setattr(signing, "time", SimpleNamespace(time=lambda: next(clock)))
    recorder = Recorder([500, 200])
    async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as client:
        result = await deliver_webhook(client, request(), URL, SECRET, NO_WAIT)
    assert result.delivered
    first, second = (r.headers["x-coord-signature"] for r in recorder.requests)
    assert first.startswith("t=1795000000,")
    assert second.startswith("t=1795000400,")
    assert verify(recorder.requests[1].content, second, SECRET, tolerance=300, now=1_795_000_401)


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


# Today's alert body, byte for byte: receivers of version 1 must see no change.
GOLDEN_ALERT_BODY = (
    b'{"alert_id":"00000000-0000-0000-0000-000000000002","category":"abduction",'
    b'"certainty":"observed","classification":"confidential","kind":"resolved","level":1,'
    b'"location":{"lat":0.55,"lon":29.47,"name":"Mavivi"},"message":"Resolved by grace.dsrsg",'
    b'"notification_id":"00000000-0000-0000-0000-000000000001","origin":"community",'
    b'"person_id":"awa.hfo","policy_id":"poc-urgent","raised_at":"2026-11-23T10:00:00+00:00",'
    b'"sector":"beni","severity":"severe","title":"Abduction reported near Mavivi",'
    b'"urgency":"immediate"}'
)


def golden_request() -> NotificationRequestedV2:
    return request(
        notification_id=UUID(int=1),
        alert_id=UUID(int=2),
        kind=NotificationKind.RESOLVED,
        message="Resolved by grace.dsrsg",
    )


def test_upcast_alert_body_is_byte_identical_to_version_one() -> None:
    assert webhook_body(golden_request()) == GOLDEN_ALERT_BODY


def test_a_version_two_alert_request_has_the_alert_body() -> None:
    upcast = golden_request()
    native = NotificationRequestedV2.model_validate(upcast.model_dump(mode="json"))
    assert webhook_body(native) == GOLDEN_ALERT_BODY


@pytest.mark.parametrize(("notification", "expected", "event"), SUBJECT_CASES)
def test_subject_body(
    notification: NotificationRequestedV2, expected: dict[str, object], event: str
) -> None:
    raw = webhook_body(notification)
    assert json.loads(raw) == expected
    # compact, sorted: the same bytes for the same request, as the signature needs
    assert raw == json.dumps(expected, separators=(",", ":"), sort_keys=True).encode()
    assert b"token=private" not in raw
    assert b"receiver.test" not in raw
    assert "contacts" not in json.loads(raw)


@pytest.mark.parametrize(("notification", "expected", "event"), SUBJECT_CASES)
async def test_subject_headers(
    notification: NotificationRequestedV2, expected: dict[str, object], event: str
) -> None:
    recorder = Recorder([200])
    async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as client:
        result = await deliver_webhook(client, notification, URL, SECRET, NO_WAIT)
    assert result.delivered
    [sent] = recorder.requests
    assert sent.headers["x-coord-event"] == event
    assert sent.headers["x-coord-delivery"] == str(notification.notification_id)
    assert sent.content == webhook_body(notification)
    assert verify(sent.content, sent.headers["x-coord-signature"], SECRET, tolerance=5)


def test_a_summary_cannot_pass_for_another_notification() -> None:
    forged = {**MESSAGE_SUMMARY, "notification_id": "forged", "message_id": "forged"}
    notification = subject_request(SubjectType.MESSAGE, NotificationKind.MESSAGE, forged)
    body = json.loads(webhook_body(notification))
    assert body["notification_id"] == str(notification.notification_id)
    assert body["message_id"] == str(MESSAGE_ID)


def test_summary_values_are_sent_as_json() -> None:
    # a request built in code may hold UUIDs; on the wire they are strings
    summary: dict[str, object] = {"title": "Convoy", "thread_id": MESSAGE_ID}
    notification = subject_request(SubjectType.MESSAGE, NotificationKind.MESSAGE, summary)
    assert json.loads(webhook_body(notification))["thread_id"] == str(MESSAGE_ID)
