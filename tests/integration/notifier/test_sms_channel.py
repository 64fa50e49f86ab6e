"""The SMS channel on the real gateway: Kannel (bearerbox, smsbox) and its fake SMS centre.

A page goes out as one SMS and is delivered only when the delivery report says so; a
failed report (16, the SMS centre refused it) or none in time falls back to the next
contact; Kannel refusing or unreachable is retried, then falls back; a notifier taking
over a crashed delivery does not send the same SMS again; and the report route takes
only the gateway's reports.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from uuid import uuid4

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from sqlalchemy import select
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from services.notifier.channels import ChannelContext
from services.notifier.deliveries import DeliveryContext, deliver_notification
from services.notifier.email import SmtpConfig
from services.notifier.links import LinkConfig
from services.notifier.retry import RetryPolicy
from services.notifier.sms.channel import SmsGateway
from services.notifier.sms.gateway import REPORT_PATH, KannelConfig
from services.notifier.sms.reports import report_routes
from services.notifier.tables import DeliveryRecord, SmsRecord
from shared.contracts import NOTIFICATION_REQUESTED
from shared.contracts.notifications import (
    ContactPoint,
    NotificationKind,
    NotificationRequestedV2,
    SubjectType,
)
from shared.envelope import Envelope, utc_now
from shared.problems import install_problem_handlers
from tests.support.builders import SOURCE, raised_envelope
from tests.support.database import Database
from tests.support.identity_provider import serving
from tests.support.kannel import Kannel, require_kannel
from tests.support.notifier import delivery, outbox

pytestmark = pytest.mark.integration

SMS_SECRET = "integration-sms-secret-0123456789abcdef0123456789ab"  # noqa: S105
LINKS = LinkConfig(
    public_url="http://127.0.0.1:8000",
    secret="integration-link-secret-0123456789abcdef0123456789ab",  # noqa: S106
    ttl=timedelta(hours=1),
)
NO_WAIT = RetryPolicy(attempts=2, backoff_initial=0, backoff_max=0)


@pytest.fixture(scope="module")
def kannel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kannel]:
    require_kannel()
    # Inbound SMS are ingest's (tests/integration/ingest); nothing here sends one.
    with Kannel(
        tmp_path_factory.mktemp("kannel"), get_url="http://127.0.0.1:9/unused?text=%a"
    ) as gateway:
        yield gateway


@dataclass
class ReportGate:
    """Stands between Kannel and the report route: passes Kannel's reports, or drops them
    (a report lost on the way), and records what came."""

    forward: bool = True
    only: frozenset[str] | None = None  # forward only reports of these statuses
    seen: list[dict[str, str]] = field(default_factory=list)

    def passes(self, status: str | None) -> bool:
        """Whether a report of ``status`` from Kannel reaches the route."""
        return self.forward and (self.only is None or status in self.only)


@dataclass
class Webhooks:
    """The next contact after the SMS: a webhook receiver on the same server."""

    posts: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Rig:
    """A notifier's SMS channel wired to the private gateway."""

    context: DeliveryContext
    config: KannelConfig
    base_url: str
    gate: ReportGate
    webhooks: Webhooks
    http: httpx.AsyncClient

    async def report(self, sms_id: str, status: int, **auth: Any) -> httpx.Response:
        """A report sent to the route as Kannel would (the secret unless told otherwise)."""
        params = {"sms": sms_id, "status": str(status), "secret": SMS_SECRET, **auth}
        params = {k: v for k, v in params.items() if v is not None}
        return await self.http.get(f"{self.base_url}{REPORT_PATH}", params=params)


def gate_middleware(gate: ReportGate) -> type[BaseHTTPMiddleware]:
    class Gate(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
            from_kannel = request.headers.get("user-agent", "").startswith("Kannel")
            if request.url.path == REPORT_PATH and from_kannel:
                gate.seen.append(dict(request.query_params))
                if not gate.passes(request.query_params.get("status")):
                    return Response(status_code=200)
            return await call_next(request)

    return Gate


@pytest.fixture
async def rig_factory(db: Database, kannel: Kannel) -> AsyncIterator[Callable[..., Any]]:
    stack: list[Any] = []

    async def make(
        *,
        delivered_status: int = 1,
        report_wait: float = 10.0,
        sendsms_url: str | None = None,
        password: str | None = None,
        gateway_address: str | None = None,
    ) -> Rig:
        gate, webhooks = ReportGate(), Webhooks()
        app = FastAPI()
        install_problem_handlers(app)
        app.add_middleware(gate_middleware(gate))

        @app.post("/hook")
        async def hook(request: Request) -> dict[str, str]:
            webhooks.posts.append(await request.json())
            return {"ok": "yes"}

        server = serving(app)
        base_url = await server.__aenter__()
        stack.append(server)
        config = KannelConfig(
            sendsms_url=sendsms_url or kannel.sendsms_url,
            username=kannel.username,
            password=password if password is not None else kannel.password,
            sender="COORD",
            report_url=base_url,
            secret=SMS_SECRET,
            delivered_status=delivered_status,
            report_wait=report_wait,
            default_region="CD",
        )
        app.include_router(report_routes(config, db.sessions, gateway_address))
        http = httpx.AsyncClient(timeout=5)
        stack.append(http)
        context = DeliveryContext(
            sessions=db.sessions,
            channels=ChannelContext(
                http=http,
                webhook_secret="integration-webhook-secret-0123456789abcdef01234567",  # noqa: S106
                smtp=SmtpConfig(host="127.0.0.1", port=9, sender="coord@localhost", timeout=1),
                retry=NO_WAIT,
                links=LINKS,
                sms=SmsGateway(config, db.sessions),
            ),
            lease=timedelta(seconds=30),
        )
        return Rig(context, config, base_url, gate, webhooks, http)

    yield make
    for item in reversed(stack):
        if isinstance(item, httpx.AsyncClient):
            await item.aclose()
        else:
            await item.__aexit__(None, None, None)


def page(
    *contacts: tuple[str, str], classification: str = "unclassified", **summary: Any
) -> Envelope:
    """A page for awa.hfo about an alert raised with a source, as the router writes it."""
    raised = raised_envelope(source=SOURCE, classification=classification)
    alert = raised.payload
    request = NotificationRequestedV2(
        notification_id=uuid4(),
        subject_type=SubjectType.ALERT,
        subject_id=alert["alert_id"],
        person_id="awa.hfo",
        kind=NotificationKind.PAGE,
        contacts=[ContactPoint(channel=c, address=a) for c, a in contacts],
        policy_id="poc-urgent",
        level=1,
        summary={
            "title": alert["title"],
            "category": alert["category"],
            "severity": alert["severity"],
            "urgency": alert["urgency"],
            "certainty": alert["certainty"],
            "sector": alert["sector"],
            "location": alert["location"],
            "origin": alert["origin"],
            "classification": classification,
            "raised_at": alert["raised_at"],
            "code": "4821",
            **summary,
        },
        language="fr",
    )
    return raised.caused(NOTIFICATION_REQUESTED, request, producer="router", schema_version=2)


def phone() -> str:
    """A distinct valid DRC mobile number per test (they share one gateway)."""
    return f"+24399{uuid4().int % 10_000_000:07d}"


async def submitted_sms(db: Database, notification_id: str) -> SmsRecord:
    """The SMS of a delivery under way, once Kannel has taken it (within 10 s)."""
    for _ in range(200):
        rows = await sms_rows(db, notification_id)
        if rows:
            return rows[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no SMS handed to the gateway for {notification_id}")


async def sms_rows(db: Database, notification_id: str) -> list[SmsRecord]:
    async with db.sessions() as session:
        rows = await session.scalars(
            select(SmsRecord).where(SmsRecord.notification_id == notification_id)
        )
        return list(rows.all())


async def test_a_page_is_one_french_sms_delivered_when_the_report_says_so(
    db: Database, kannel: Kannel, rig_factory: Callable[..., Any]
) -> None:
    rig: Rig = await rig_factory()
    number = phone()
    requested = page(("sms", number.replace("+243", "0")))  # national form, read in CD
    await deliver_notification(rig.context, requested)

    sms = await kannel.wait_for_outbound(to=number)
    assert (sms.sender, sms.coding, sms.parts) == ("COORD", 0, 1)
    assert sms.text.startswith("COORD 4821: ")
    assert sms.text.endswith("Répondez ACC 4821")
    assert not any(str(value) in sms.text for value in SOURCE.values())
    [(kind, outcome)] = [(e.type, e.payload) for e in await outbox(db)]
    assert kind == "notification.delivered"
    assert (outcome["channel"], outcome["attempts"]) == ("sms", 1)
    [row] = await sms_rows(db, requested.payload["notification_id"])
    assert (row.address, row.segments, row.status, row.final) == (number, 1, 1, True)
    assert sorted(r["status"] for r in rig.gate.seen) == ["1", "8"]  # as Kannel reported them


async def test_where_the_smsc_only_reports_8_that_is_delivered_if_configured_so(
    db: Database, kannel: Kannel, rig_factory: Callable[..., Any]
) -> None:
    rig: Rig = await rig_factory(delivered_status=8)
    rig.gate.only = frozenset({"8"})  # an SMSC that never says more than "accepted"
    requested = page(("sms", phone()))
    await deliver_notification(rig.context, requested)
    [row] = await sms_rows(db, requested.payload["notification_id"])
    assert (row.status, row.final) == (8, True)
    assert (await delivery(db, requested.payload["notification_id"])).state == "delivered"


async def test_where_only_1_means_delivered_an_8_alone_is_not_enough(
    db: Database, kannel: Kannel, rig_factory: Callable[..., Any]
) -> None:
    rig: Rig = await rig_factory(delivered_status=1, report_wait=1.5)
    rig.gate.only = frozenset({"8"})
    requested = with_webhook(page(("sms", phone()), ("webhook", "PLACEHOLDER")), rig)
    await deliver_notification(rig.context, requested)
    [row] = await sms_rows(db, requested.payload["notification_id"])
    assert (row.status, row.final) == (8, False)  # progress, not an end
    events = [(e.type, e.payload) for e in await outbox(db)]
    assert [(t, p["channel"]) for t, p in events] == [
        ("notification.channel_failed", "sms"),
        ("notification.delivered", "webhook"),
    ]


async def test_report_16_falls_back_to_the_next_contact(
    db: Database, kannel: Kannel, rig_factory: Callable[..., Any]
) -> None:
    rig: Rig = await rig_factory()
    rig.gate.forward = False  # Kannel's own reports are lost: this test sends the SMSC's
    requested = page(("sms", phone()), ("webhook", "PLACEHOLDER"))
    requested = with_webhook(requested, rig)
    notification_id = requested.payload["notification_id"]
    delivering = asyncio.create_task(deliver_notification(rig.context, requested))
    row = await submitted_sms(db, notification_id)
    assert (await rig.report(row.sms_id, 16)).status_code == 200
    await asyncio.wait_for(delivering, timeout=10)

    events = [(e.type, e.payload) for e in await outbox(db)]
    assert [(t, p["channel"]) for t, p in events] == [
        ("notification.channel_failed", "sms"),
        ("notification.delivered", "webhook"),
    ]
    assert events[0][1]["error"] == "the SMS gateway reported status 16 (smsc rejected)"
    assert len(rig.webhooks.posts) == 1


def with_webhook(requested: Envelope, rig: Rig) -> Envelope:
    payload = dict(requested.payload)
    payload["contacts"] = [
        c
        if c["channel"] != "webhook"
        else {"channel": "webhook", "address": f"{rig.base_url}/hook"}
        for c in payload["contacts"]
    ]
    return requested.model_copy(update={"payload": payload})


async def test_no_report_in_time_falls_back(
    db: Database, kannel: Kannel, rig_factory: Callable[..., Any]
) -> None:
    rig: Rig = await rig_factory(report_wait=1.5)
    rig.gate.forward = False
    requested = with_webhook(page(("sms", phone()), ("webhook", "PLACEHOLDER")), rig)
    await deliver_notification(rig.context, requested)
    events = [(e.type, e.payload) for e in await outbox(db)]
    assert [t for t, _ in events] == ["notification.channel_failed", "notification.delivered"]
    assert events[0][1]["error"] == (
        "no delivery report within 1.5 s of the gateway taking the SMS"
    )


async def test_kannel_refusing_the_account_is_retried_then_falls_back(
    db: Database, kannel: Kannel, rig_factory: Callable[..., Any]
) -> None:
    rig: Rig = await rig_factory(password="not-the-password")  # noqa: S106
    number = phone()
    requested = with_webhook(page(("sms", number), ("webhook", "PLACEHOLDER")), rig)
    await deliver_notification(rig.context, requested)
    events = [(e.type, e.payload) for e in await outbox(db)]
    assert [t for t, _ in events] == ["notification.channel_failed", "notification.delivered"]
    failed = events[0][1]
    assert failed["attempts"] == NO_WAIT.attempts
    assert failed["error"].startswith("GatewayRefused: Kannel answered 403")
    assert number not in failed["error"]
    assert await sms_rows(db, requested.payload["notification_id"]) == []
    assert [s for s in kannel.outbound if s.to == number] == []


async def test_a_delivery_taken_over_does_not_send_the_sms_again(
    db: Database, kannel: Kannel, rig_factory: Callable[..., Any]
) -> None:
    rig: Rig = await rig_factory()
    number = phone()
    requested = page(("sms", number))
    notification_id = requested.payload["notification_id"]
    await deliver_notification(rig.context, requested)
    await kannel.wait_for_outbound(to=number)
    # The worker that sent it died before reporting: the record is back in progress.
    async with db.sessions.begin() as session:
        record = await session.get(DeliveryRecord, notification_id)
        assert record is not None
        record.state, record.claimed_until = "in_progress", utc_now()
    await deliver_notification(rig.context, requested)
    assert len([s for s in kannel.outbound if s.to == number]) == 1
    assert len(await sms_rows(db, notification_id)) == 1


@pytest.mark.parametrize(
    ("auth", "status"),
    [
        pytest.param({"secret": None}, 401, id="no-secret"),
        pytest.param({"secret": "wrong"}, 401, id="wrong-secret"),
        pytest.param({"secret": SMS_SECRET}, 200, id="right-secret"),
    ],
)
async def test_the_report_route_takes_only_the_gateways_reports(
    db: Database, rig_factory: Callable[..., Any], auth: dict[str, Any], status: int
) -> None:
    rig: Rig = await rig_factory()
    sms_id = str(uuid4())
    async with db.sessions.begin() as session:
        session.add(
            SmsRecord(
                sms_id=sms_id,
                notification_id=str(uuid4()),
                address="+243990000111",
                segments=1,
                submitted_at=utc_now(),
                status=None,
                final=False,
            )
        )
    response = await rig.report(sms_id, 16, **auth)
    assert response.status_code == status
    async with db.sessions() as session:
        row = await session.get(SmsRecord, sms_id)
    assert row is not None
    assert row.status == (16 if status == 200 else None)


async def test_basic_auth_and_the_gateway_address(
    db: Database, rig_factory: Callable[..., Any]
) -> None:
    rig: Rig = await rig_factory()
    basic = base64.b64encode(f"kannel:{SMS_SECRET}".encode()).decode()
    unknown = await rig.http.get(
        f"{rig.base_url}{REPORT_PATH}",
        params={"sms": str(uuid4()), "status": "1"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert unknown.status_code == 404  # authenticated, but no such SMS
    elsewhere: Rig = await rig_factory(gateway_address="10.0.0.7")
    refused = await elsewhere.report(str(uuid4()), 1)
    assert refused.status_code == 401
    junk = await rig.http.get(f"{rig.base_url}{REPORT_PATH}", params={"status": "banana"})
    assert junk.status_code == 401  # a stranger learns nothing of what the route expects
    bad = await rig.report("not-a-uuid", 99)
    assert bad.status_code == 422
    assert {e["loc"][-1] for e in bad.json()["errors"]} == {"sms", "status"}
