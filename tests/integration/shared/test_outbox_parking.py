"""An outbox never blocks behind one row (issue #12): a row the broker refuses for good is
parked and the rows behind it are published in the same round; a transient failure parks
nothing; `coord outbox list|retry|drop` is the operator's side. Real RabbitMQ vhost, both
databases."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import aio_pika
import aiormq
import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from sqlalchemy import Table, insert, select
from structlog.testing import capture_logs

from services.ingest.tables import OUTBOX as INGEST_OUTBOX
from services.router.tables import OUTBOX as ROUTER_OUTBOX
from shared.auth import mint_token
from shared.bus import ROUTER_QUEUE, Bus, OutgoingMessage, PublishOutcome
from shared.contracts import ALERT_RAISED, OUTBOX_DROPPED, OUTBOX_PARKED, OUTBOX_RETRIED
from shared.envelope import Envelope, utc_now
from shared.health import health_routes
from shared.outbox import UnpublishableType, add_to_outbox
from shared.outbox_parking import parked_table
from shared.outbox_relay import OutboxRelay
from shared.runtime import Infrastructure
from shared.settings import DEV_JWT_SECRET
from tests.support.builders import raised_envelope
from tests.support.cli import run_coord
from tests.support.database import Database

pytestmark = pytest.mark.integration

PARKED = parked_table(INGEST_OUTBOX)


@pytest.fixture
async def bus(amqp_url: str) -> AsyncIterator[Bus]:
    bus = Bus(amqp_url, prefetch=10, delivery_limit=10)  # as the CLI declares the queues
    await bus.connect()
    try:
        yield bus
    finally:
        await bus.close()


@pytest.fixture
async def router_inbox(amqp_url: str, bus: Bus) -> AsyncIterator[aio_pika.abc.AbstractQueue]:
    """``router.inbox`` (declared by ``bus``), to read what the relay published."""
    connection = await aio_pika.connect(amqp_url, timeout=10)
    try:
        channel = await connection.channel()
        yield await channel.get_queue(ROUTER_QUEUE.name, ensure=False)
    finally:
        await connection.close()


@pytest.fixture
async def relays() -> AsyncIterator[list[OutboxRelay]]:
    """Relays created by a test; their commit listeners are removed afterwards."""
    created: list[OutboxRelay] = []
    yield created
    for relay in created:
        relay.close()


def relay_for(db: Database, bus: Any, relays: list[OutboxRelay], **knobs: Any) -> OutboxRelay:
    relay = OutboxRelay(
        "ingest",
        INGEST_OUTBOX,
        db.sessions,
        bus,
        batch_size=knobs.pop("batch_size", 256),
        poll_interval=knobs.pop("poll_interval", 0.1),
        **knobs,
    )
    relays.append(relay)
    return relay


async def insert_raw(db: Database, routing_key: str, body: bytes) -> str:
    """A row as a bug would leave it: past ``add_to_outbox``'s check. Its message id."""
    envelope = raised_envelope()
    async with db.sessions() as session, session.begin():
        await session.execute(
            insert(INGEST_OUTBOX).values(
                message_id=str(envelope.id),
                routing_key=routing_key,
                body=body,
                created_at=utc_now(),
            )
        )
    return str(envelope.id)


async def stage(db: Database, *envelopes: Envelope) -> None:
    async with db.sessions() as session, session.begin():
        await add_to_outbox(session, INGEST_OUTBOX, *envelopes)


async def parked_rows(db: Database) -> list[Any]:
    async with db.sessions() as session:
        return list((await session.execute(select(PARKED))).all())


async def take(
    queue: aio_pika.abc.AbstractQueue,
    expected: int,
    within: float,
) -> list[Envelope]:
    """Envelopes from ``queue`` until ``expected`` arrived or ``within`` seconds passed."""
    taken: list[Envelope] = []
    deadline = time.monotonic() + within
    while len(taken) < expected and time.monotonic() < deadline:
        message = await queue.get(no_ack=True, fail=False)
        if message is None:
            await asyncio.sleep(0.02)
            continue
        taken.append(Envelope.model_validate_json(message.body))
    return taken


async def running(relay: OutboxRelay) -> asyncio.Task[None]:
    task = asyncio.create_task(relay.run())
    await asyncio.sleep(0.2)  # its first round found nothing: it waits for a commit
    return task


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def parked_gauge() -> float | None:
    return REGISTRY.get_sample_value("coord_outbox_parked", {"service": "ingest"})


# --------------------------------------------------------------------------- refused for good


async def test_an_unroutable_row_is_parked_and_the_rows_behind_it_are_published(
    db: Database,
    bus: Bus,
    router_inbox: aio_pika.abc.AbstractQueue,
    relays: list[OutboxRelay],
) -> None:
    relay = relay_for(db, bus, relays)
    task = await running(relay)
    try:
        bad = await insert_raw(db, "nobody.listens", raised_envelope().model_dump_json().encode())
        good = [raised_envelope(title=f"alert {i}") for i in range(3)]
        started = time.monotonic()
        await stage(db, *good)
        published = await take(router_inbox, 4, within=1.0)  # the 3, and the parked notice
        elapsed = time.monotonic() - started
        # On SQLite the relay deletes a round's rows after the broker confirmed them (a
        # message can be in the queue before its row is gone): let that round end.
        for _ in range(50):
            if await db.count(INGEST_OUTBOX) == 0:
                break
            await asyncio.sleep(0.1)
    finally:
        await stop(task)

    assert elapsed < 1.0
    assert sorted(str(e.id) for e in published if e.type == ALERT_RAISED) == sorted(
        str(e.id) for e in good
    )
    [notice] = [e for e in published if e.type == OUTBOX_PARKED]
    assert notice.producer == "ingest"
    assert str(notice.correlation_id) == bad
    assert notice.payload["message_id"] == bad
    assert notice.payload["routing_key"] == "nobody.listens"
    assert "unroutable" in notice.payload["reason"]

    [row] = await parked_rows(db)
    assert (row.message_id, row.routing_key) == (bad, "nobody.listens")
    assert "unroutable: NO_ROUTE (reply code 312)" in row.reason
    assert "'nobody.listens'" in row.reason
    assert await db.count(INGEST_OUTBOX) == 0
    assert parked_gauge() == 1.0

    infrastructure = Infrastructure("ingest", db.engine, db.sessions, bus, relay)
    checks = await infrastructure.readiness()
    assert checks == {"database": "ok", "broker": "ok", "outbox": "degraded: 1 parked"}
    app = FastAPI()
    app.include_router(health_routes(infrastructure.readiness))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://ingest"
    ) as client:
        response = await client.get("/readyz")
    # Degraded, not down: the service works, and taking it out would not bring the row back.
    assert response.status_code == 200
    assert response.json() == {"status": "degraded", "checks": checks}


async def test_an_oversized_row_is_parked_before_it_is_published(
    db: Database,
    bus: Bus,
    router_inbox: aio_pika.abc.AbstractQueue,
    relays: list[OutboxRelay],
) -> None:
    relay = relay_for(db, bus, relays, max_message_bytes=4096)
    big = await insert_raw(db, ALERT_RAISED, b"x" * 5000)
    good = raised_envelope()
    await stage(db, good)

    assert await relay.publish_pending() == 2  # one published, one parked
    [row] = await parked_rows(db)
    assert row.message_id == big
    assert row.reason == "too large: 5000 bytes, over the 4096 a message may have"
    assert bytes(row.body) == b"x" * 5000  # kept whole for a retry or an inquiry
    assert parked_gauge() == 1.0
    # The notice was staged in the same transaction; the next round publishes it.
    assert await relay.publish_pending() == 1
    published = await take(router_inbox, 2, within=5.0)
    assert [e.type for e in published] == [ALERT_RAISED, OUTBOX_PARKED]
    assert published[0].id == good.id
    assert "too large" in published[1].payload["reason"]


class Scripted:
    """A bus answering each publish with the next scripted outcome for every message."""

    def __init__(self, bus: Bus, answers: Sequence[PublishOutcome]) -> None:
        self.bus = bus
        self.answers = list(answers)

    @property
    def is_connected(self) -> bool:
        return True

    async def publish_each(
        self, messages: Sequence[OutgoingMessage], *, within: float | None = None
    ) -> list[PublishOutcome]:
        if not self.answers:
            return await self.bus.publish_each(messages, within=within)
        answer = self.answers.pop(0)
        return [answer for _ in messages]


async def test_a_row_nacked_five_times_in_a_row_over_the_grace_is_parked(
    db: Database, bus: Bus, relays: list[OutboxRelay]
) -> None:
    nack = aio_pika.exceptions.DeliveryError(None, aiormq.spec.Basic.Nack(delivery_tag=1))
    relay = relay_for(db, Scripted(bus, [nack] * 7), relays, refusal_grace_seconds=0.3)
    await stage(db, raised_envelope())
    # Rounds in quick succession (a quorum queue electing a leader): nothing is parked,
    # however many nacks.
    for _ in range(6):
        with pytest.raises(aio_pika.exceptions.DeliveryError):
            await relay.publish_pending()
        assert (await db.count(INGEST_OUTBOX), await parked_rows(db)) == (1, [])
    await asyncio.sleep(0.35)
    assert await relay.publish_pending() == 1
    [row] = await parked_rows(db)
    # How long it lasted depends on the machine's load; the count and the cause do not.
    assert re.fullmatch(r"nacked by the broker \(Nack\) 7 times in a row over \d+ s", row.reason)


async def test_a_routed_type_returned_unroutable_is_retried_before_it_is_parked(
    db: Database, bus: Bus, relays: list[OutboxRelay]
) -> None:
    """A type the registry routes, returned: most likely bindings not yet back after a
    broker restart. Retried (nothing was delivered), parked only if it lasts."""
    returned = aio_pika.exceptions.DeliveryError(
        None,
        aiormq.spec.Basic.Return(
            reply_code=312, reply_text="NO_ROUTE", exchange="coord.events", routing_key=ALERT_RAISED
        ),
    )
    relay = relay_for(db, Scripted(bus, [returned] * 2), relays, refusal_grace_seconds=0.3)
    await stage(db, raised_envelope())
    with pytest.raises(aio_pika.exceptions.DeliveryError):
        await relay.publish_pending()
    assert (await db.count(INGEST_OUTBOX), await parked_rows(db)) == (1, [])
    await asyncio.sleep(0.35)
    assert await relay.publish_pending() == 1
    [row] = await parked_rows(db)
    assert row.reason.startswith("unroutable: NO_ROUTE (reply code 312), no queue bound to")
    assert re.search(r", 2 times over \d+ s$", row.reason)


# --------------------------------------------------------------------------- transient


async def test_a_broker_outage_parks_nothing(
    db: Database,
    bus: Bus,
    router_inbox: aio_pika.abc.AbstractQueue,
    relays: list[OutboxRelay],
) -> None:
    batch = [raised_envelope() for _ in range(3)]
    await stage(db, *batch)

    # The connection lost mid-batch: every message fails for now.
    lost = relay_for(db, Scripted(bus, [ConnectionError("connection reset")]), relays)
    with pytest.raises(ConnectionError):
        await lost.publish_pending()
    timed_out = relay_for(db, Scripted(bus, [TimeoutError()]), relays)
    with pytest.raises(TimeoutError):
        await timed_out.publish_pending()
    # The broker gone: the relay does not even read the outbox.
    await bus.close()
    with pytest.raises(ConnectionError):
        await relay_for(db, bus, relays).publish_pending()

    assert await db.count(INGEST_OUTBOX) == 3
    assert await parked_rows(db) == []
    infrastructure = Infrastructure("ingest", db.engine, db.sessions, bus, lost)
    checks = await infrastructure.readiness()
    assert (checks["broker"], checks["outbox"]) == ("error: ConnectionError", "ok")


async def test_a_failing_outbox_is_said_on_every_transition_and_while_it_lasts(
    db: Database, bus: Bus, relays: list[OutboxRelay]
) -> None:
    relay = relay_for(
        db,
        Scripted(bus, [ConnectionError("down")] * 8),
        relays,
        poll_interval=0.05,
        still_failing_log_seconds=0.1,
    )
    await stage(db, raised_envelope())
    with capture_logs() as logs:
        task = asyncio.create_task(relay.run())
        try:
            for _ in range(200):  # the ninth round publishes the row, then it is said
                if any(e["event"] == "outbox.publish_recovered" for e in logs):
                    break
                await asyncio.sleep(0.05)
        finally:
            await stop(task)
    said = [entry["event"] for entry in logs if entry["event"].startswith("outbox.publish")]
    assert said[0] == "outbox.publish_failing"
    assert said[-1] == "outbox.publish_recovered"
    still = [e for e in logs if e["event"] == "outbox.publish_still_failing"]
    assert still, said
    assert all(e["service"] == "ingest" and e["rounds"] >= 2 for e in still)
    assert still[-1]["for_seconds"] >= 0.1
    assert await db.count(INGEST_OUTBOX) == 0


# --------------------------------------------------------------------------- the guard


async def test_add_to_outbox_refuses_a_type_no_queue_takes(db: Database) -> None:
    unbound = raised_envelope().model_copy(update={"type": "directory.loaded"})
    with pytest.raises(UnpublishableType, match=r"'directory\.loaded' is routed to no queue"):
        await stage(db, raised_envelope(), unbound)
    assert await db.count(INGEST_OUTBOX) == 0  # nothing of the transaction was staged


# --------------------------------------------------------------------------- coord outbox

ADMIN_TOKEN = mint_token("ops.admin", DEV_JWT_SECRET)  # directory_admin of deploy/directory.yaml


async def park_raw(db: Database, outbox: Table, routing_key: str, reason: str) -> str:
    """A parked row of ``outbox`` (as a relay leaves it). Its message id."""
    envelope = raised_envelope()
    async with db.sessions() as session, session.begin():
        await session.execute(
            insert(parked_table(outbox)).values(
                message_id=str(envelope.id),
                position=7,
                routing_key=routing_key,
                body=envelope.model_dump_json().encode(),
                created_at=utc_now(),
                parked_at=utc_now(),
                reason=reason,
            )
        )
    return str(envelope.id)


async def coord_outbox(db: Database, amqp_url: str, *args: str, token: str = ADMIN_TOKEN) -> Any:
    return await asyncio.to_thread(
        run_coord,
        "outbox",
        *args,
        COORD_DATABASE_URL=db.url,
        COORD_AMQP_URL=amqp_url,
        COORD_TOKEN=token,
        COORD_ENV="development",
    )


async def test_coord_outbox_lists_retries_and_drops_parked_rows(
    db: Database, amqp_url: str, router_inbox: aio_pika.abc.AbstractQueue
) -> None:
    first = await park_raw(db, INGEST_OUTBOX, ALERT_RAISED, "unroutable: NO_ROUTE")
    second = await park_raw(db, ROUTER_OUTBOX, "nobody.listens", "too large: 9 bytes")

    listed = await coord_outbox(db, amqp_url, "list")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0] == "id  service  routing_key  parked_at  reason"
    assert [line.split("  ")[:3] for line in lines[1:]] == [
        [first, "ingest", ALERT_RAISED],
        [second, "router", "nobody.listens"],
    ]
    assert lines[1].endswith("  unroutable: NO_ROUTE")

    retried = await coord_outbox(db, amqp_url, "retry", first)
    assert retried.returncode == 0, retried.stderr
    assert retried.stdout == f"retried {first} (ingest, {ALERT_RAISED})\n"
    async with db.sessions() as session:
        back, retried_event = (
            await session.execute(select(INGEST_OUTBOX).order_by(INGEST_OUTBOX.c.position))
        ).all()
    assert (back.message_id, back.routing_key) == (first, ALERT_RAISED)  # the relay sends it

    dropped = await coord_outbox(db, amqp_url, "drop", second)
    assert dropped.returncode == 0, dropped.stderr
    assert "warning" not in dropped.stdout
    assert await parked_rows(db) == []
    assert await db.count(parked_table(ROUTER_OUTBOX)) == 0
    async with db.sessions() as session:
        [dropped_event] = (await session.execute(select(ROUTER_OUTBOX))).all()

    # Each record for the log was staged with its change, in the row's own outbox, in the
    # parked row's thread; the service's relay takes it to the router.
    events = [
        Envelope.model_validate_json(bytes(row.body)) for row in (retried_event, dropped_event)
    ]
    assert [(e.type, str(e.correlation_id), e.actor) for e in events] == [
        (OUTBOX_RETRIED, first, "ops.admin"),
        (OUTBOX_DROPPED, second, "ops.admin"),
    ]
    assert events[1].payload == {
        "person_id": "ops.admin",
        "service": "router",
        "message_id": second,
        "routing_key": "nobody.listens",
        "reason": "too large: 9 bytes",
    }
    assert (await coord_outbox(db, amqp_url, "list")).stdout == "no parked rows\n"


async def test_coord_outbox_changes_nothing_it_cannot_do(db: Database, amqp_url: str) -> None:
    parked = await park_raw(db, INGEST_OUTBOX, ALERT_RAISED, "unroutable")

    unknown = await coord_outbox(db, amqp_url, "drop", parked, "not-a-parked-row")
    assert unknown.returncode == 1
    assert "no parked row not-a-parked-row" in unknown.stdout
    assert [r.message_id for r in await parked_rows(db)] == [parked]
    assert await db.count(INGEST_OUTBOX) == 0


async def test_coord_outbox_retries_with_the_broker_down_and_the_record_waits_for_it(
    db: Database,
) -> None:
    parked = await park_raw(db, INGEST_OUTBOX, ALERT_RAISED, "unroutable")

    no_broker = await asyncio.to_thread(
        run_coord,
        "outbox",
        "retry",
        parked,
        COORD_DATABASE_URL=db.url,
        COORD_AMQP_URL="amqp://guest:guest@127.0.0.1:1/",
        COORD_TOKEN=ADMIN_TOKEN,
        COORD_ENV="development",
    )
    assert no_broker.returncode == 0, no_broker.stderr
    assert await parked_rows(db) == []
    async with db.sessions() as session:
        rows = (
            await session.execute(select(INGEST_OUTBOX).order_by(INGEST_OUTBOX.c.position))
        ).all()
    assert [(r.message_id, r.routing_key) for r in rows][:1] == [(parked, ALERT_RAISED)]
    assert [r.routing_key for r in rows][1:] == [OUTBOX_RETRIED]


@pytest.mark.parametrize("command", [["list"], ["retry", "x"], ["drop", "x"]])
async def test_coord_outbox_is_refused_to_whoever_may_not_administer_it(
    db: Database, amqp_url: str, command: list[str]
) -> None:
    parked = await park_raw(db, INGEST_OUTBOX, ALERT_RAISED, "unroutable")
    auditor = mint_token("audit.one", DEV_JWT_SECRET)
    result = await coord_outbox(db, amqp_url, *command, token=auditor)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "refused: audit.one (auditor) may not administer outbox" in result.stderr
    assert result.stdout == ""
    assert [r.message_id for r in await parked_rows(db)] == [parked]
