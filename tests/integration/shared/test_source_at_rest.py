"""The reporting source at rest: only ciphertext in every table, the broker and the log.

An alert with a source is raised through ingest's HTTP API; then ingest and the
router run in-process on the test's RabbitMQ vhost and database (both backends), the
router logs and routes it. Every table of the database is then read raw: the name and
the phone number are nowhere, while the sealed source is in the outbox and the event
log and opens to the original with the key ring. Exports show it opened to a reader
cleared STRICTLY CONFIDENTIAL only, and verify either way.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from uuid import UUID

import httpx
import pytest
from aio_pika.abc import AbstractQueue
from sqlalchemy import Connection, MetaData, select

from services.ingest.alerts.tables import AlertViewRecord
from services.ingest.deps import ApiContext
from services.ingest.service import IngestService
from services.ingest.stream.hub import StreamHub
from services.ingest.tables import OUTBOX
from services.ingest.verdicts import VerdictWaiters
from services.router.handlers import RouterHandler
from services.router.service import RouterService
from shared.audit_export import (
    REDACTED,
    UNREADABLE,
    csv_header,
    exported,
    read_export,
    to_csv_line,
    verify_export,
)
from shared.auth import Authenticator, mint_token
from shared.contracts import ALERT_RAISED, ALERT_STATE_CHANGED
from shared.contracts.alerts import SealedSource, Source
from shared.directory_store import DirectorySource
from shared.envelope import Envelope
from shared.event_log import EventRecord, field_digest
from shared.settings import Settings
from shared.source_protection import SourceKeyRing, new_key_line
from tests.support.broker import tapped
from tests.support.builders import alert_request
from tests.support.database import Database
from tests.support.directories import EXAMPLE_DIRECTORY, example_directory

pytestmark = pytest.mark.integration

JWT_SECRET = "at-rest-jwt-secret-" + "0123456789abcdef" * 3
NAME, PHONE = "Kahindo Mbusa", "+243 970 555 123"
SOURCE = {"name": NAME, "contact": PHONE}
# Every way the source could show: whole, in parts, the phone with and without spaces.
SECRETS = (NAME, "Kahindo", "Mbusa", PHONE, "+243970555123", "970 555 123", "970555123")
# A ring of this test's own: the old key still opens, the new one seals.
OLD_KEY, NEW_KEY = new_key_line("at-rest-old"), new_key_line("at-rest-new")
RING_TEXT = f"{NEW_KEY},{OLD_KEY}"


def settings_for(db: Database, amqp_url: str = "amqp://guest:guest@127.0.0.1:1/") -> Settings:
    return Settings(
        amqp_url=amqp_url,
        database_url=db.url,
        directory=EXAMPLE_DIRECTORY,
        jwt_secret=JWT_SECRET,
        source_keys=RING_TEXT,
        outbox_poll_interval=0.1,
    )


def as_text(value: Any) -> str:
    """A column value as text: bytes decoded (a bytea cast would hide them as hex)."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _every_row(connection: Connection) -> dict[str, list[str]]:
    metadata = MetaData()
    metadata.reflect(connection)  # every table there is, not only the ones the code knows
    return {
        name: [" | ".join(as_text(v) for v in row) for row in connection.execute(select(table))]
        for name, table in metadata.tables.items()
    }


async def every_table(db: Database) -> dict[str, list[str]]:
    """Each table of the database (``SELECT *``), one text line per row."""
    async with db.engine.connect() as connection:
        return await connection.run_sync(_every_row)


def leaks(tables: dict[str, list[str]]) -> list[str]:
    return [
        f"{name}: {secret!r}"
        for name, rows in tables.items()
        for row in rows
        for secret in SECRETS
        if secret in row
    ]


async def eventually(check: Callable[[], Awaitable[bool]], what: str, within: float = 30) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, f"not within {within}s: {what}"
        await asyncio.sleep(0.1)


async def raise_with_source(client: httpx.AsyncClient) -> UUID:
    headers = {"Authorization": f"Bearer {mint_token('jo.operator', JWT_SECRET)}"}
    response = await client.post("/v1/alerts", json=alert_request(source=SOURCE), headers=headers)
    assert response.status_code == 201, response.text
    assert NAME not in response.text
    return UUID(response.json()["id"])


async def staged_envelopes(db: Database) -> list[Envelope]:
    async with db.sessions() as session:
        rows = (await session.execute(OUTBOX.select().order_by(OUTBOX.c.position))).all()
    return [Envelope.model_validate_json(bytes(r.body)) for r in rows]


async def log_records(db: Database) -> list[EventRecord]:
    async with db.sessions() as session:
        return list((await session.scalars(select(EventRecord).order_by(EventRecord.seq))).all())


@pytest.fixture
async def tap(amqp_url: str) -> AsyncIterator[AbstractQueue]:
    """A queue of the test's own bound to ``alert.raised``."""
    async with tapped(amqp_url, "test.alert-raised", ALERT_RAISED) as queue:
        yield queue


# --------------------------------------------------------------------------- at rest


async def test_no_table_and_no_message_holds_the_source_in_plaintext(
    db: Database, amqp_url: str, tap: AbstractQueue
) -> None:
    ring = SourceKeyRing.parse(RING_TEXT)
    ingest = IngestService(settings_for(db, amqp_url))
    router = RouterService(settings_for(db, amqp_url))
    # 1. Raised over HTTP, before any service runs: staged in ingest's outbox.
    ingest.app.state.api = ApiContext(
        DirectorySource.fixed(example_directory()),
        db.sessions,
        Authenticator(secret=JWT_SECRET),
        StreamHub(db.sessions),
        ring,
        VerdictWaiters(db.sessions),
    )
    transport = httpx.ASGITransport(app=ingest.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest.test") as client:
        alert_id = await raise_with_source(client)

    staged = await every_table(db)
    assert leaks(staged) == []
    [raised] = await staged_envelopes(db)
    assert (raised.type, raised.schema_version) == (ALERT_RAISED, 2)
    sealed = SealedSource.model_validate(raised.payload["source"])
    assert sealed.kid == "at-rest-new"
    assert any(sealed.ciphertext in row for row in staged[OUTBOX.name])

    # 2. Published, consumed by the router (logged, routed), its state back in ingest's view.
    await router.start()
    await ingest.start()
    try:

        async def routed() -> bool:
            async with db.sessions() as session:
                view = await session.get(AlertViewRecord, str(alert_id))
            types = [r.type for r in await log_records(db)]
            return view is not None and view.status == "triggered" and ALERT_STATE_CHANGED in types

        await eventually(routed, "the alert logged, routed and its state in ingest's view")
        message = await tap.get(timeout=10, no_ack=True)
    finally:
        await ingest.stop()
        await router.stop()

    # On the broker: the sealed source, byte for byte what was staged.
    on_the_wire = message.body.decode()
    assert not [secret for secret in SECRETS if secret in on_the_wire]
    assert Envelope.model_validate_json(message.body).payload["source"] == raised.payload["source"]

    # At rest, everywhere: no plaintext; the log holds the same ciphertext, which opens.
    tables = await every_table(db)
    assert leaks(tables) == []
    assert any(sealed.ciphertext in row for row in tables[EventRecord.__tablename__])
    [logged] = [r for r in await log_records(db) if r.type == ALERT_RAISED]
    assert (logged.schema_version, logged.payload["source"]) == (2, raised.payload["source"])
    opened = ring.open(SealedSource.model_validate(logged.payload["source"]), alert_id)
    assert opened == Source(name=NAME, contact=PHONE)


# --------------------------------------------------------------------------- exports


async def test_exports_open_the_source_for_strict_clearance_only_and_always_verify(
    db: Database,
) -> None:
    ring = SourceKeyRing.parse(RING_TEXT)
    app = IngestService(settings_for(db)).app
    app.state.api = ApiContext(
        DirectorySource.fixed(example_directory()),
        db.sessions,
        Authenticator(secret=JWT_SECRET),
        StreamHub(db.sessions),
        ring,
        VerdictWaiters(db.sessions),
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest.test") as client:
        alert_id = await raise_with_source(client)
    directory = example_directory()
    for envelope in await staged_envelopes(db):  # the router logs what ingest staged
        await RouterHandler(db.sessions, lambda: directory)(envelope)
    records = await log_records(db)
    [seq] = [r.seq for r in records if r.type == ALERT_RAISED]

    cleared = [exported(r, reveal_protected=True, keys=ring) for r in records]
    uncleared = [exported(r, reveal_protected=False) for r in records]
    shredded = [
        exported(r, reveal_protected=True, keys=SourceKeyRing.parse(OLD_KEY)) for r in records
    ]

    opened, redacted, unreadable = (items[seq - 1] for items in (cleared, uncleared, shredded))
    assert (opened["payload"]["source"], opened["redacted"]) == (SOURCE, [])
    assert (redacted["payload"]["source"], redacted["redacted"]) == (REDACTED, ["source"])
    # The key that sealed it retired: unreadable for good (crypto-shredded), still verifiable.
    assert (unreadable["payload"]["source"], unreadable["redacted"]) == (UNREADABLE, ["source"])
    stored = field_digest(records[seq - 1].payload["source"])
    for item in (opened, redacted, unreadable):
        assert item["protected_sha256"] == {"source": stored}

    for items in (cleared, uncleared, shredded):
        assert verify_export(items) == (len(records), None)
        csv = csv_header() + "".join(to_csv_line(item) for item in items)
        assert verify_export(read_export(csv)) == (len(records), None)
    assert not [s for s in SECRETS if s in json.dumps(uncleared) + json.dumps(shredded)]
    assert NAME in json.dumps(cleared)

    # An opened source is shown, not proven by the chain (the digest is of the sealed
    # form, which only the key opens); the sealed digest itself is proven.
    shown = {**opened["payload"], "source": {"name": "someone else", "contact": None}}
    assert verify_export([{**opened, "payload": shown}]) == (1, None)
    forged = {**opened, "protected_sha256": {"source": "0" * 64}}
    assert verify_export([forged])[1] is not None
    assert str(alert_id) == opened["correlation_id"]
