"""The mail a person receives: subject, body, headers; no SMTP server needed."""

from __future__ import annotations

import pytest

from services.notifier.email import SmtpConfig, deliver_email, email_message, email_subject
from services.notifier.retry import RetryPolicy
from shared.contracts.notifications import NotificationKind
from tests.unit.test_webhook import request

SENDER = "Coord <coord@mission.example>"
RECIPIENT = "awa.ndiaye@example.org"


@pytest.mark.parametrize(
    ("kind", "prefix"),
    [
        (NotificationKind.PAGE, ""),
        (NotificationKind.ACKNOWLEDGED, "ACKNOWLEDGED "),
        (NotificationKind.RESOLVED, "RESOLVED "),
        (NotificationKind.ESCALATION_EXHAUSTED, "ESCALATION EXHAUSTED "),
        (NotificationKind.TARGET_UNREACHABLE, "TARGET UNREACHABLE "),
        (NotificationKind.UNROUTED, "UNROUTED "),
    ],
)
def test_subject_names_kind_severity_category_sector_and_title(
    kind: NotificationKind, prefix: str
) -> None:
    assert email_subject(request(kind=kind)) == (
        f"[coord] {prefix}SEVERE abduction in beni: Abduction reported near Mavivi"
    )


def test_subject_is_one_bounded_line() -> None:
    alert = request().alert.model_copy(update={"title": "Line one\r\nBcc: x@evil.test " * 40})
    subject = email_subject(request(alert=alert))
    assert "\n" not in subject
    assert "\r" not in subject
    assert len(subject) <= 200


def test_message_headers_and_body() -> None:
    notification = request(kind=NotificationKind.RESOLVED, message="Resolved by grace.dsrsg")
    message = email_message(notification, RECIPIENT, SENDER)
    assert message["To"] == RECIPIENT
    assert message["From"] == SENDER
    assert message["X-Coord-Delivery"] == str(notification.notification_id)
    assert message["X-Coord-Event"] == "alert.resolved"
    assert message["Message-ID"] == f"<{notification.notification_id}@mission.example>"
    body = message.get_content()
    assert body.startswith("Resolved: Abduction reported near Mavivi\n\nResolved by grace.dsrsg\n")
    for line in (
        "Severity:       severe",
        "Urgency:        immediate",
        "Sector:         beni",
        "Location:       Mavivi",
        "Level:          1 (poc-urgent)",
        f"Alert id:       {notification.alert_id}",
    ):
        assert line in body
    assert "token=private" not in message.as_string()  # the webhook address stays out


async def test_a_malformed_address_fails_at_once() -> None:
    config = SmtpConfig(host="127.0.0.1", port=9, sender=SENDER, timeout=1)
    retry = RetryPolicy(attempts=5, backoff_initial=10, backoff_max=10)
    result = await deliver_email(config, request(), "awa@example.org\r\nBcc: x@evil.test", retry)
    assert not result.delivered
    assert result.attempts == 1
    assert result.error is not None
    assert "awa@example.org" not in result.error
