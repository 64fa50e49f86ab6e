"""The live stream follows the token and the directory as they are now, not as they were.

Ingest's app with the real router (``Pump``), on a real database (both backends);
the stream's events travel through a real RabbitMQ vhost: what the pump moves is
published there, and the hub takes it from its own subscription, as in service.
The directory is loaded as ``coord directory load`` has it stored (a new version)
and ingest's ``DirectorySource`` swaps it in.

The stream is read incrementally by a small ASGI driver: httpx's ASGI transport
hands a body over only once the response has ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI

from services.ingest.deps import ApiContext
from services.ingest.dispatch import project
from services.ingest.service import IngestService
from services.ingest.stream.hub import STREAM_BINDINGS, StreamHub
from services.ingest.verdicts import VerdictWaiters
from services.ingest.views import ViewKeeper
from services.router.directory_versions import record_directory
from shared.auth import Authenticator, mint_token
from shared.bus import Bus, to_outgoing
from shared.contracts import ALERT_STATE_CHANGED, ALERT_TRIGGERED, NOTIFICATION_REQUESTED
from shared.directory import Directory, Person
from shared.directory_store import DirectorySource, load_command
from shared.envelope import Classification, Envelope
from shared.settings import Settings
from shared.source_protection import SourceKeyRing
from shared.topics import topic_matches
from tests.support.builders import alert_request
from tests.support.database import Database
from tests.support.directories import EXAMPLE_DIRECTORY, example_directory
from tests.support.pump import Pump, pumping

pytestmark = pytest.mark.integration

JWT_SECRET = "stream-rights-jwt-secret-" + "0123456789abcdef" * 3
WAIT = 15.0  # seconds any one expected thing may take


# --------------------------------------------------------------------------- reading a stream


@dataclass(frozen=True)
class Frame:
    """One server-sent event (``event`` None: a comment such as ``: keep-alive``)."""

    event: str | None
    data: dict[str, Any]
    at: float  # time.time() when it arrived

    @property
    def subject(self) -> str | None:
        """The alert the event is about."""
        value = self.data.get("alert_id") or self.data.get("subject_id")
        return str(value) if value is not None else None


@dataclass
class LiveStream:
    """``GET /v1/stream`` on the app, read as it is sent."""

    app: FastAPI
    token: str
    frames: list[Frame] = field(default_factory=list)
    status: int | None = None
    body: str = ""
    started: asyncio.Event = field(default_factory=asyncio.Event)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    _asked: bool = False
    _disconnect: asyncio.Event = field(default_factory=asyncio.Event)
    _buffer: str = ""

    @property
    def events(self) -> list[Frame]:
        return [f for f in self.frames if f.event is not None]

    def about(self, alert_id: str) -> list[Frame]:
        return [f for f in self.events if f.subject == alert_id]

    async def run(self) -> None:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/v1/stream",
            "raw_path": b"/v1/stream",
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"host", b"ingest.test"),
                (b"authorization", f"Bearer {self.token}".encode()),
                (b"accept", b"text/event-stream"),
            ],
            "client": ("127.0.0.1", 50000),
            "server": ("ingest.test", 80),
        }
        try:
            await self.app(scope, self._receive, self._send)
        finally:
            self.started.set()
            self.ended.set()

    async def _receive(self) -> dict[str, Any]:
        if not self._asked:
            self._asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self._disconnect.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.started.set()
            return
        chunk = bytes(message.get("body", b"")).decode()
        self.body += chunk
        self._buffer += chunk
        while "\n\n" in self._buffer:
            block, self._buffer = self._buffer.split("\n\n", 1)
            self.frames.append(_parse(block))
        if not message.get("more_body", False):
            self.ended.set()

    def disconnect(self) -> None:
        self._disconnect.set()

    async def wait_for(self, what: str, condition: Callable[[], bool]) -> None:
        """Until ``condition`` holds; fails naming ``what`` and the frames so far."""
        deadline = time.monotonic() + WAIT
        while not condition():
            if time.monotonic() > deadline:
                pytest.fail(f"{what}: not within {WAIT} s; frames: {self.events}")
            await asyncio.sleep(0.02)


def _parse(block: str) -> Frame:
    event: str | None = None
    data: dict[str, Any] = {}
    for line in block.split("\n"):
        name, _, value = line.partition(":")
        if name == "event":
            event = value.strip()
        elif name == "data":
            data = json.loads(value)
        elif name == "":
            data = {"comment": value.strip()}
    return Frame(event, data, time.time())


# --------------------------------------------------------------------------- the world


@dataclass
class World:
    """Ingest's app, its directory source and stream hub, the router, the broker between."""

    app: FastAPI
    client: httpx.AsyncClient
    source: DirectorySource
    hub: StreamHub
    pump: Pump
    bus: Bus
    relayed: int = 0  # outbox rows published for the stream
    handled: int = 0  # ... and taken by the hub

    @contextlib.asynccontextmanager
    async def stream(self, token: str) -> AsyncIterator[LiveStream]:
        live = LiveStream(self.app, token)
        task = asyncio.create_task(live.run())
        try:
            await asyncio.wait_for(live.started.wait(), WAIT)
            yield live
        finally:
            live.disconnect()
            try:
                await asyncio.wait_for(task, WAIT)
            except TimeoutError:
                task.cancel()

    async def raise_alert(self, **overrides: Any) -> str:
        body = alert_request(**overrides)
        response = await self.client.post("/v1/alerts", json=body, headers=bearer("jo.operator"))
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def settle(self) -> None:
        """Until the router and views are done, and the hub has taken every event."""
        await self.pump.settle()
        await self.relay()
        deadline = time.monotonic() + WAIT
        while self.handled < self.relayed:
            assert time.monotonic() < deadline, f"hub took {self.handled} of {self.relayed}"
            await asyncio.sleep(0.02)

    async def relay(self) -> None:
        """Publish the outbox rows the pump took for the stream, as the outbox relay would.

        The rows as written: the router's events inside its ``router.decisions`` (one per
        transaction), ingest's alert commands each on its own. Only those the stream's
        subscription takes: the broker would route nothing else to it (and this vhost has
        no other queue for them).
        """
        taken = [e for e in self.pump.taken if _for_stream(e)]
        fresh = taken[self.relayed :]
        if fresh:
            self.relayed += len(fresh)
            await self.bus.publish([to_outgoing(e) for e in fresh])

    async def on_event(self, envelope: Envelope) -> None:
        try:
            await self.hub.on_event(envelope)
        finally:
            self.handled += 1

    async def load(self, directory: Directory) -> None:
        """``coord directory load``: the router stores a version; ingest swaps it in."""
        async with self.pump.sessions() as session, session.begin():
            await record_directory(session, load_command(directory, "ops.admin"))
        assert await self.source.refresh()


def _for_stream(envelope: Envelope) -> bool:
    return any(topic_matches(binding, envelope.type) for binding in STREAM_BINDINGS)


def bearer(person_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(person_id, JWT_SECRET)}"}


@pytest.fixture
async def world(db: Database, amqp_url: str) -> AsyncIterator[World]:
    config = Settings(jwt_secret=JWT_SECRET, directory=EXAMPLE_DIRECTORY, database_url=db.url)
    app = IngestService(config).app
    source = DirectorySource(example_directory(), sessions=db.sessions)
    hub = StreamHub(db.sessions)
    verdicts = VerdictWaiters(db.sessions, poll_interval=0.05)
    app.state.api = ApiContext(
        source,
        db.sessions,
        Authenticator(secret=JWT_SECRET),
        hub,
        SourceKeyRing.from_settings(config),
        verdicts,
        command_wait=config.command_wait,
    )
    pump = Pump(db.sessions, source.get, ViewKeeper(db.sessions, project, verdicts))
    bus = Bus(amqp_url, prefetch=10, delivery_limit=10)
    await bus.connect()
    transport = httpx.ASGITransport(app=app)
    try:
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://ingest.test") as client,
            pumping(pump),
        ):
            world = World(app, client, source, hub, pump, bus)
            await bus.subscribe(STREAM_BINDINGS, world.on_event)
            relaying = asyncio.create_task(_relay_forever(world))
            try:
                yield world
            finally:
                relaying.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await relaying
    finally:
        await bus.close()


async def _relay_forever(world: World) -> None:
    while True:
        await world.relay()
        await asyncio.sleep(0.02)


def with_person(
    directory: Directory, person_id: str, change: Callable[[Person], Person | None]
) -> Directory:
    """``directory`` with one person changed (``change`` returning None: removed)."""
    people = [
        changed
        for p in directory.people
        if (changed := change(p) if p.id == person_id else p) is not None
    ]
    return Directory.model_validate({**directory.content(), "people": people})


# Routed to poc-joint: level 1 pages the head of field office, the sector commander
# (col.okafor) and the police focal point.
JOINT = {"category": "armed_group_movement", "severity": "moderate"}


# --------------------------------------------------------------------------- the tests


async def test_the_stream_ends_when_its_token_expires(world: World) -> None:
    token = mint_token("awa.hfo", JWT_SECRET, ttl=timedelta(seconds=3))
    expires_at = float(jwt.decode(token, options={"verify_signature": False})["exp"])
    async with world.stream(token) as awa:
        assert awa.status == 200
        first = await world.raise_alert()  # confidential; poc-urgent pages awa.hfo
        await awa.wait_for(
            "the alert's events while the token holds", lambda: bool(awa.about(first))
        )
        # Nothing else happens: the stream must end at the expiry all the same.
        ended = await _ended(awa, by=expires_at + 3.0)
        assert ended, f"the stream was still open 3 s after its token expired: {awa.events}"
        last = awa.frames[-1]
        assert (last.event, last.data) == ("reauthenticate", {"reason": "token_expired"})
        assert expires_at <= last.at <= expires_at + 3.0
        assert all(f.at < expires_at for f in awa.events[:-1])

        second = await world.raise_alert()  # after the expiry: the stream is closed
        await world.settle()
        assert awa.about(second) == []
    # And the same token opens nothing, as it reads nothing.
    async with world.stream(token) as again:
        await asyncio.wait_for(again.ended.wait(), WAIT)
        assert again.status == 401
        assert again.events == []
    response = await world.client.get("/v1/alerts", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


async def _read_all(stream: LiveStream, quiet: float = 0.3) -> int:
    """How many frames the client read, once it read all the hub had queued for it.

    ``settle`` ends when the hub took every event; the client reads its frames after.
    """
    deadline = time.monotonic() + WAIT
    count = -1
    while count != len(stream.events):
        assert time.monotonic() < deadline, "the client never stopped reading"
        count = len(stream.events)
        await asyncio.sleep(quiet)
    return count


async def _ended(stream: LiveStream, *, by: float) -> bool:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stream.ended.wait(), max(by - time.time(), 0.0))
    return stream.ended.is_set()


async def test_a_lowered_clearance_applies_to_the_next_alert(world: World) -> None:
    async with (
        world.stream(mint_token("col.okafor", JWT_SECRET)) as okafor,
        world.stream(mint_token("awa.hfo", JWT_SECRET)) as awa,
    ):
        before = await world.raise_alert(**JOINT)
        await world.settle()
        assert okafor.about(before), "a confidential alert he is paged on reaches him"
        await _read_all(okafor)
        # the router's events, from its router.decisions; his page once, though it was
        # also staged on its own for the notifier
        streamed = [f.event for f in okafor.about(before)]
        assert {ALERT_TRIGGERED, ALERT_STATE_CHANGED} <= set(streamed), streamed
        assert streamed.count(NOTIFICATION_REQUESTED) == 1, streamed

        await world.load(
            with_person(
                world.source.current,
                "col.okafor",
                lambda p: p.model_copy(update={"clearance": Classification.UNCLASSIFIED}),
            )
        )
        after = await world.raise_alert(**JOINT)  # confidential
        public = await world.raise_alert(**JOINT, classification="unclassified")
        await world.settle()

        assert awa.about(after), "the confidential alert went out to those cleared"
        # Not even those cleared get the policy snapshot (every level's people): the
        # timeline hides it too; auditors read it with `coord audit explain`.
        assert all("snapshot" not in frame.data for frame in awa.events), awa.events
        assert okafor.about(public), "he still gets what he is cleared for"
        leaked = okafor.about(after)
        assert leaked == [], f"{len(leaked)} frames of a confidential alert: {leaked}"
        assert not okafor.ended.is_set()


async def test_who_leaves_the_directory_is_told_to_reauthenticate(world: World) -> None:
    token = mint_token("col.okafor", JWT_SECRET)
    async with world.stream(token) as okafor:
        alert_id = await world.raise_alert(**JOINT)
        await world.settle()
        assert okafor.about(alert_id)
        seen = await _read_all(okafor)

        await world.load(with_person(world.source.current, "col.okafor", lambda _: None))
        response = await world.client.post(
            f"/v1/alerts/{alert_id}/notes",
            json={"text": "confidential detail"},
            headers=bearer("jo.operator"),
        )
        assert response.status_code == 200, response.text
        await world.raise_alert(**JOINT, classification="unclassified")
        await world.settle()

        assert "confidential detail" not in okafor.body
        assert await _ended(okafor, by=time.time() + WAIT), f"still open: {okafor.events}"
        after = okafor.events[seen:]
        assert [(f.event, f.data) for f in after] == [
            ("reauthenticate", {"reason": "rights_changed"})
        ]
    response = await world.client.get("/v1/alerts", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
