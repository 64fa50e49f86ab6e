"""Self-test of the shared infrastructure fixtures of tests/conftest.py."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from urllib.parse import quote

import aio_pika
import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.database import PG_ADMIN_URL, fresh_pg_database
from tests.support.rabbit import (
    AMQP_HOST,
    AMQP_PORT,
    RABBIT_API,
    RABBIT_PASSWORD,
    RABBIT_USER,
    RabbitAPI,
    fresh_vhost,
    vhost_of,
)

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


async def test_amqp_url_is_a_fresh_usable_vhost(
    amqp_url: str, amqp_vhost: str, rabbit_api: RabbitAPI
) -> None:
    assert amqp_vhost.startswith("coord-test-")
    credentials = f"{quote(RABBIT_USER, safe='')}:{quote(RABBIT_PASSWORD, safe='')}"
    vhost = quote(amqp_vhost, safe="")
    assert amqp_url == f"amqp://{credentials}@{AMQP_HOST}:{AMQP_PORT}/{vhost}"

    connection = await aio_pika.connect(amqp_url, timeout=10)
    async with connection:
        channel = await connection.channel()
        assert await rabbit_api.list_queues(amqp_vhost) == []  # fresh vhost
        queue = await channel.declare_queue(
            "selftest.q", durable=True, arguments={"x-queue-type": "quorum"}
        )
        exchange = await channel.declare_exchange(
            "selftest.x", aio_pika.ExchangeType.TOPIC, durable=True
        )
        await queue.bind(exchange, routing_key="alert.#")

        # raw publish through the management API and through aio-pika
        routed = await rabbit_api.publish(
            amqp_vhost,
            "selftest.x",
            "alert.raised",
            json.dumps({"n": 1}),
            {"delivery_mode": 2, "content_type": "application/json", "message_id": "m-1"},
        )
        assert routed is True
        assert not await rabbit_api.publish(amqp_vhost, "selftest.x", "other.key", "x")
        await rabbit_api.publish(amqp_vhost, "", "selftest.q", b"\x00binary")
        await rabbit_api.publish_amqp(
            amqp_url, "selftest.x", "alert.triggered", b'{"n": 3}', message_id="m-3"
        )

        count = await rabbit_api.wait_for_queue_message_count(
            amqp_vhost, "selftest.q", 3, timeout=30
        )
        assert count == 3
        assert await rabbit_api.queue_message_count(amqp_vhost, "missing.q") is None

        bodies = []
        for _ in range(3):
            message = await queue.get(timeout=5)
            assert message is not None
            bodies.append((message.message_id, message.body))
            await message.ack()
        assert bodies == [("m-1", b'{"n": 1}'), (None, b"\x00binary"), ("m-3", b'{"n": 3}')]


async def test_amqp_vhosts_are_isolated(amqp_url: str) -> None:
    connection = await aio_pika.connect(amqp_url, timeout=10)
    async with connection:
        channel = await connection.channel()
        # the queue of the previous test lives in another (already deleted) vhost
        with pytest.raises(aio_pika.exceptions.ChannelNotFoundEntity):
            await channel.declare_queue("selftest.q", passive=True)


def _vhosts() -> set[str]:
    with httpx.Client(base_url=RABBIT_API, auth=(RABBIT_USER, RABBIT_PASSWORD)) as client:
        return {v["name"] for v in client.get("/api/vhosts").json()}


async def test_amqp_vhosts_are_fresh_and_deleted_afterwards() -> None:
    # The fixture's own machinery, driven here: no reliance on other tests' order.
    with fresh_vhost() as first, fresh_vhost() as second:
        names = {vhost_of(first), vhost_of(second)}
        assert len(names) == 2
        assert names <= _vhosts()
    assert not names & _vhosts()


async def test_database_url_is_an_empty_usable_database(
    database_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    backend = request.node.callspec.id
    if backend == "sqlite":
        assert database_url == f"sqlite+aiosqlite:///{tmp_path / 'coord.db'}"
    else:
        assert backend == "postgresql"
        assert database_url.startswith(
            "postgresql+asyncpg://coord:coord@127.0.0.1:5432/coord_test_"
        )
        # plain asyncpg on the same database
        connection = await asyncpg.connect(database_url.replace("+asyncpg", ""), timeout=10)
        try:
            tables = await connection.fetch(
                "select tablename from pg_tables where schemaname = 'public'"
            )
            assert tables == []
        finally:
            await connection.close()

    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("create table selftest (id integer primary key, v text)"))
            await conn.execute(text("insert into selftest (id, v) values (1, 'a'), (2, 'b')"))
        async with engine.connect() as conn:
            rows = (await conn.execute(text("select v from selftest order by id"))).all()
        assert [r[0] for r in rows] == ["a", "b"]
    finally:
        await engine.dispose()


async def _pg_databases(names: list[str]) -> list[str]:
    connection = await asyncpg.connect(PG_ADMIN_URL, timeout=10)
    try:
        rows = await connection.fetch(
            "select datname from pg_database where datname = any($1::text[])", names
        )
    finally:
        await connection.close()
    return [row["datname"] for row in rows]


async def test_postgresql_databases_are_dropped_afterwards() -> None:
    with fresh_pg_database() as url:
        name = url.rsplit("/", 1)[1]
        assert await _pg_databases([name]) == [name]
    assert await _pg_databases([name]) == []


async def test_fixtures_work_together(amqp_url: str, database_url: str) -> None:
    # both fixtures in one (async) test: the combination every e2e test uses
    connection = await aio_pika.connect(amqp_url, timeout=10)
    await connection.close()
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("select 1"))).scalar() == 1
    finally:
        await engine.dispose()
    await asyncio.sleep(0)
