"""The mail a person receives: subject, body, headers; no SMTP server needed."""

from __future__ import annotations

from uuid import UUID

import pytest

from services.notifier.email import SmtpConfig, deliver_email, email_message
from services.notifier.email_text import email_subject, email_text
from services.notifier.retry import RetryPolicy
from shared.contracts.notifications import NotificationKind, NotificationRequestedV2, SubjectType
from tests.support.notifications import (
    MESSAGE_ID,
    MESSAGE_SUMMARY,
    RECOMMENDATION_ID,
    RECOMMENDATION_SUMMARY,
    request,
    subject_request,
    v1_request,
)

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
    alert = v1_request().alert.model_copy(update={"title": "Line one\r\nBcc: x@evil.test " * 40})
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
        f"Alert id:       {notification.subject_id}",
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


# Today's mail for an alert, to the byte: version-1 readers must see no change.
GOLDEN_ALERT_TEXT = (
    "Resolved: Abduction reported near Mavivi\n\nResolved by grace.dsrsg\n\n"
    "Category:       abduction\nSeverity:       severe\nUrgency:        immediate\n"
    "Certainty:      observed\nSector:         beni\nLocation:       Mavivi\n"
    "Origin:         community\nClassification: confidential\n"
    "Raised at:      2026-11-23T10:00:00+00:00\nLevel:          1 (poc-urgent)\n"
    "Alert id:       00000000-0000-0000-0000-000000000002\n"
    "Notification:   00000000-0000-0000-0000-000000000001\n"
)


def test_upcast_alert_mail_is_unchanged() -> None:
    notification = request(
        notification_id=UUID(int=1),
        alert_id=UUID(int=2),
        kind=NotificationKind.RESOLVED,
        message="Resolved by grace.dsrsg",
    )
    assert email_text(notification) == GOLDEN_ALERT_TEXT
    assert email_subject(notification) == (
        "[coord] RESOLVED SEVERE abduction in beni: Abduction reported near Mavivi"
    )


UNTITLED: dict[str, object] = {"classification": "confidential", "sender": "lucas.ho"}


@pytest.mark.parametrize(
    ("notification", "subject", "event"),
    [
        pytest.param(
            subject_request(SubjectType.MESSAGE, NotificationKind.MESSAGE, MESSAGE_SUMMARY),
            "[coord] MESSAGE confidential: Convoy to Eringeti postponed",
            "message.message",
            id="message",
        ),
        pytest.param(
            subject_request(
                SubjectType.MESSAGE, NotificationKind.MESSAGE_UNDELIVERED, MESSAGE_SUMMARY
            ),
            "[coord] MESSAGE UNDELIVERED confidential: Convoy to Eringeti postponed",
            "message.message_undelivered",
            id="message-undelivered",
        ),
        pytest.param(
            subject_request(SubjectType.MESSAGE, NotificationKind.MESSAGE, UNTITLED),
            f"[coord] MESSAGE confidential: message {MESSAGE_ID}",
            "message.message",
            id="message-without-title",
        ),
        pytest.param(
            subject_request(
                SubjectType.RECOMMENDATION, NotificationKind.RECOMMENDATION, RECOMMENDATION_SUMMARY
            ),
            "[coord] RECOMMENDATION: Reinforce patrols on the Mavivi road",
            "recommendation.recommendation",
            id="recommendation-unclassified",
        ),
        pytest.param(
            subject_request(
                SubjectType.RECOMMENDATION,
                NotificationKind.RECOMMENDATION_OVERDUE,
                {**RECOMMENDATION_SUMMARY, "classification": "strictly_confidential"},
            ),
            "[coord] RECOMMENDATION OVERDUE strictly_confidential: "
            "Reinforce patrols on the Mavivi road",
            "recommendation.recommendation_overdue",
            id="recommendation-overdue-classified",
        ),
        pytest.param(
            subject_request(
                SubjectType.RECOMMENDATION,
                NotificationKind.NOBODY_TO_ESCALATE_TO,
                {"title": "Reinforce patrols on the Mavivi road"},
            ),
            "[coord] NOBODY TO ESCALATE TO: Reinforce patrols on the Mavivi road",
            "recommendation.nobody_to_escalate_to",
            id="no-classification",
        ),
    ],
)
def test_subject_and_event_of_other_subjects(
    notification: NotificationRequestedV2, subject: str, event: str
) -> None:
    assert email_subject(notification) == subject
    message = email_message(notification, RECIPIENT, SENDER)
    assert message["Subject"] == subject
    assert message["X-Coord-Event"] == event
    assert message["X-Coord-Delivery"] == str(notification.notification_id)


def test_other_subject_is_one_bounded_line() -> None:
    summary = {**MESSAGE_SUMMARY, "title": "Line one\r\nBcc: x@evil.test " * 40}
    subject = email_subject(subject_request(SubjectType.MESSAGE, NotificationKind.MESSAGE, summary))
    assert "\n" not in subject
    assert "\r" not in subject
    assert len(subject) <= 200


@pytest.mark.parametrize(
    ("notification", "lines"),
    [
        pytest.param(
            subject_request(
                SubjectType.MESSAGE,
                NotificationKind.MESSAGE,
                MESSAGE_SUMMARY,
                message="Please confirm by 14:00",
            ),
            [
                "Message: Convoy to Eringeti postponed",
                "",
                "Please confirm by 14:00",
                "",
                "Classification: confidential",
                "Sender:         lucas.ho",
                "Sent at:        2026-11-23T10:00:00+00:00",
                "Level:          1",
                f"Message id:     {MESSAGE_ID}",
                "Notification:   3a7e9c51-2f6d-4b8e-a1c4-5d7f9e0b2c36",
                "",
            ],
            id="message",
        ),
        pytest.param(
            subject_request(
                SubjectType.RECOMMENDATION,
                NotificationKind.RECOMMENDATION_ANSWERED,
                {**RECOMMENDATION_SUMMARY, "location": {"name": "Mavivi"}},
                policy_id="recommendations",
                level=2,
            ),
            [
                "Recommendation answered: Reinforce patrols on the Mavivi road",
                "",
                "Classification: unclassified",
                "Sector:         beni",
                "Due by:         2026-11-24T10:00:00+00:00",
                "Alert id:       9f1e2d3c-4b5a-4678-9a0b-1c2d3e4f5a6b",
                'Location:       {"name": "Mavivi"}',
                "Level:          2 (recommendations)",
                f"Recommendation id: {RECOMMENDATION_ID}",
                "Notification:   3a7e9c51-2f6d-4b8e-a1c4-5d7f9e0b2c36",
                "",
            ],
            id="recommendation",
        ),
    ],
)
def test_body_of_other_subjects_is_their_summary(
    notification: NotificationRequestedV2, lines: list[str]
) -> None:
    assert email_text(notification) == "\n".join(lines)
    mail = email_message(notification, RECIPIENT, SENDER).as_string()
    assert "token=private" not in mail  # the webhook address stays out
    assert "receiver.test" not in mail
