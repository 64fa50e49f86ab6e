"""The test RabbitMQ: where it is, and its management API (vhosts, queues, raw publishes).

The fixtures (``amqp_url``, ``rabbit_api``, ``fresh_vhost``) live in tests/conftest.py
and build on this; tests import what they need from here, never from a conftest.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import secrets
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import aio_pika
import httpx
import pytest

AMQP_HOST = os.environ.get("COORD_TEST_AMQP_HOST", "127.0.0.1")
AMQP_PORT = int(os.environ.get("COORD_TEST_AMQP_PORT", "5672"))
RABBIT_API = os.environ.get("COORD_TEST_RABBIT_API", "http://127.0.0.1:15672").rstrip("/")
RABBIT_USER = os.environ.get("COORD_TEST_RABBIT_USER", "guest")
RABBIT_PASSWORD = os.environ.get("COORD_TEST_RABBIT_PASSWORD", "guest")


def rabbit_client(timeout: float = 10.0) -> httpx.Client:
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


@contextlib.contextmanager
def fresh_vhost() -> Iterator[str]:
    """A new RabbitMQ vhost ``coord-test-<hex>``, as an AMQP URL; deleted on exit."""
    vhost = f"coord-test-{secrets.token_hex(6)}"
    encoded = quote(vhost, safe="")
    with rabbit_client() as client:
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
        delete_vhost(encoded)


def delete_vhost(encoded: str) -> None:
    # Retries: a test may have stopped/restarted the broker app (management API down a while).
    deadline = time.monotonic() + 60
    while True:
        try:
            with rabbit_client(timeout=30.0) as client:
                response = client.delete(f"/api/vhosts/{encoded}")
            if response.status_code in (200, 201, 204, 404):
                return
        except httpx.TransportError:
            pass
        if time.monotonic() >= deadline:
            return  # best effort: a leftover test vhost is harmless
        time.sleep(1.0)
