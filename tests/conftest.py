"""Shared test infrastructure: a throw-away RabbitMQ vhost and an empty database per test.

Fixtures (names and semantics are relied upon by the unit, integration and e2e suites):

- ``amqp_url``     a fresh RabbitMQ vhost ``coord-test-<hex>`` for the test, as an AMQP URL;
                   the vhost (and everything in it) is deleted afterwards.
- ``amqp_vhost``   the (decoded) name of that vhost, for the management API helpers.
- ``rabbit_api``   a :class:`RabbitAPI`: small async client of the management HTTP API
                   (queue message counts, raw publishing) plus an aio-pika publisher.
- ``database_url`` parametrized ``sqlite`` / ``postgresql``: an EMPTY (not migrated) database
                   as an SQLAlchemy async URL; the PostgreSQL database is dropped afterwards.

Environment overrides:
``COORD_TEST_AMQP_HOST`` (127.0.0.1), ``COORD_TEST_AMQP_PORT`` (5672),
``COORD_TEST_RABBIT_API`` (http://127.0.0.1:15672), ``COORD_TEST_RABBIT_USER`` /
``COORD_TEST_RABBIT_PASSWORD`` (guest/guest),
``COORD_TEST_PG_URL`` (postgresql://coord:coord@127.0.0.1:5432/postgres),
``COORD_TEST_SKIP_PG=1`` skips the ``postgresql`` parameter instead of failing when
PostgreSQL is not available.

The fixtures are synchronous on purpose: they work with ``asyncio_mode = "auto"`` and
``"strict"`` alike, and from sync or async tests.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Generator, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, unquote, urlsplit

import aio_pika
import asyncpg
import httpx
import pytest
import structlog

T = TypeVar("T")

# The shared helpers of tests/support assert too: rewrite them as pytest rewrites test
# modules, so that a failing check there explains itself (must run before their import).
pytest.register_assert_rewrite("tests.support")

from tests.support.database import PG_ADMIN_URL  # noqa: E402 - after the rewrite hook

# The tests run on the published development secrets (COORD_ENV, shared/settings.py):
# every Settings() built in a test process reads this. Subprocesses get it explicitly.
os.environ.setdefault("COORD_ENV", "development")

AMQP_HOST = os.environ.get("COORD_TEST_AMQP_HOST", "127.0.0.1")
AMQP_PORT = int(os.environ.get("COORD_TEST_AMQP_PORT", "5672"))
RABBIT_API = os.environ.get("COORD_TEST_RABBIT_API", "http://127.0.0.1:15672").rstrip("/")
RABBIT_USER = os.environ.get("COORD_TEST_RABBIT_USER", "guest")
RABBIT_PASSWORD = os.environ.get("COORD_TEST_RABBIT_PASSWORD", "guest")

# Default per-test timeouts (pytest-timeout), applied unless the test has its own
# ``@pytest.mark.timeout`` or ``--timeout`` was given on the command line.
TIMEOUT_E2E = 180
TIMEOUT_INTEGRATION = 120
TIMEOUT_DEFAULT = 60


# --------------------------------------------------------------------------- pytest hooks


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "e2e: black-box end-to-end test (real processes, RabbitMQ, database)"
    )
    config.addinivalue_line(
        "markers", "integration: test against real infrastructure (RabbitMQ and/or a database)"
    )
    # structlog's default renders an exception with rich and every frame's locals: on an
    # error logged with SQLAlchemy objects in scope that took 20 s a test. The services
    # configure their own logging (shared.logging); in-process tests log plainly.
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.dev.ConsoleRenderer(
                colors=False, exception_formatter=structlog.dev.plain_traceback
            ),
        ]
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("timeout", None) is not None:
        return  # explicit --timeout on the command line wins everywhere
    ini_timeout: Any = None
    try:
        ini_timeout = config.getini("timeout")
    except ValueError:  # pytest-timeout not installed
        return
    for item in items:
        if item.get_closest_marker("timeout") is not None:
            continue
        if item.get_closest_marker("e2e") is not None:
            item.add_marker(pytest.mark.timeout(TIMEOUT_E2E))
        elif item.get_closest_marker("integration") is not None:
            item.add_marker(pytest.mark.timeout(TIMEOUT_INTEGRATION))
        elif not ini_timeout:
            item.add_marker(pytest.mark.timeout(TIMEOUT_DEFAULT))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the item as ``item.rep_setup`` / ``item.rep_call`` so
    fixtures can tell at teardown whether the test failed (e.g. to print service logs)."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


# --------------------------------------------------------------------------- helpers


def run_sync(factory: Callable[[], Awaitable[T]], timeout: float = 60.0) -> T:
    """Run a coroutine to completion on a private event loop in a worker thread.

    Safe whether or not an event loop is running in the calling thread."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(factory())).result(timeout=timeout)  # type: ignore[arg-type]


def _rabbit_client(timeout: float = 10.0) -> httpx.Client:
    return httpx.Client(base_url=RABBIT_API, auth=(RABBIT_USER, RABBIT_PASSWORD), timeout=timeout)


def vhost_of(amqp_url: str) -> str:
    """The decoded vhost name of an AMQP URL (``/`` when the URL has no path)."""
    path = urlsplit(amqp_url).path
    return unquote(path[1:]) if len(path) > 1 else "/"


class RabbitAPI:
    """Async helpers around the RabbitMQ management HTTP API (and aio-pika).

    Management statistics (message counts) lag the broker by a few seconds: use the
    ``wait_for_*`` helpers instead of asserting a single reading.
    """

    def __init__(
        self, base_url: str = RABBIT_API, user: str = RABBIT_USER, password: str = RABBIT_PASSWORD
    ) -> None:
        self.base_url = base_url
        self.auth = (user, password)

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base_url, auth=self.auth, timeout=10.0)

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async with self._client() as client:
            return await client.request(method, path, **kwargs)

    async def get_queue(self, vhost: str, queue: str) -> dict[str, Any] | None:
        """The management view of a queue, or None when the queue does not exist."""
        response = await self.request(
            "GET", f"/api/queues/{quote(vhost, safe='')}/{quote(queue, safe='')}"
        )
        if response.status_code == 404:
            return None
        response.raise_for_status()
        described: dict[str, Any] = response.json()
        return described

    async def list_queues(self, vhost: str) -> list[dict[str, Any]]:
        response = await self.request("GET", f"/api/queues/{quote(vhost, safe='')}")
        response.raise_for_status()
        queues: list[dict[str, Any]] = response.json()
        return queues

    async def queue_message_count(self, vhost: str, queue: str) -> int | None:
        """Field ``messages`` of the queue (ready + unacknowledged).

        None when the queue does not exist yet or its statistics are not published yet."""
        info = await self.get_queue(vhost, queue)
        if info is None:
            return None
        value = info.get("messages")
        return int(value) if value is not None else None

    async def wait_for_queue_message_count(
        self,
        vhost: str,
        queue: str,
        expected: int | Callable[[int], bool],
        timeout: float = 30.0,  # noqa: ASYNC109 - a polling bound, not a cancel scope
        interval: float = 0.5,
    ) -> int:
        """Poll until the queue's message count equals ``expected`` (or satisfies it, when
        ``expected`` is a predicate). Returns the count; AssertionError on timeout."""
        check = expected if callable(expected) else (lambda n: n == expected)
        deadline = time.monotonic() + timeout
        last: int | None = None
        while True:
            last = await self.queue_message_count(vhost, queue)
            if last is not None and check(last):
                return last
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"queue {queue!r} in vhost {vhost!r}: message count {last!r} did not reach "
                    f"{expected!r} within {timeout}s"
                )
            await asyncio.sleep(interval)

    async def publish(
        self,
        vhost: str,
        exchange: str,
        routing_key: str,
        body: bytes | str,
        properties: Mapping[str, Any] | None = None,
    ) -> bool:
        """Publish a raw message through the management API; True when it was routed.

        ``properties`` are AMQP basic properties (e.g. ``{"delivery_mode": 2,
        "content_type": "application/json", "message_id": "...", "headers": {...}}``).
        The default exchange is ``""`` (addressed as ``amq.default``)."""
        if isinstance(body, bytes):
            payload, encoding = base64.b64encode(body).decode(), "base64"
        else:
            payload, encoding = body, "string"
        name = exchange or "amq.default"
        response = await self.request(
            "POST",
            f"/api/exchanges/{quote(vhost, safe='')}/{quote(name, safe='')}/publish",
            json={
                "properties": dict(properties or {"delivery_mode": 2}),
                "routing_key": routing_key,
                "payload": payload,
                "payload_encoding": encoding,
            },
        )
        response.raise_for_status()
        return bool(response.json().get("routed"))

    async def publish_amqp(
        self,
        amqp_url: str,
        exchange: str,
        routing_key: str,
        body: bytes,
        *,
        headers: Mapping[str, Any] | None = None,
        message_id: str | None = None,
        content_type: str = "application/json",
        persistent: bool = True,
    ) -> None:
        """Publish over AMQP with aio-pika (publisher confirms, persistent by default)."""
        await publish_amqp(
            amqp_url,
            exchange,
            routing_key,
            body,
            headers=headers,
            message_id=message_id,
            content_type=content_type,
            persistent=persistent,
        )


async def publish_amqp(
    amqp_url: str,
    exchange: str,
    routing_key: str,
    body: bytes,
    *,
    headers: Mapping[str, Any] | None = None,
    message_id: str | None = None,
    content_type: str = "application/json",
    persistent: bool = True,
) -> None:
    """Publish one message with aio-pika to ``exchange`` ("" = default exchange)."""
    connection = await aio_pika.connect(amqp_url, timeout=10)
    try:
        channel = await connection.channel(publisher_confirms=True)
        target = (
            channel.default_exchange
            if not exchange
            else await channel.get_exchange(exchange, ensure=False)
        )
        message = aio_pika.Message(
            body,
            headers=dict(headers or {}),
            message_id=message_id,
            content_type=content_type,
            delivery_mode=(
                aio_pika.DeliveryMode.PERSISTENT
                if persistent
                else aio_pika.DeliveryMode.NOT_PERSISTENT
            ),
        )
        await target.publish(message, routing_key=routing_key)
    finally:
        await connection.close()


# --------------------------------------------------------------------------- RabbitMQ


@contextlib.contextmanager
def fresh_vhost() -> Iterator[str]:
    """A new RabbitMQ vhost ``coord-test-<hex>``, as an AMQP URL; deleted on exit."""
    vhost = f"coord-test-{secrets.token_hex(6)}"
    encoded = quote(vhost, safe="")
    with _rabbit_client() as client:
        try:
            response = client.put(f"/api/vhosts/{encoded}", json={})
        except httpx.TransportError as error:
            pytest.fail(f"RabbitMQ management API at {RABBIT_API} is not reachable: {error}")
        response.raise_for_status()
        response = client.put(
            f"/api/permissions/{encoded}/{quote(RABBIT_USER, safe='')}",
            json={"configure": ".*", "write": ".*", "read": ".*"},
        )
        response.raise_for_status()
    try:
        yield (
            f"amqp://{quote(RABBIT_USER, safe='')}:{quote(RABBIT_PASSWORD, safe='')}"
            f"@{AMQP_HOST}:{AMQP_PORT}/{encoded}"
        )
    finally:
        _delete_vhost(encoded)


@pytest.fixture
def amqp_url() -> Iterator[str]:
    """A fresh RabbitMQ vhost ``coord-test-<hex>`` as ``amqp://guest:guest@host:5672/<vhost>``."""
    with fresh_vhost() as url:
        yield url


def _delete_vhost(encoded: str) -> None:
    # Retries: a test may have stopped/restarted the broker app (management API down a while).
    deadline = time.monotonic() + 60
    while True:
        try:
            with _rabbit_client(timeout=30.0) as client:
                response = client.delete(f"/api/vhosts/{encoded}")
            if response.status_code in (200, 201, 204, 404):
                return
        except httpx.TransportError:
            pass
        if time.monotonic() >= deadline:
            return  # best effort: a leftover test vhost is harmless
        time.sleep(1.0)


@pytest.fixture
def amqp_vhost(amqp_url: str) -> str:
    """The decoded name of the test's vhost (see ``amqp_url``)."""
    return vhost_of(amqp_url)


@pytest.fixture
def rabbit_api() -> RabbitAPI:
    """Management API helpers (``queue_message_count``, ``wait_for_queue_message_count``,
    ``publish``, ``publish_amqp``)."""
    return RabbitAPI()


# --------------------------------------------------------------------------- databases


def _pg_admin_parts() -> tuple[str, str, str, int]:
    parts = urlsplit(PG_ADMIN_URL)
    return (
        unquote(parts.username or "coord"),
        unquote(parts.password or ""),
        parts.hostname or "127.0.0.1",
        parts.port or 5432,
    )


async def _pg_admin(statements: list[tuple[str, tuple[Any, ...]]]) -> None:
    connection = await asyncpg.connect(PG_ADMIN_URL, timeout=10)
    try:
        for sql, args in statements:
            await connection.execute(sql, *args)
    finally:
        await connection.close()


def _create_pg_database(name: str) -> None:
    run_sync(lambda: _pg_admin([(f'CREATE DATABASE "{name}"', ())]))


def _drop_pg_database(name: str) -> None:
    terminate = (
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = $1 AND pid <> pg_backend_pid()"
    )
    drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    for _ in range(5):
        try:
            run_sync(lambda: _pg_admin([(terminate, (name,)), (drop, ())]))
        except Exception:
            time.sleep(1.0)
        else:
            return


@pytest.fixture(params=["sqlite", "postgresql"], ids=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database as an SQLAlchemy async URL, once per backend."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'coord.db'}"
        return

    with fresh_pg_database() as url:
        yield url


@contextlib.contextmanager
def fresh_pg_database() -> Iterator[str]:
    """A new PostgreSQL database ``coord_test_<hex>``, as an async URL; dropped on exit."""
    name = f"coord_test_{secrets.token_hex(6)}"
    try:
        _create_pg_database(name)
    except (TimeoutError, OSError, concurrent.futures.TimeoutError) as error:
        message = f"PostgreSQL at {PG_ADMIN_URL} is not reachable: {error!r}"
        if os.environ.get("COORD_TEST_SKIP_PG") == "1":
            pytest.skip(message)
        pytest.fail(message + " (set COORD_TEST_SKIP_PG=1 to skip PostgreSQL tests)")
    user, password, host, port = _pg_admin_parts()
    credentials = f"{quote(user, safe='')}:{quote(password, safe='')}"
    try:
        yield f"postgresql+asyncpg://{credentials}@{host}:{port}/{name}"
    finally:
        _drop_pg_database(name)
