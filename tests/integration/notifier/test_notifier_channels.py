"""The notifier's channels and fallback on a real database and a real local SMTP server.

Webhooks go to an httpx MockTransport; mail goes over SMTP (aiosmtplib) to an
aiosmtpd server on 127.0.0.1 that records every message it accepts.
"""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from services.notifier.channels import ChannelContext
from services.notifier.deliveries import DeliveryContext, deliver_notification
from services.notifier.email import SmtpConfig
from services.notifier.links import LinkConfig
from services.notifier.retry import RetryPolicy
from shared.action_links import ActionLink, read_link_token
from shared.contracts.notifications import NotificationKind, SubjectType
from shared.envelope import Envelope
from tests.support.builders import SOURCE
from tests.support.database import Database
from tests.support.notifier import (
    EMAIL,
    WEBHOOK_URL,
    delivery,
    notifier_on_broker,
    outbox,
    requested_envelope,
    requested_v2_envelope,
    wait_for,
)

pytestmark = pytest.mark.integration

SECRET = "integration-webhook-secret-0123456789abcdef0123456789"  # noqa: S105
PUBLIC_URL = "https://coord.mission.test"
LINK_SECRET = "integration-link-secret-0123456789abcdef0123456789ab"  # noqa: S105
LINKS = LinkConfig(public_url=PUBLIC_URL, secret=LINK_SECRET, ttl=timedelta(hours=1))
SENDER = "coord@localhost"
ATTEMPTS = 2
REFUSED = "nobody@example.org"
WEBHOOK = ("webhook", WEBHOOK_URL)
MAIL = ("email", EMAIL)
SUBJECT = "[coord] SEVERE abduction in beni: Abduction reported near Mavivi"


@dataclass
class Mailbox:
    """aiosmtpd handler: refuses ``REFUSED``, records every message it accepts."""

    port: int = 0
    received: list[tuple[str, list[str], EmailMessage]] = field(default_factory=list)

    # aiosmtpd's hooks, called positionally: (server, session, envelope, *arguments)
    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, _server: Any, _session: Any, envelope: Any, address: str, _options: list[str]
    ) -> str:
        if address == REFUSED:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


def free_port() -> int:
    """A port nothing listens on (at the time of asking)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    handler = Mailbox(port=free_port())
    controller = Controller(handler, hostname="127.0.0.1", port=handler.port)
    controller.start()
    try:
        yield handler
    finally:
        controller.stop()


class Receiver:
    """Answers every webhook POST with ``status``, and records it."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.posts: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.posts.append(request)
        return httpx.Response(self.status)


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
async def http(receiver: Receiver) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(receiver)) as client:
        yield client


def delivery_context(db: Database, http: httpx.AsyncClient, smtp_port: int) -> DeliveryContext:
    return DeliveryContext(
        sessions=db.sessions,
        channels=ChannelContext(
            http=http,
            webhook_secret=SECRET,
            smtp=SmtpConfig(host="127.0.0.1", port=smtp_port, sender=SENDER, timeout=5),
            retry=RetryPolicy(attempts=ATTEMPTS, backoff_initial=0, backoff_max=0),
            links=LINKS,
        ),
        lease=timedelta(seconds=30),
    )


@pytest.fixture
def context(db: Database, http: httpx.AsyncClient, mailbox: Mailbox) -> DeliveryContext:
    return delivery_context(db, http, mailbox.port)


def subject(message: EmailMessage) -> str:
    # A long subject may be folded right after "Subject:"; unfolded, that is the usual
    # "Subject: <value>", but Python's parser keeps the folding space: strip it.
    return str(message["Subject"]).strip()


def payloads(events: list[Envelope]) -> list[tuple[str, dict[str, Any]]]:
    return [(e.type, e.payload) for e in events]


def leaks_source(text: str) -> bool:
    return any(str(value) in text for value in SOURCE.values())


async def test_email_is_delivered_with_subject_recipient_and_no_source(
    db: Database, context: DeliveryContext, mailbox: Mailbox, receiver: Receiver
) -> None:
    requested = requested_envelope(MAIL)
    await deliver_notification(context, requested)

    [(mail_from, recipients, message)] = mailbox.received
    assert mail_from == SENDER
    assert recipients == [EMAIL]
    assert message["To"] == EMAIL
    assert subject(message) == SUBJECT
    notification_id = requested.payload["notification_id"]
    assert message["X-Coord-Delivery"] == notification_id
    assert message["X-Coord-Event"] == "alert.page"
    assert message.get_content_type() == "text/plain"
    body = message.get_content()
    assert "Abduction reported near Mavivi" in body
    assert "Severity:       severe" in body
    assert "Level:          1 (poc-urgent)" in body
    assert requested.payload["subject_id"] in body
    assert not leaks_source(message.as_string())
    assert receiver.posts == []

    [(kind, outcome)] = payloads(await outbox(db))
    assert kind == "notification.delivered"
    assert (outcome["channel"], outcome["attempts"], outcome["kind"]) == ("email", 1, "page")
    record = await delivery(db, notification_id)
    assert (record.state, record.channel, record.attempts) == ("delivered", "email", 1)


async def test_email_subject_names_a_kind_other_than_page(
    context: DeliveryContext, mailbox: Mailbox
) -> None:
    requested = requested_envelope(
        MAIL, kind=NotificationKind.ACKNOWLEDGED, message="Acknowledged by Lucas Moreau"
    )
    await deliver_notification(context, requested)

    [(_, _, message)] = mailbox.received
    assert subject(message) == SUBJECT.replace("[coord] ", "[coord] ACKNOWLEDGED ")
    assert message["X-Coord-Event"] == "alert.acknowledged"
    assert "Acknowledged by Lucas Moreau" in message.get_content()


async def test_webhook_answering_500_falls_back_to_email(
    db: Database, context: DeliveryContext, mailbox: Mailbox, receiver: Receiver
) -> None:
    receiver.status = 500
    requested = requested_envelope(WEBHOOK, MAIL)
    await deliver_notification(context, requested)

    assert len(receiver.posts) == ATTEMPTS
    assert len(mailbox.received) == 1
    events = await outbox(db)
    assert [e.type for e in events] == ["notification.channel_failed", "notification.delivered"]
    failed, delivered = (e.payload for e in events)
    assert failed["channel"] == "webhook"
    assert failed["next_channel"] == "email"
    assert failed["attempts"] == ATTEMPTS
    assert failed["error"] == "WebhookRejected: HTTP 500"
    assert delivered["channel"] == "email"
    assert delivered["attempts"] == ATTEMPTS + 1  # summed over the channels tried
    assert all(e.causation_id == requested.id for e in events)
    assert all(e.correlation_id == requested.correlation_id for e in events)
    record = await delivery(db, requested.payload["notification_id"])
    assert (record.state, record.channel, record.attempts, record.error) == (
        "delivered",
        "email",
        ATTEMPTS + 1,
        None,
    )

    # final: a redelivered request neither posts nor mails nor reports again
    await deliver_notification(context, requested)
    assert (len(receiver.posts), len(mailbox.received), len(await outbox(db))) == (ATTEMPTS, 1, 2)


async def test_every_channel_failing_ends_in_failed_naming_each_error(
    db: Database, context: DeliveryContext, mailbox: Mailbox, receiver: Receiver
) -> None:
    receiver.status = 500
    requested = requested_envelope(WEBHOOK, ("email", REFUSED))
    await deliver_notification(context, requested)

    assert mailbox.received == []
    events = await outbox(db)
    assert [e.type for e in events] == [
        "notification.channel_failed",
        "notification.channel_failed",
        "notification.failed",
    ]
    webhook_failed, email_failed, failed = (e.payload for e in events)
    assert (webhook_failed["channel"], webhook_failed["next_channel"]) == ("webhook", "email")
    assert (email_failed["channel"], email_failed["next_channel"]) == ("email", None)
    assert email_failed["attempts"] == ATTEMPTS
    assert email_failed["error"].startswith("SMTPRecipientsRefused")
    assert failed["channel"] == "email"
    assert failed["attempts"] == 2 * ATTEMPTS
    assert failed["error"].startswith("webhook: WebhookRejected: HTTP 500; email: SMTPRecipients")
    assert "mailbox unavailable" in failed["error"]
    # addresses are private: never in an event
    for event in events:
        assert REFUSED not in event.model_dump_json()
        assert WEBHOOK_URL not in event.model_dump_json()
    record = await delivery(db, requested.payload["notification_id"])
    assert (record.state, record.channel, record.error) == ("failed", "email", failed["error"])


async def test_no_smtp_server_is_a_failed_channel(
    db: Database, http: httpx.AsyncClient, receiver: Receiver
) -> None:
    context = delivery_context(db, http, free_port())  # nothing listens there
    receiver.status = 503
    await deliver_notification(context, requested_envelope(MAIL, WEBHOOK))

    events = await outbox(db)
    assert [e.type for e in events] == [
        "notification.channel_failed",
        "notification.channel_failed",
        "notification.failed",
    ]
    email_failed = events[0].payload
    assert (email_failed["channel"], email_failed["next_channel"]) == ("email", "webhook")
    assert email_failed["attempts"] == ATTEMPTS
    assert events[2].payload["error"].startswith("email: SMTPConnectError")
    assert events[2].payload["error"].endswith("; webhook: WebhookRejected: HTTP 503")


async def test_sms_without_a_gateway_fails_at_once_as_not_configured(
    db: Database, context: DeliveryContext, mailbox: Mailbox, receiver: Receiver
) -> None:
    requested = requested_envelope(("sms", "+243000000001"))
    await deliver_notification(context, requested)

    assert (receiver.posts, mailbox.received) == ([], [])
    events = await outbox(db)
    assert [e.type for e in events] == ["notification.channel_failed", "notification.failed"]
    sms_failed, failed = (e.payload for e in events)
    assert (sms_failed["channel"], sms_failed["attempts"]) == ("sms", 1)  # no retries
    assert sms_failed["error"] == "no SMS gateway is configured (COORD_SMS_KANNEL_URL)"
    assert sms_failed["next_channel"] is None
    assert (failed["channel"], failed["attempts"]) == ("sms", 1)
    assert failed["error"] == "sms: no SMS gateway is configured (COORD_SMS_KANNEL_URL)"
    assert "+243000000001" not in events[1].model_dump_json()
    record = await delivery(db, requested.payload["notification_id"])
    assert (record.state, record.channel) == ("failed", "sms")


async def test_an_unconfigured_channel_falls_back_to_the_next(
    db: Database, context: DeliveryContext, mailbox: Mailbox, receiver: Receiver
) -> None:
    await deliver_notification(context, requested_envelope(("radio", "HF 7"), MAIL))

    assert len(mailbox.received) == 1
    events = await outbox(db)
    assert [(e.type, e.payload["channel"]) for e in events] == [
        ("notification.channel_failed", "radio"),
        ("notification.delivered", "email"),
    ]
    assert events[0].payload["next_channel"] == "email"
    assert events[1].payload["attempts"] == 2


async def test_a_version_two_message_is_mailed_with_its_own_subject(
    db: Database, context: DeliveryContext, mailbox: Mailbox
) -> None:
    requested = requested_v2_envelope(MAIL)
    await deliver_notification(context, requested)

    [(_, recipients, message)] = mailbox.received
    assert recipients == [EMAIL]
    assert subject(message) == "[coord] MESSAGE confidential: Convoy to Eringeti postponed"
    assert message["X-Coord-Event"] == "message.message"
    body = message.get_content()
    assert body.splitlines()[0] == "Message: Convoy to Eringeti postponed"
    assert f"Message id:     {requested.payload['subject_id']}" in body
    assert "Sender:         lucas.ho" in body
    [outcome] = await outbox(db)
    assert (outcome.type, outcome.schema_version) == ("notification.delivered", 2)
    assert (outcome.payload["subject_type"], outcome.payload["channel"]) == ("message", "email")


RECOMMENDATION_SUMMARY: dict[str, object] = {
    "title": "Reinforce patrols on the Mavivi road",
    "classification": "unclassified",
    "sector": "beni",
}


async def test_a_version_two_request_failing_everywhere_publishes_version_two_failed(
    db: Database,
    context: DeliveryContext,
    mailbox: Mailbox,
    receiver: Receiver,
    amqp_url: str,
) -> None:
    receiver.status = 500
    requested = requested_v2_envelope(
        WEBHOOK,
        ("email", REFUSED),
        subject_type=SubjectType.RECOMMENDATION,
        kind=NotificationKind.RECOMMENDATION,
        summary=RECOMMENDATION_SUMMARY,
    )
    async with notifier_on_broker(amqp_url, context) as notifier:
        await notifier.request(requested)
        await wait_for(lambda: len(notifier.handled) == 1, "the request handled")
        events = await notifier.published(3)

    assert len(receiver.posts) == ATTEMPTS
    assert receiver.posts[0].headers["x-coord-event"] == "recommendation.recommendation"
    assert mailbox.received == []
    assert [(e.type, e.schema_version) for e in events] == [
        ("notification.channel_failed", 2),
        ("notification.channel_failed", 2),
        ("notification.failed", 2),
    ]
    for event in events:
        assert event.payload["subject_type"] == "recommendation"
        assert event.payload["subject_id"] == requested.payload["subject_id"]
        assert "alert_id" not in event.payload
        assert event.causation_id == requested.id
        # addresses are private: never in an event
        assert REFUSED not in event.model_dump_json()
        assert WEBHOOK_URL not in event.model_dump_json()
    webhook_failed, email_failed, failed = (e.payload for e in events)
    assert (webhook_failed["channel"], webhook_failed["next_channel"]) == ("webhook", "email")
    assert (email_failed["channel"], email_failed["next_channel"]) == ("email", None)
    assert failed["kind"] == "recommendation"
    assert (failed["channel"], failed["attempts"]) == ("email", 2 * ATTEMPTS)
    assert failed["error"].startswith("webhook: WebhookRejected: HTTP 500; email: SMTPRecipients")
    record = await delivery(db, requested.payload["notification_id"])
    assert (record.state, record.alert_id) == ("failed", requested.payload["subject_id"])


def link_of(url: str) -> ActionLink:
    assert url.startswith(f"{PUBLIC_URL}/l/"), url
    return read_link_token(url.removeprefix(f"{PUBLIC_URL}/l/"), secret=LINK_SECRET)


def mailed_link(message: EmailMessage) -> str | None:
    lines = [line for line in message.get_content().splitlines() if line.startswith("Acknowledge:")]
    assert len(lines) <= 1
    return lines[0].removeprefix("Acknowledge:").strip() if lines else None


@pytest.mark.parametrize("version", [1, 2])
async def test_a_page_carries_the_persons_link_on_every_channel_it_tries(
    context: DeliveryContext, mailbox: Mailbox, receiver: Receiver, version: int
) -> None:
    receiver.status = 500
    requested = requested_envelope(WEBHOOK, MAIL, version=version)
    await deliver_notification(context, requested)

    alert_id = requested.payload["alert_id" if version == 1 else "subject_id"]
    posted = {json.loads(post.content)["acknowledge_url"] for post in receiver.posts}
    assert len(receiver.posts) == ATTEMPTS
    [webhook_url] = posted  # one link per channel: its retries resend the same body
    [(_, _, message)] = mailbox.received
    mail_url = mailed_link(message)
    assert mail_url is not None
    assert mail_url != webhook_url  # another delivery, another link (another nonce)
    for url in (webhook_url, mail_url):
        link = link_of(url)
        assert (str(link.alert_id), link.person_id) == (alert_id, "awa.hfo")
        assert not leaks_source(url)
    assert link_of(webhook_url).nonce != link_of(mail_url).nonce


async def test_a_notice_by_mail_has_no_link(context: DeliveryContext, mailbox: Mailbox) -> None:
    requested = requested_envelope(MAIL, kind=NotificationKind.RESOLVED, message="Resolved")
    await deliver_notification(context, requested)
    [(_, _, message)] = mailbox.received
    assert mailed_link(message) is None
    assert "/l/" not in message.get_content()


async def test_a_message_by_mail_has_no_link(context: DeliveryContext, mailbox: Mailbox) -> None:
    await deliver_notification(context, requested_v2_envelope(MAIL))
    [(_, _, message)] = mailbox.received
    assert mailed_link(message) is None
