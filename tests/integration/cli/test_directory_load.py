"""Loading a directory live: the router stores versions, services follow, the CLI checks and loads.

Real databases (both backends, migrated) and a real RabbitMQ vhost. The router's
dispatch of ``directory.load`` is stood in for by a consumer calling
``record_directory`` (the handler wiring is tested with the router's handler).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aio_pika
import pytest
import yaml
from sqlalchemy import select

from services.ingest.tables import OUTBOX as INGEST_OUTBOX
from services.notifier.tables import OUTBOX as NOTIFIER_OUTBOX
from services.router.directory_versions import on_directory_load, record_directory
from services.router.handlers import EFFECTS, RouterHandler
from services.router.service import RouterService
from services.router.tables import OUTBOX, EventRecord
from shared.auth import mint_token
from shared.bus import EVENTS_EXCHANGE, publish_once
from shared.db import create_engine, session_factory
from shared.directory import Directory, load_directory
from shared.directory_store import (
    DIRECTORY_LOAD,
    DIRECTORY_LOADED,
    DIRECTORY_REJECTED,
    DirectorySource,
    DirectoryVersion,
    content_sha256,
    latest_directory,
    load_command,
    stored_directory,
)
from shared.envelope import Envelope, utc_now
from shared.outbox_parking import parked_table
from shared.settings import DEV_JWT_SECRET, DEV_SOURCE_KEYS, Settings
from shared.source_protection import SourceKeyRing
from tests.support.cli import run_coord
from tests.support.database import Database
from tests.support.directories import DEMO_DIRECTORY, EXAMPLE_DIRECTORY
from tests.support.outbox import published

pytestmark = pytest.mark.integration

# The demo directory's administrator; `coord directory load` checks who runs it.
ADMIN_TOKEN = mint_token("ops.admin", DEV_JWT_SECRET)
ADMIN = {
    "id": "ops.admin",
    "name": "Directory administrator",
    "component": "civilian",
    "roles": ["directory_admin"],
    "sectors": ["*"],
}


def sealed_demo() -> Directory:
    """The demo directory as ``coord directory load`` sends it: its community contacts
    sealed (the router refuses them in plaintext)."""
    demo = load_directory(DEMO_DIRECTORY)
    keys = SourceKeyRing.parse(DEV_SOURCE_KEYS)
    return demo.with_sealed_contacts(keys)


async def record(db: Database, envelope: Envelope) -> None:
    async with db.sessions() as session, session.begin():
        await record_directory(session, envelope)


async def versions(db: Database) -> list[DirectoryVersion]:
    async with db.sessions() as session:
        query = select(DirectoryVersion).order_by(DirectoryVersion.version)
        return list((await session.scalars(query)).all())


async def event_log(db: Database) -> list[EventRecord]:
    async with db.sessions() as session:
        return list((await session.scalars(select(EventRecord).order_by(EventRecord.seq))).all())


async def outbox(db: Database) -> list[Envelope]:
    return await published(db.sessions, OUTBOX)


# --------------------------------------------------------------------------- the router's side


async def test_record_directory_stores_a_version_and_logs_it(db: Database) -> None:
    example, demo = load_directory(EXAMPLE_DIRECTORY), sealed_demo()
    first = load_command(example, "admin.one")
    await record(db, first)

    [row] = await versions(db)
    assert (row.version, row.loaded_by, row.command_id) == (1, "admin.one", str(first.id))
    assert row.sha256 == first.payload["sha256"] == content_sha256(example.content())
    assert Directory.model_validate(row.content) == example

    log = await event_log(db)
    assert (log[0].type, log[0].event_id) == (DIRECTORY_LOAD, str(first.id))
    assert log[0].payload["content"] == example.content()
    assert log[0].actor == "admin.one"
    assert [e.type for e in log] == [DIRECTORY_LOAD, DIRECTORY_LOADED]
    assert log[1].payload == {"version": 1, "sha256": row.sha256}
    assert log[1].causation_id == str(first.id)
    # Log-only (shared/contracts/registry.py): no queue takes it, so it is never staged.
    assert await outbox(db) == []

    second, again = load_command(demo, "admin.two"), load_command(example, "admin.one")
    await record(db, second)
    await record(db, again)  # going back to an earlier content is a new version
    assert [(v.version, v.sha256) for v in await versions(db)] == [
        (1, row.sha256),
        (2, second.payload["sha256"]),
        (3, row.sha256),
    ]
    async with db.sessions() as session:
        assert await latest_directory(session) == example
        stored = await stored_directory(session, 2)
    assert stored is not None
    assert (stored.directory, stored.loaded_by) == (demo, "admin.two")


async def test_the_routers_handler_records_a_load_once(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The dispatch line of services/router/handlers.py (set here until it is wired there).
    monkeypatch.setitem(EFFECTS, DIRECTORY_LOAD, on_directory_load)
    source = DirectorySource.fixed(load_directory(EXAMPLE_DIRECTORY))
    handler = RouterHandler(db.sessions, source.get)
    command = load_command(sealed_demo(), "admin")
    await handler(command)
    await handler(command)  # redelivered: no second effect
    assert [v.version for v in await versions(db)] == [1]
    assert [e.type for e in await event_log(db)] == [DIRECTORY_LOAD, DIRECTORY_LOADED]


def _tampered(command: Envelope) -> Envelope:
    payload = {**command.payload, "sha256": "0" * 64}
    return command.model_copy(update={"payload": payload})


def _invalid(command: Envelope) -> Envelope:
    content = {**command.payload["content"]}
    content["routes"] = [*content["routes"], {"match": {}, "policy": "poc-typo"}]
    payload = {**command.payload, "content": content, "sha256": content_sha256(content)}
    return command.model_copy(update={"payload": payload})


@pytest.mark.parametrize(
    ("spoil", "reason"),
    [
        pytest.param(_tampered, "sha256 does not match the content", id="tampered"),
        pytest.param(_invalid, "unknown policy 'poc-typo'", id="invalid"),
    ],
)
async def test_the_router_rejects_a_bad_load(db: Database, spoil: Any, reason: str) -> None:
    command = spoil(load_command(sealed_demo(), "admin"))
    await record(db, command)
    assert await versions(db) == []
    log = await event_log(db)
    assert [e.type for e in log] == [DIRECTORY_LOAD, DIRECTORY_REJECTED]
    assert reason in log[1].payload["reason"]
    assert await outbox(db) == []  # log-only, like directory.loaded


# --------------------------------------------------------------------------- services' side


async def test_directory_source_follows_the_loaded_versions(db: Database) -> None:
    example, demo = load_directory(EXAMPLE_DIRECTORY), sealed_demo()
    source = await DirectorySource.open(db.sessions, EXAMPLE_DIRECTORY, refresh_interval=0.05)
    assert (source.current, source.version) == (example, None)  # nothing loaded: the file
    assert not await source.refresh()

    await record(db, load_command(demo, "admin"))
    assert await source.refresh()
    assert (source.current, source.get(), source.version) == (demo, demo, 1)
    assert not await source.refresh()

    task = asyncio.create_task(source.run())
    try:
        await record(db, load_command(example, "admin"))
        deadline = time.monotonic() + 10
        while source.version != 2:
            assert time.monotonic() < deadline, "the refresh loop did not swap in version 2"
            await asyncio.sleep(0.05)
        assert source.current == example
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    # A service starting now takes the stored version, not its file.
    restarted = await DirectorySource.open(db.sessions, Path("/nonexistent/directory.yaml"))
    assert (restarted.current, restarted.version) == (example, 2)


async def test_directory_source_skips_a_version_it_cannot_read(db: Database) -> None:
    source = await DirectorySource.open(db.sessions, EXAMPLE_DIRECTORY)
    async with db.sessions() as session, session.begin():
        session.add(
            DirectoryVersion(
                content={"mission": "from a newer release", "shape": "unknown"},
                sha256="f" * 64,
                loaded_by="future",
                loaded_at=utc_now(),
                command_id="00000000-0000-0000-0000-000000000001",
            )
        )
    assert not await source.refresh()
    assert not await source.refresh()
    assert (source.current, source.version) == (load_directory(EXAMPLE_DIRECTORY), None)


async def test_directory_source_uses_the_file_when_the_store_cannot_answer(
    database_url: str,
) -> None:
    engine = create_engine(database_url)  # not migrated: no table
    try:
        source = await DirectorySource.open(session_factory(engine), DEMO_DIRECTORY)
        assert (source.current, source.version) == (load_directory(DEMO_DIRECTORY), None)
    finally:
        await engine.dispose()


# --------------------------------------------------------------------------- the CLI


def test_check_exit_codes(tmp_path: Path) -> None:
    ok = run_coord("directory", "check", str(DEMO_DIRECTORY))
    assert (ok.returncode, ok.stdout) == (
        0,
        "ok: 15 people, 3 policies, 3 routes, 2 community contacts\n",
    ), ok.stderr

    gaps = run_coord("directory", "check", str(EXAMPLE_DIRECTORY))
    assert gaps.returncode == 1
    lines = gaps.stdout.splitlines()
    assert len(lines) == 13
    assert lines[0].startswith(f"{EXAMPLE_DIRECTORY}:")
    # The JOC duty officer has no contact there: nobody could tell the JOC of any sector.
    assert "sectors[0]: the JOC of sector 'north' cannot be told" in lines[0]
    assert "escalation_policies[0].levels[0]: policy 'poc-urgent' level 1 pages nobody" in lines[3]
    assert lines[-1] == f"12 problem(s) in {EXAMPLE_DIRECTORY}"

    data = yaml.safe_load(DEMO_DIRECTORY.read_text(encoding="utf-8"))
    data["people"][0]["clearance"] = "top_secret"
    data["routes"][0]["policy"] = "poc-typo"
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    bad = run_coord("directory", "check", str(broken))
    assert bad.returncode == 1
    assert [line.split(": ", 2)[1] for line in bad.stdout.splitlines()[:-1]] == [
        "people[0].clearance",
        "routes[0].policy",
    ]

    missing = run_coord("directory", "check", str(tmp_path / "none.yaml"))
    assert missing.returncode == 2


@pytest.fixture
async def stand_in_router(amqp_url: str, db: Database) -> AsyncIterator[list[str]]:
    """Consumes ``directory.load`` from the vhost and calls ``record_directory`` (as the
    router does once its queue is bound to it). Yields the ids of the commands seen."""
    seen: list[str] = []
    connection = await aio_pika.connect(amqp_url)
    channel = await connection.channel()
    exchange = await channel.declare_exchange(
        EVENTS_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
    )
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(exchange, routing_key=DIRECTORY_LOAD)

    async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        async with message.process():
            envelope = Envelope.model_validate_json(message.body)
            seen.append(str(envelope.id))
            await record(db, envelope)

    await queue.consume(on_message)
    try:
        yield seen
    finally:
        await connection.close()


async def test_load_publishes_and_waits_for_the_router(
    amqp_url: str, db: Database, stand_in_router: list[str], tmp_path: Path
) -> None:
    result = await asyncio.to_thread(
        run_coord,
        "directory",
        "load",
        str(DEMO_DIRECTORY),
        COORD_AMQP_URL=amqp_url,
        COORD_DATABASE_URL=db.url,
        COORD_TOKEN=ADMIN_TOKEN,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    [row] = await versions(db)
    assert result.stdout.startswith(
        f"loaded: version 1 (15 people, 3 policies, 3 routes, 2 community contacts), sha256 "
        f"{row.sha256}, by ops.admin"
    )
    assert stand_in_router == [row.command_id]
    stored, demo = Directory.model_validate(row.content), load_directory(DEMO_DIRECTORY)
    # As in the file, but for its community contacts: sealed (tests of their own in
    # tests/integration/cli/test_directory_load_community.py).
    assert stored.model_copy(update={"community_contacts": []}) == demo.model_copy(
        update={"community_contacts": []}
    )
    assert [(c.id, c.is_sealed) for c in stored.community_contacts] == [
        (c.id, True) for c in demo.community_contacts
    ]

    # The example's sector gaps and unheard JOC are warnings: it loads, as version 2
    # (given an admin).
    example = yaml.safe_load(EXAMPLE_DIRECTORY.read_text(encoding="utf-8"))
    example["people"].append(ADMIN)
    with_admin = tmp_path / "example.yaml"
    with_admin.write_text(yaml.safe_dump(example, sort_keys=False), encoding="utf-8")
    result = await asyncio.to_thread(
        run_coord,
        "directory",
        "load",
        str(with_admin),
        COORD_AMQP_URL=amqp_url,
        COORD_DATABASE_URL=db.url,
        COORD_TOKEN=ADMIN_TOKEN,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 13
    assert all(line.startswith("warning: ") for line in lines[:-1])
    assert lines[-1].startswith("loaded: version 2")


async def test_load_refuses_a_file_with_errors(tmp_path: Path, db: Database) -> None:
    data = yaml.safe_load(DEMO_DIRECTORY.read_text(encoding="utf-8"))
    data["routes"][0]["policy"] = "poc-typo"
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    result = await asyncio.to_thread(
        run_coord,
        "directory",
        "load",
        str(broken),
        COORD_AMQP_URL="amqp://guest:guest@127.0.0.1:1/",  # never contacted
        COORD_DATABASE_URL=db.url,
        COORD_TOKEN=ADMIN_TOKEN,
    )
    assert result.returncode == 1
    assert "routes[0].policy: route names unknown policy 'poc-typo'" in result.stdout
    assert result.stdout.splitlines()[-1] == (
        f"refused: 1 error(s) in {broken}; nothing was loaded"
    )
    assert await versions(db) == []


async def test_load_times_out_without_a_router(amqp_url: str, db: Database) -> None:
    started = time.monotonic()
    result = await asyncio.to_thread(
        run_coord,
        "directory",
        "load",
        str(DEMO_DIRECTORY),
        "--timeout",
        "1",
        COORD_AMQP_URL=amqp_url,
        COORD_DATABASE_URL=db.url,
        COORD_TOKEN=ADMIN_TOKEN,
    )
    assert result.returncode == 1
    assert "timed out after 1s" in result.stdout
    assert time.monotonic() - started < 30


@pytest.mark.parametrize(
    ("token", "says"),
    [
        pytest.param(None, "this command needs to know who you are", id="no-token"),
        pytest.param(
            "awa.hfo", "awa.hfo (head_of_field_office) may not administer", id="not-admin"
        ),
        pytest.param("nobody", "'nobody' is not a person of the directory", id="unknown"),
        pytest.param("garbage", "COORD_TOKEN: token is malformed", id="bad-token"),
    ],
)
async def test_only_a_directory_admin_may_load(db: Database, token: str | None, says: str) -> None:
    env = {"COORD_DATABASE_URL": db.url, "COORD_AMQP_URL": "amqp://guest:guest@127.0.0.1:1/"}
    if token == "garbage":  # noqa: S105 - a test case's name, not a secret
        env["COORD_TOKEN"] = "not-a-jwt"  # noqa: S105 - deliberately not a token
    elif token is not None:
        env["COORD_TOKEN"] = mint_token(token, DEV_JWT_SECRET)
    result = await asyncio.to_thread(run_coord, "directory", "load", str(DEMO_DIRECTORY), **env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert says in result.stderr
    assert await versions(db) == []


async def test_a_directory_without_an_admin_is_refused(db: Database) -> None:
    result = await asyncio.to_thread(
        run_coord,
        "directory",
        "load",
        str(EXAMPLE_DIRECTORY),
        COORD_DATABASE_URL=db.url,
        COORD_AMQP_URL="amqp://guest:guest@127.0.0.1:1/",  # never contacted
        COORD_TOKEN=ADMIN_TOKEN,
    )
    assert result.returncode == 1
    assert "loading it would leave no one able to load another" in result.stdout
    assert await versions(db) == []


# --------------------------------------------------------------------------- end to end


@pytest.fixture
async def running_router(amqp_url: str, db: Database) -> AsyncIterator[RouterService]:
    """The router as ``coord run router`` runs it (consumer, outbox relay, timers), in-process."""
    settings = Settings(
        amqp_url=amqp_url,
        database_url=db.url,
        directory=DEMO_DIRECTORY,
        outbox_poll_interval=0.1,
    )
    router = RouterService(settings)
    await router.start()
    try:
        yield router
    finally:
        await router.stop()


async def test_a_load_through_the_router_leaves_every_outbox_empty(
    amqp_url: str, db: Database, running_router: RouterService
) -> None:
    """``directory.loaded`` / ``directory.rejected`` are on the log, never stuck in an outbox
    (staged, they were unroutable: the relay re-sent its batch forever, issue #12)."""
    result = await asyncio.to_thread(
        run_coord,
        "directory",
        "load",
        str(DEMO_DIRECTORY),
        COORD_AMQP_URL=amqp_url,
        COORD_DATABASE_URL=db.url,
        COORD_TOKEN=ADMIN_TOKEN,
        COORD_ENV="development",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "loaded: version 1" in result.stdout
    # A load the router refuses (the CLI would not send it: published as is).
    refused = _tampered(load_command(sealed_demo(), "ops.admin"))
    await publish_once(amqp_url, [refused], delivery_limit=10, timeout=10)
    deadline = time.monotonic() + 15
    while DIRECTORY_REJECTED not in [e.type for e in await event_log(db)]:
        assert time.monotonic() < deadline, "the router did not log the rejection"
        await asyncio.sleep(0.1)
    assert [e.type for e in await event_log(db)] == [
        DIRECTORY_LOAD,
        DIRECTORY_LOADED,
        DIRECTORY_LOAD,
        DIRECTORY_REJECTED,
    ]

    await asyncio.sleep(1.0)  # ten relay rounds: a staged row would still be there
    for table in (OUTBOX, INGEST_OUTBOX, NOTIFIER_OUTBOX):
        assert await db.count(table) == 0, table.name
        assert await db.count(parked_table(table)) == 0, parked_table(table).name
    assert running_router.infrastructure is not None
    assert (await running_router.infrastructure.readiness())["outbox"] == "ok"
