"""A page carries its person's acknowledge link, on every channel; nothing else carries one."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from uuid import UUID

import httpx
import pytest
from pydantic import SecretStr
from structlog.testing import capture_logs

from services.notifier.channels import ChannelContext, deliver_on
from services.notifier.email import SmtpConfig, email_message
from services.notifier.email_text import email_text
from services.notifier.links import LinkConfig, acknowledge_url, carries_acknowledge_link
from services.notifier.retry import RetryPolicy
from services.notifier.service import delivery_context
from services.notifier.webhook import deliver_webhook, webhook_body
from shared.action_links import ActionLink, LinkAction, read_link_token
from shared.contracts.notifications import (
    ContactPoint,
    NotificationKind,
    NotificationRequestedV2,
    SubjectType,
)
from shared.settings import Settings
from tests.support.notifications import (
    MESSAGE_SUMMARY,
    RECOMMENDATION_SUMMARY,
    URL,
    request,
    subject_request,
)

WEBHOOK_SECRET = "unit-webhook-secret-0123456789abcdef0123456789abcd"  # noqa: S105
LINK_SECRET = "unit-link-secret-0123456789abcdef0123456789abcdef"  # noqa: S105
PUBLIC_URL = "https://coord.mission.example"
LINKS = LinkConfig(public_url=PUBLIC_URL, secret=LINK_SECRET, ttl=timedelta(hours=6))
NO_WAIT = RetryPolicy(attempts=3, backoff_initial=0, backoff_max=0)
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)

ALERT_NOTICES = [kind for kind in NotificationKind if kind is not NotificationKind.PAGE]
# Every request that asks nothing of its reader through a link: alert notices, and messages
# and recommendations of every kind.
WITHOUT_LINK = [
    *(pytest.param(request(kind=kind), id=f"alert-{kind.value}") for kind in ALERT_NOTICES),
    *(
        pytest.param(
            subject_request(SubjectType.MESSAGE, kind, MESSAGE_SUMMARY), id=f"message-{kind.value}"
        )
        for kind in NotificationKind
    ),
    *(
        pytest.param(
            subject_request(SubjectType.RECOMMENDATION, kind, RECOMMENDATION_SUMMARY),
            id=f"recommendation-{kind.value}",
        )
        for kind in NotificationKind
    ),
]


def link_of(url: str, now: datetime | None = None) -> ActionLink:
    prefix = f"{PUBLIC_URL}/l/"
    assert url.startswith(prefix), url
    return read_link_token(url.removeprefix(prefix), secret=LINK_SECRET, now=now)


class Recorder:
    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.requests: list[httpx.Request] = []

    def __call__(self, http_request: httpx.Request) -> httpx.Response:
        self.requests.append(http_request)
        return httpx.Response(self.statuses[min(len(self.requests), len(self.statuses)) - 1])


async def delivered_body(notification: NotificationRequestedV2) -> dict[str, object]:
    """The JSON the webhook receiver gets when the notifier's channels deliver ``notification``."""
    recorder = Recorder([200])
    async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as http:
        context = ChannelContext(
            http=http,
            webhook_secret=WEBHOOK_SECRET,
            smtp=SmtpConfig(host="127.0.0.1", port=9, sender="coord@localhost", timeout=1),
            retry=NO_WAIT,
            links=LINKS,
        )
        contact = ContactPoint(channel="webhook", address=URL)
        result = await deliver_on(context, notification, contact)
    assert result.delivered
    [sent] = recorder.requests
    body: dict[str, object] = json.loads(sent.content)
    return body


# ------------------------------------------------------------------------- which requests


def test_only_a_page_about_an_alert_carries_a_link() -> None:
    assert carries_acknowledge_link(request())
    assert request().kind is NotificationKind.PAGE


@pytest.mark.parametrize("notification", WITHOUT_LINK)
def test_nothing_else_carries_one(notification: NotificationRequestedV2) -> None:
    assert not carries_acknowledge_link(notification)
    assert acknowledge_url(LINKS, notification) is None


# ------------------------------------------------------------------------------- the link


def test_the_link_acknowledges_that_alert_as_that_person() -> None:
    notification = request()
    url = acknowledge_url(LINKS, notification, now=NOW)
    assert url is not None
    link = link_of(url, now=NOW)
    assert link.alert_id == notification.subject_id
    assert link.person_id == notification.person_id == "awa.hfo"
    assert link.action is LinkAction.ACKNOWLEDGE
    assert link.expires_at == NOW + LINKS.ttl


def test_the_link_says_nothing_more_than_its_alert_person_and_action() -> None:
    url = acknowledge_url(LINKS, request(), now=NOW)
    assert url is not None
    token = url.rsplit("/", 1)[1]
    # version, action, alert, expiry, nonce (30 bytes), "awa.hfo", MAC (16): base64url
    assert len(token) == 71
    assert url == f"{PUBLIC_URL}/l/{token}"
    assert "Mavivi" not in url
    assert "receiver.test" not in url


def test_a_person_id_too_long_for_a_link_gets_the_page_without_one() -> None:
    notification = request(person_id="p" * 200)
    with capture_logs() as logs:
        assert acknowledge_url(LINKS, notification) is None
    assert [entry["event"] for entry in logs] == ["notification.link_not_minted"]


def test_the_link_settings_come_from_the_settings() -> None:
    settings = Settings(
        env="development",
        public_url="https://coord.mission.example/",
        link_secret=SecretStr(LINK_SECRET),
        link_ttl=3600,
    )
    assert LinkConfig.from_settings(settings) == LinkConfig(
        public_url="https://coord.mission.example/", secret=LINK_SECRET, ttl=timedelta(hours=1)
    )


async def test_the_notifier_mints_with_its_settings() -> None:
    settings = Settings(env="development", link_secret=SecretStr(LINK_SECRET))
    async with httpx.AsyncClient() as http:
        context = delivery_context(settings, None, http)  # type: ignore[arg-type]
    assert context.channels.links == LinkConfig.from_settings(settings)


# --------------------------------------------------------------------------------- webhook


async def test_a_delivered_page_has_the_persons_acknowledge_url() -> None:
    notification = request()
    body = await delivered_body(notification)
    url = body.pop("acknowledge_url")
    assert isinstance(url, str)
    link = link_of(url)
    assert (link.alert_id, link.person_id) == (notification.subject_id, "awa.hfo")
    # Everything else is the body receivers already knew.
    assert body == json.loads(webhook_body(notification))


@pytest.mark.parametrize("notification", WITHOUT_LINK)
async def test_a_delivered_notice_message_or_recommendation_has_none(
    notification: NotificationRequestedV2,
) -> None:
    body = await delivered_body(notification)
    assert "acknowledge_url" not in body
    assert body == json.loads(webhook_body(notification))


async def test_each_page_delivered_gets_a_link_of_its_own() -> None:
    first, second = [await delivered_body(request()) for _ in range(2)]
    assert first["acknowledge_url"] != second["acknowledge_url"]


async def test_retries_send_the_same_body_link_included() -> None:
    notification = request()
    url = acknowledge_url(LINKS, notification)
    recorder = Recorder([500, 503, 200])
    async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as client:
        result = await deliver_webhook(
            client, notification, URL, WEBHOOK_SECRET, NO_WAIT, acknowledge_url=url
        )
    assert (result.delivered, result.attempts) == (True, 3)
    assert {r.content for r in recorder.requests} == {webhook_body(notification, url)}


def test_the_body_is_compact_and_sorted_with_the_link() -> None:
    raw = webhook_body(request(), "https://coord.mission.example/l/TOKEN")
    body = json.loads(raw)
    assert body["acknowledge_url"] == "https://coord.mission.example/l/TOKEN"
    assert raw == json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


# ------------------------------------------------------------------------------------ email

GOLDEN_PAGE_TEXT = (
    "Page: Abduction reported near Mavivi\n\n"
    "Acknowledge:    https://coord.mission.example/l/TOKEN\n\n"
    "Category:       abduction\nSeverity:       severe\nUrgency:        immediate\n"
    "Certainty:      observed\nSector:         beni\nLocation:       Mavivi\n"
    "Origin:         community\nClassification: confidential\n"
    "Raised at:      2026-11-23T10:00:00+00:00\nLevel:          1 (poc-urgent)\n"
    "Alert id:       00000000-0000-0000-0000-000000000002\n"
    "Notification:   00000000-0000-0000-0000-000000000001\n"
)


def test_the_mail_of_a_page_has_an_acknowledge_line_first() -> None:
    notification = request(notification_id=UUID(int=1), alert_id=UUID(int=2))
    text = email_text(notification, "https://coord.mission.example/l/TOKEN")
    assert text == GOLDEN_PAGE_TEXT


def test_the_acknowledge_line_follows_the_message() -> None:
    notification = request(message="Second page: nobody acknowledged level 1")
    lines = email_text(notification, "https://coord.mission.example/l/TOKEN").splitlines()
    assert lines[:5] == [
        "Page: Abduction reported near Mavivi",
        "",
        "Second page: nobody acknowledged level 1",
        "",
        "Acknowledge:    https://coord.mission.example/l/TOKEN",
    ]


def test_the_mail_of_a_page_reads_back_to_the_person() -> None:
    notification = request()
    url = acknowledge_url(LINKS, notification)
    assert url is not None
    mail = email_message(notification, "awa.ndiaye@example.org", "coord@localhost", url)
    [line] = [line for line in mail.get_content().splitlines() if line.startswith("Acknowledge:")]
    link = link_of(line.removeprefix("Acknowledge:").strip())
    assert (link.alert_id, link.person_id) == (notification.subject_id, "awa.hfo")


@pytest.mark.parametrize("notification", WITHOUT_LINK)
def test_no_other_mail_has_the_line(notification: NotificationRequestedV2) -> None:
    assert "Acknowledge:" not in email_text(notification, acknowledge_url(LINKS, notification))
