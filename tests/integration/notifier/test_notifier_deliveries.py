"""The notifier's claim logic on a real database: one POST per notification, whatever
the redeliveries and concurrency. HTTP is an httpx MockTransport (the claim is under test).
A version-2 request also goes through a real broker, as the service consumes it."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession
from structlog.testing import capture_logs

from services.notifier import deliveries
from services.notifier.channels import ChannelContext
from services.notifier.claims import Claim, Report, claim, complete, renew
from services.notifier.deliveries import DeliveryContext, deliver_notification
from services.notifier.email import SmtpConfig
from services.notifier.links import LinkConfig
from services.notifier.outcomes import ChannelAttempt
from services.notifier.retry import DeliveryResult, RetryPolicy
from services.notifier.service import delivery_context
from services.notifier.subjects import read_request
from services.notifier.tables import DeliveryRecord
from shared.action_links import read_link_token
from shared.contracts.notifications import NotificationRequestedV2
from shared.envelope import utc_now
from shared.settings import Settings
from shared.signing import verify
from tests.support.database import Database
from tests.support.notifier import (
    MESSAGE_SUMMARY,
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
ATTEMPTS = 3


class Receiver:
    """Answers every POST with ``status`` after ``delay`` seconds, and records it."""

    def __init__(self, status: int = 200, delay: float = 0.0) -> None:
        self.status = status
        self.delay = delay
        self.posts: list[httpx.Request] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.posts.append(request)
        if self.delay:
            await asyncio.sleep(self.delay)
        return httpx.Response(self.status)


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
async def context(db: Database, receiver: Receiver) -> AsyncIterator[DeliveryContext]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(receiver)) as http:
        yield DeliveryContext(
            sessions=db.sessions,
            channels=ChannelContext(
                http=http,
                webhook_secret=SECRET,
                # never reached: these tests deliver on webhooks only
                smtp=SmtpConfig(host="127.0.0.1", port=9, sender="coord@localhost", timeout=1),
                retry=RetryPolicy(attempts=ATTEMPTS, backoff_initial=0, backoff_max=0),
                links=LINKS,
            ),
            lease=timedelta(seconds=1.5),
        )


async def test_redelivered_request_posts_once(
    db: Database, context: DeliveryContext, receiver: Receiver
) -> None:
    requested = requested_envelope()
    await deliver_notification(context, requested)
    await deliver_notification(context, requested)

    assert len(receiver.posts) == 1
    [post] = receiver.posts
    assert str(post.url) == WEBHOOK_URL
    assert post.headers["x-coord-event"] == "alert.page"
    assert verify(post.content, post.headers["x-coord-signature"], SECRET)
    # the page's acknowledge link is awa's, for this alert
    url = json.loads(post.content)["acknowledge_url"]
    link = read_link_token(url.removeprefix(f"{PUBLIC_URL}/l/"), secret=LINK_SECRET)
    assert (str(link.alert_id), link.person_id) == (requested.payload["subject_id"], "awa.hfo")
    [outcome] = await outbox(db)
    assert outcome.type == "notification.delivered"
    assert outcome.causation_id == requested.id
    assert outcome.correlation_id == requested.correlation_id
    assert outcome.payload["person_id"] == "awa.hfo"
    assert outcome.payload["attempts"] == 1
    assert outcome.payload["channel"] == "webhook"
    assert outcome.payload["kind"] == "page"
    record = await delivery(db, requested.payload["notification_id"])
    assert (record.state, record.channel, record.attempts, record.error) == (
        "delivered",
        "webhook",
        1,
        None,
    )


async def test_failing_receiver_ends_in_notification_failed(
    db: Database, context: DeliveryContext, receiver: Receiver
) -> None:
    receiver.status = 500
    requested = requested_envelope()
    await deliver_notification(context, requested)

    assert len(receiver.posts) == ATTEMPTS
    channel_failed, outcome = await outbox(db)
    assert channel_failed.type == "notification.channel_failed"
    assert channel_failed.payload["channel"] == "webhook"
    assert channel_failed.payload["next_channel"] is None  # the only contact
    assert channel_failed.payload["error"] == "WebhookRejected: HTTP 500"
    assert outcome.type == "notification.failed"
    assert outcome.payload["attempts"] == ATTEMPTS
    assert outcome.payload["channel"] == "webhook"
    assert outcome.payload["error"] == "webhook: WebhookRejected: HTTP 500"
    assert outcome.payload["notification_id"] == requested.payload["notification_id"]
    record = await delivery(db, requested.payload["notification_id"])
    assert (record.state, record.error) == ("failed", "webhook: WebhookRejected: HTTP 500")

    # a failed notification is final: a redelivered request does not post again
    await deliver_notification(context, requested)
    assert len(receiver.posts) == ATTEMPTS
    assert len(await outbox(db)) == 2


async def test_concurrent_deliveries_of_one_notification_post_once(
    db: Database, context: DeliveryContext, receiver: Receiver
) -> None:
    receiver.delay = 0.5  # the first delivery is still in flight when the copy arrives
    requested = requested_envelope()
    results = await asyncio.gather(
        deliver_notification(context, requested),
        deliver_notification(context, requested),
        return_exceptions=True,
    )
    assert len(receiver.posts) == 1
    # one delivered it; the other watched the live claim until it finished
    assert list(results) == [None, None]
    assert [e.type for e in await outbox(db)] == ["notification.delivered"]

    # a later redelivery finds the notification finished
    await deliver_notification(context, requested)
    assert len(receiver.posts) == 1


async def test_unsupported_channel_fails_without_posting(
    db: Database, context: DeliveryContext, receiver: Receiver
) -> None:
    pigeon = requested_envelope(("carrier_pigeon", "loft 7"))
    await deliver_notification(context, pigeon)
    assert receiver.posts == []
    channel_failed, outcome = await outbox(db)
    assert channel_failed.type == "notification.channel_failed"
    assert channel_failed.payload["attempts"] == 1
    assert outcome.type == "notification.failed"
    assert outcome.payload["error"] == "carrier_pigeon: channel carrier_pigeon is not configured"
    assert outcome.payload["channel"] == "carrier_pigeon"


def request_model() -> NotificationRequestedV2:
    return read_request(requested_envelope())


async def test_claim_is_held_while_the_lease_lives_and_ours_after(db: Database) -> None:
    request = request_model()
    lease = timedelta(milliseconds=300)

    async with db.sessions() as session, session.begin():
        first, until = await claim(session, request, lease)
    assert first is Claim.OURS

    async with db.sessions() as session, session.begin():
        second, held_until = await claim(session, request, lease)
    assert second is Claim.HELD_ELSEWHERE
    assert held_until == until

    await asyncio.sleep(0.4)  # the holder died: its lease ran out
    async with db.sessions() as session, session.begin():
        third, new_until = await claim(session, request, lease)
    assert third is Claim.OURS
    assert new_until > until

    async with db.sessions() as session, session.begin():
        fourth, _ = await claim(session, request, lease)
    assert fourth is Claim.HELD_ELSEWHERE  # the taker-over now holds it


async def test_claim_of_a_finished_notification(db: Database) -> None:
    request = request_model()
    async with db.sessions() as session, session.begin():
        assert (await claim(session, request, timedelta(seconds=5)))[0] is Claim.OURS
        record = await session.get(DeliveryRecord, str(request.notification_id))
        assert record is not None
        record.state = "delivered"
    async with db.sessions() as session, session.begin():
        assert (await claim(session, request, timedelta(seconds=5)))[0] is Claim.FINISHED


async def test_concurrent_claims_only_one_wins(db: Database) -> None:
    request = request_model()

    async def try_claim() -> Claim:
        async with db.sessions() as session, session.begin():
            state, _ = await claim(session, request, timedelta(seconds=30))
            await asyncio.sleep(0.1)
            return state

    states = await asyncio.gather(*(try_claim() for _ in range(4)))
    assert sorted(s.value for s in states) == ["held_elsewhere"] * 3 + ["ours"]


async def test_a_claim_whose_holder_died_is_taken_over_when_its_lease_ends(
    db: Database, context: DeliveryContext, receiver: Receiver
) -> None:
    requested = requested_envelope()
    request = read_request(requested)
    async with db.sessions() as session, session.begin():
        # a worker claimed it and died before posting
        await claim(session, request, timedelta(milliseconds=500))
    await deliver_notification(context, requested)
    assert len(receiver.posts) == 1
    record = await delivery(db, str(request.notification_id))
    assert record.state == "delivered"
    # and it is final: another copy does not post again
    await deliver_notification(context, requested)
    assert len(receiver.posts) == 1


async def first_post(receiver: Receiver, timeout: float = 5.0) -> float:  # noqa: ASYNC109 - a polling bound
    """Wait for the receiver's first POST; the monotonic time it was seen."""
    await wait_for(lambda: len(receiver.posts) >= 1, "a first POST", timeout)
    return time.monotonic()


def with_claim(context: DeliveryContext, seconds: float) -> DeliveryContext:
    return DeliveryContext(
        sessions=context.sessions, channels=context.channels, lease=timedelta(seconds=seconds)
    )


async def test_a_killed_holder_is_taken_over_within_the_claim_time(
    db: Database, receiver: Receiver
) -> None:
    # The notifier as the service configures it, with a claim of 1 s: a notifier killed
    # during a POST that hangs (webhook timeout 5 s, 3 attempts: a minute of retries).
    settings = Settings(
        notifier_claim_seconds=1.0,
        webhook_secret=SECRET,
        webhook_timeout=5.0,
        webhook_attempts=ATTEMPTS,
        webhook_backoff_initial=0,
        webhook_backoff_max=10,
    )
    receiver.delay = 30.0
    requested = requested_envelope()
    async with httpx.AsyncClient(transport=httpx.MockTransport(receiver)) as http:
        context = delivery_context(settings, db.sessions, http)
        assert context.lease == timedelta(seconds=1)
        holder = asyncio.create_task(deliver_notification(context, requested))
        await first_post(receiver)
        holder.cancel()  # killed: it renews no more (RabbitMQ redelivers its request)
        await asyncio.gather(holder, return_exceptions=True)
        killed = time.monotonic()
        receiver.delay = 0.0
        await deliver_notification(context, requested)
        taken_over = time.monotonic() - killed

    print(f"claim of 1 s taken over {taken_over:.2f} s after its holder was killed")
    assert 0.3 < taken_over < 2.0  # it waited for the claim to lapse, then took it at once
    assert len(receiver.posts) == 2  # the killed holder's POST, and the one that arrived
    assert [e.type for e in await outbox(db)] == ["notification.delivered"]
    record = await delivery(db, requested.payload["notification_id"])
    assert (record.state, record.attempts) == ("delivered", 1)


async def test_a_claim_renewed_by_its_working_holder_is_not_taken_over(
    db: Database, context: DeliveryContext, receiver: Receiver
) -> None:
    receiver.delay = 3.0  # the POST outlasts the claim three times over
    short = with_claim(context, 1.0)
    requested = requested_envelope()
    notification_id = requested.payload["notification_id"]
    holder = asyncio.create_task(deliver_notification(short, requested))
    await first_post(receiver)
    first_until = (await delivery(db, notification_id)).claimed_until
    # a copy of the request (a relay that published twice, another replica) watches it
    copy = asyncio.create_task(deliver_notification(short, requested))
    await asyncio.sleep(1.5)
    renewed = await delivery(db, notification_id)
    assert renewed.state == "in_progress"
    assert renewed.claimed_until > first_until  # the holder's heartbeat
    with capture_logs() as logs:
        await asyncio.gather(holder, copy)

    assert len(receiver.posts) == 1
    assert [e.type for e in await outbox(db)] == ["notification.delivered"]
    record = await delivery(db, notification_id)
    assert (record.state, record.attempts) == ("delivered", 1)
    events = [entry["event"] for entry in logs]
    assert "notification.claim_lost" not in events
    assert sorted(events) == ["notification.duplicate_ignored", "notification.outcome"]


async def test_a_holder_whose_claim_was_taken_over_stops_and_reports_nothing(
    db: Database, context: DeliveryContext, receiver: Receiver
) -> None:
    receiver.delay = 4.0
    short = with_claim(context, 1.0)
    requested = requested_envelope()
    notification_id = requested.payload["notification_id"]
    holder = asyncio.create_task(deliver_notification(short, requested))
    posted = await first_post(receiver)
    # The holder's heartbeat stalled past its claim (say, a frozen process), and a copy
    # of the request took the claim over.
    async with db.sessions() as session, session.begin():
        await session.execute(
            update(DeliveryRecord)
            .where(DeliveryRecord.notification_id == notification_id)
            .values(claimed_until=utc_now() - timedelta(seconds=1))
        )
    receiver.delay = 0.0
    with capture_logs() as logs:
        await deliver_notification(short, requested)
        await holder  # its next renewal found the claim taken: it stopped waiting on its POST
        stopped = time.monotonic() - posted

    assert stopped < 3.0  # well before its POST would have been answered
    assert len(receiver.posts) == 2
    assert [e.type for e in await outbox(db)] == ["notification.delivered"]
    record = await delivery(db, notification_id)
    assert (record.state, record.attempts) == ("delivered", 1)
    events = [entry["event"] for entry in logs]
    assert events.count("notification.outcome") == 1
    assert "notification.claim_lost" in events
    # having lost its claim, it watched it again, and found the delivery final
    assert events[-1] == "notification.duplicate_ignored"


async def test_renewal_extends_only_a_claim_still_ours(db: Database) -> None:
    request = request_model()
    notification_id = str(request.notification_id)
    lease = timedelta(milliseconds=200)
    async with db.sessions() as session, session.begin():
        _, until = await claim(session, request, lease)
    async with db.sessions() as session, session.begin():
        renewed = await renew(session, notification_id, until, timedelta(seconds=5))
    assert renewed is not None
    assert renewed > until
    assert (await delivery(db, notification_id)).claimed_until == renewed
    async with db.sessions() as session, session.begin():  # an older claim of ours is not
        assert await renew(session, notification_id, until, lease) is None

    async with db.sessions() as session, session.begin():  # lapsed, then taken over
        await session.execute(
            update(DeliveryRecord)
            .where(DeliveryRecord.notification_id == notification_id)
            .values(claimed_until=utc_now() - timedelta(seconds=1))
        )
    async with db.sessions() as session, session.begin():
        state, theirs = await claim(session, request, lease)
    assert state is Claim.OURS  # another worker's now
    async with db.sessions() as session, session.begin():
        assert await renew(session, notification_id, renewed, lease) is None
    async with db.sessions() as session, session.begin():  # final: nobody renews it
        record = await session.get(DeliveryRecord, notification_id)
        assert record is not None
        record.state = "delivered"
    async with db.sessions() as session, session.begin():
        assert await renew(session, notification_id, theirs, lease) is None


async def test_a_report_after_a_takeover_is_left_to_the_new_holder_unless_delivered(
    db: Database,
) -> None:
    requested = requested_envelope()
    request = read_request(requested)
    lease = timedelta(milliseconds=200)
    async with db.sessions() as session, session.begin():
        _, ours = await claim(session, request, lease)
    await asyncio.sleep(0.3)  # our heartbeat stalled: the claim lapsed...
    async with db.sessions() as session, session.begin():
        assert (await claim(session, request, lease))[0] is Claim.OURS  # ...and was taken

    contact = request.contacts[0]
    failed = [ChannelAttempt(contact, DeliveryResult(delivered=False, attempts=3, error="x"))]
    delivered = [ChannelAttempt(contact, DeliveryResult(delivered=True, attempts=1))]
    async with db.sessions() as session, session.begin():
        assert await complete(session, requested, request, failed, ours) is Report.TAKEN_OVER
    assert await outbox(db) == []
    # a page that reached the person is reported by whoever delivered it first
    async with db.sessions() as session, session.begin():
        assert await complete(session, requested, request, delivered, ours) is Report.RECORDED
    async with db.sessions() as session, session.begin():
        assert await complete(session, requested, request, failed, ours) is Report.ALREADY_FINAL
    assert [e.type for e in await outbox(db)] == ["notification.delivered"]


async def test_a_version_one_request_is_reported_in_version_one(
    db: Database, context: DeliveryContext, receiver: Receiver
) -> None:
    requested = requested_envelope(version=1)
    await deliver_notification(context, requested)
    [outcome] = await outbox(db)
    assert outcome.schema_version == 1
    assert outcome.payload == {
        "notification_id": requested.payload["notification_id"],
        "alert_id": requested.payload["alert_id"],
        "person_id": "awa.hfo",
        "kind": "page",
        "channel": "webhook",
        "attempts": 1,
    }
    record = await delivery(db, requested.payload["notification_id"])
    assert record.alert_id == requested.payload["alert_id"]


async def test_a_version_two_message_request_is_delivered_once_over_the_broker(
    db: Database, context: DeliveryContext, receiver: Receiver, amqp_url: str
) -> None:
    requested = requested_v2_envelope()
    notification_id = requested.payload["notification_id"]
    message_id = requested.payload["subject_id"]
    async with notifier_on_broker(amqp_url, context) as notifier:
        await notifier.request(requested, requested)  # a relay may publish twice
        await wait_for(lambda: len(notifier.handled) == 2, "both copies handled")
        published = await notifier.published(1)

    [post] = receiver.posts
    assert str(post.url) == WEBHOOK_URL
    assert post.headers["x-coord-event"] == "message.message"
    assert post.headers["x-coord-delivery"] == notification_id
    assert verify(post.content, post.headers["x-coord-signature"], SECRET)
    assert json.loads(post.content) == {
        "notification_id": notification_id,
        "subject_type": "message",
        "message_id": message_id,
        "person_id": "awa.hfo",
        "kind": "message",
        "message": "",
        "policy_id": None,
        "level": 1,
        **MESSAGE_SUMMARY,
    }

    [outcome] = published
    assert (outcome.type, outcome.schema_version) == ("notification.delivered", 2)
    assert outcome.payload == {
        "notification_id": notification_id,
        "subject_type": "message",
        "subject_id": message_id,
        "person_id": "awa.hfo",
        "kind": "message",
        "channel": "webhook",
        "attempts": 1,
    }
    assert (outcome.causation_id, outcome.correlation_id) == (
        requested.id,
        requested.correlation_id,
    )
    assert outcome.classification == requested.classification
    record = await delivery(db, notification_id)
    # the alert_id column holds the subject's id, whatever the subject
    assert (record.state, record.alert_id, record.attempts) == ("delivered", message_id, 1)
    assert await outbox(db) == []  # relayed, then deleted


def database_away() -> OperationalError:
    return OperationalError("INSERT ...", None, ConnectionRefusedError(111, "refused"))


async def test_a_page_posted_while_the_database_blinks_is_recorded_not_posted_again(
    db: Database, context: DeliveryContext, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The report fails twice (the database restarting), the second time after its commit
    went through (the answer lost): the page is still posted once and reported once."""
    real_complete = complete
    calls = 0

    async def blinking(session: AsyncSession, *args: Any) -> Report:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise database_away()
        if calls == 2:  # committed elsewhere, but the answer never came back
            async with db.sessions() as other, other.begin():
                assert await real_complete(other, *args) is Report.RECORDED
            raise database_away()
        return await real_complete(session, *args)

    monkeypatch.setattr(deliveries, "REPORT_RETRY_INITIAL", 0.01)
    monkeypatch.setattr(deliveries, "complete", blinking)
    requested = requested_envelope()
    with capture_logs() as logs:
        await deliver_notification(context, requested)

    assert len(receiver.posts) == 1
    assert calls == 3
    assert [e.type for e in await outbox(db)] == ["notification.delivered"]
    record = await delivery(db, requested.payload["notification_id"])
    assert record.state == "delivered"
    events = [entry["event"] for entry in logs]
    assert events.count("notification.report_failed") == 2
    assert "notification.outcome_already_recorded" in events


async def test_a_database_away_longer_than_the_patience_hands_the_message_back(
    db: Database, context: DeliveryContext, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def away(session: AsyncSession, *args: Any) -> Report:
        raise database_away()

    monkeypatch.setattr(deliveries, "REPORT_PATIENCE", 0.3)
    monkeypatch.setattr(deliveries, "REPORT_RETRY_INITIAL", 0.05)
    monkeypatch.setattr(deliveries, "complete", away)
    requested = requested_envelope()
    with pytest.raises(OperationalError):  # the bus hands it back; a takeover reports it
        await deliver_notification(context, requested)
    assert len(receiver.posts) == 1
    assert await outbox(db) == []
    record = await delivery(db, requested.payload["notification_id"])
    assert record.state == "in_progress"


async def test_the_claim_is_renewed_while_a_delivered_page_waits_to_be_recorded(
    db: Database, context: DeliveryContext, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Recording fails for twice the claim time while another copy of the request (a
    redelivery) watches the claim: the copy never takes it over, so the page is posted
    once, and the copy drops the request once the page is recorded."""
    recording_fails_until = time.monotonic() + 2 * context.lease.total_seconds()

    async def blinking(session: AsyncSession, *args: Any) -> Report:
        if time.monotonic() < recording_fails_until:
            raise database_away()
        return await complete(session, *args)

    monkeypatch.setattr(deliveries, "REPORT_RETRY_INITIAL", 0.05)
    monkeypatch.setattr(deliveries, "complete", blinking)
    requested = requested_envelope()
    first = asyncio.create_task(deliver_notification(context, requested))
    await wait_for(lambda: len(receiver.posts) == 1, "the page posted")
    with capture_logs() as logs:
        await asyncio.gather(first, deliver_notification(context, requested))

    assert len(receiver.posts) == 1
    assert [e.type for e in await outbox(db)] == ["notification.delivered"]
    assert "notification.duplicate_ignored" in [entry["event"] for entry in logs]
