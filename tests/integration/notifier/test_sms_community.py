"""Feedback to a community contact on the real gateway (Kannel and its fake SMS centre).

The router addresses ``community_feedback`` to the contact's id on ``community_sms``;
the notifier opens their sealed number from the directory, sends the officer's text after
the alert's reference, and records the SMS under ``community:<id>``: the number is on
no row and in no event. A contact it cannot find fails at once, saying so.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from uuid import uuid4

import httpx
import pytest
import yaml
from fastapi import FastAPI
from sqlalchemy import select

from services.notifier.channels import ChannelContext
from services.notifier.deliveries import DeliveryContext, deliver_notification
from services.notifier.email import SmtpConfig
from services.notifier.links import LinkConfig
from services.notifier.retry import RetryPolicy
from services.notifier.sms.channel import SmsGateway
from services.notifier.sms.community import CommunityPhones
from services.notifier.sms.gateway import KannelConfig
from services.notifier.sms.reports import report_routes
from services.notifier.tables import DeliveryRecord, SmsRecord
from shared.contracts import NOTIFICATION_REQUESTED
from shared.contracts.notifications import (
    COMMUNITY_SMS,
    ContactPoint,
    NotificationKind,
    NotificationRequestedV2,
    SubjectType,
)
from shared.directory import Directory
from shared.envelope import Classification, Envelope
from shared.problems import install_problem_handlers
from shared.source_protection import SourceKeyRing
from tests.support.database import Database
from tests.support.directories import EXAMPLE_DIRECTORY
from tests.support.identity_provider import serving
from tests.support.kannel import Kannel, require_kannel
from tests.support.notifier import outbox

pytestmark = pytest.mark.integration

SMS_SECRET = "community-sms-secret-0123456789abcdef0123456789abcd"  # noqa: S105
KEYS = SourceKeyRing.parse("k-notifier:" + base64.urlsafe_b64encode(bytes(range(64, 96))).decode())
LINKS = LinkConfig(
    public_url="http://127.0.0.1:8000",
    secret="community-link-secret-0123456789abcdef0123456789abc",  # noqa: S106
    ttl=timedelta(hours=1),
)
NO_WAIT = RetryPolicy(attempts=2, backoff_initial=0, backoff_max=0)
REFERENCE = "A46C11"
MESSAGE = "La mission a recu votre alerte. Une patrouille est en route."


@pytest.fixture(scope="module")
def kannel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kannel]:
    require_kannel()
    with Kannel(
        tmp_path_factory.mktemp("kannel"), get_url="http://127.0.0.1:9/unused?text=%a"
    ) as gateway:
        yield gateway


def phone() -> str:
    """A distinct valid DRC mobile number per test (they share one gateway)."""
    return f"+24399{uuid4().int % 10_000_000:07d}"


def directory_with_contact(contact_id: str, number: str) -> Directory:
    """The reference directory with one focal point, sealed as every stored version is."""
    data = yaml.safe_load(EXAMPLE_DIRECTORY.read_text(encoding="utf-8"))
    data["community_contacts"] = [
        {
            "id": contact_id,
            "name": "Kavira Masika",
            "phone": number,
            "location": "Mavivi",
            "sector": "beni",
            "language": "fr",
        }
    ]
    directory = Directory.model_validate(data)
    return directory.with_sealed_contacts(KEYS)


@dataclass
class Rig:
    """A notifier's channels wired to the private gateway, the directory swappable."""

    directory: Directory
    context: DeliveryContext = field(init=False)


@pytest.fixture
async def rig_factory(db: Database, kannel: Kannel) -> AsyncIterator[Callable[..., Any]]:
    stack: list[Any] = []

    async def make(directory: Directory) -> Rig:
        app = FastAPI()
        install_problem_handlers(app)
        server = serving(app)
        base_url = await server.__aenter__()
        stack.append(server)
        config = KannelConfig(
            sendsms_url=kannel.sendsms_url,
            username=kannel.username,
            password=kannel.password,
            sender="COORD",
            report_url=base_url,
            secret=SMS_SECRET,
            delivered_status=1,
            report_wait=10.0,
            default_region="CD",
        )
        app.include_router(report_routes(config, db.sessions, None))
        http = httpx.AsyncClient(timeout=5)
        stack.append(http)
        rig = Rig(directory)
        rig.context = DeliveryContext(
            sessions=db.sessions,
            channels=ChannelContext(
                http=http,
                webhook_secret="community-webhook-secret-0123456789abcdef012345678",  # noqa: S106
                smtp=SmtpConfig(host="127.0.0.1", port=9, sender="coord@localhost", timeout=1),
                retry=NO_WAIT,
                links=LINKS,
                sms=SmsGateway(config, db.sessions),
                community=CommunityPhones(lambda: rig.directory, KEYS),
            ),
            lease=timedelta(seconds=30),
        )
        return rig

    yield make
    for item in reversed(stack):
        if isinstance(item, httpx.AsyncClient):
            await item.aclose()
        else:
            await item.__aexit__(None, None, None)


def feedback_request(contact_id: str, message: str = MESSAGE) -> Envelope:
    """``community_feedback`` as the router stages it: to the contact's id, by the officer."""
    alert_id = uuid4()
    request = NotificationRequestedV2(
        notification_id=uuid4(),
        subject_type=SubjectType.ALERT,
        subject_id=alert_id,
        person_id=contact_id,
        kind=NotificationKind.COMMUNITY_FEEDBACK,
        contacts=[ContactPoint(channel=COMMUNITY_SMS, address=contact_id)],
        message=message,
        summary={"reference": REFERENCE},
        language="fr",
    )
    return Envelope(
        type=NOTIFICATION_REQUESTED,
        schema_version=2,
        producer="router",
        actor="awa.hfo",
        correlation_id=alert_id,
        classification=Classification.CONFIDENTIAL,
        payload=request.model_dump(mode="json"),
    )


async def sms_rows(db: Database, notification_id: str) -> list[SmsRecord]:
    async with db.sessions() as session:
        rows = await session.scalars(
            select(SmsRecord).where(SmsRecord.notification_id == notification_id)
        )
        return list(rows.all())


def row_json(row: object) -> str:
    columns = row.__table__.columns  # type: ignore[attr-defined]
    return json.dumps({c.name: getattr(row, c.name) for c in columns}, default=str)


async def test_feedback_reaches_the_contacts_phone_recorded_under_their_id(
    db: Database, kannel: Kannel, rig_factory: Callable[..., Any]
) -> None:
    number = phone()
    rig: Rig = await rig_factory(directory_with_contact("can.mavivi", number))
    requested = feedback_request("can.mavivi")
    notification_id = requested.payload["notification_id"]
    await deliver_notification(rig.context, requested)

    sms = await kannel.wait_for_outbound(to=number)
    assert sms.sender == "COORD"
    assert sms.text == f"COORD {REFERENCE}: {MESSAGE}"

    [row] = await sms_rows(db, notification_id)
    assert (row.address, row.status, row.final) == ("community:can.mavivi", 1, True)
    [(kind, outcome)] = [(e.type, e.payload) for e in await outbox(db)]
    assert kind == "notification.delivered"
    assert (outcome["channel"], outcome["kind"]) == (COMMUNITY_SMS, "community_feedback")
    async with db.sessions() as session:
        record = await session.get(DeliveryRecord, notification_id)
    assert record is not None
    assert record.state == "delivered"
    national = number.removeprefix("+243")
    for text in (row_json(row), row_json(record), json.dumps(outcome)):
        assert national not in text  # the number, in any form, is nowhere at rest


async def test_an_unknown_contact_fails_at_once_and_says_so(
    db: Database, kannel: Kannel, rig_factory: Callable[..., Any]
) -> None:
    rig: Rig = await rig_factory(directory_with_contact("can.mavivi", phone()))
    requested = feedback_request("can.nobody")
    sent_before = len(kannel.outbound)
    started = time.monotonic()
    await deliver_notification(rig.context, requested)
    assert time.monotonic() - started < 5  # no report waited for, no retry

    events = [(e.type, e.payload) for e in await outbox(db)]
    assert [t for t, _ in events][-1] == "notification.failed"
    errors = " ".join(str(p.get("error")) for _, p in events)
    assert "community contact can.nobody cannot be reached" in errors
    assert await sms_rows(db, requested.payload["notification_id"]) == []
    assert len(kannel.outbound) == sent_before


async def test_a_contact_removed_from_the_directory_is_no_longer_reached(
    db: Database, kannel: Kannel, rig_factory: Callable[..., Any]
) -> None:
    number = phone()
    rig: Rig = await rig_factory(directory_with_contact("can.mavivi", number))
    rig.directory = directory_with_contact("can.oicha", phone())  # a new version loaded
    await deliver_notification(rig.context, feedback_request("can.mavivi"))
    [failed] = [e for e in await outbox(db) if e.type == "notification.failed"]
    assert "can.mavivi cannot be reached" in json.dumps(failed.payload)
    assert [s for s in kannel.outbound if s.to == number] == []
