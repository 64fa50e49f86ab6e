"""The webhook receiver of the scenario and end-to-end tests: the officers' phones.

:class:`WebhookReceiver` is an in-process asyncio HTTP/1.1 server on 127.0.0.1 that records
every request (path, headers, raw body, arrival time) as a :class:`Receipt` and answers
with a configurable status per path. :func:`sign` and :func:`signature_error` are the
``X-Coord-Signature`` scheme of docs/contract.md, written from the contract alone.

A receiver that serves a system shared by several tests shows each test only what concerns
it: :meth:`WebhookReceiver.open_window` (called by ``System.begin_test``) hides every
request received before, and every later one about a subject (an alert, a message, a
recommendation) of an earlier test.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import http
import json
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

# The fixed webhook secret of the test systems (never used outside tests).
TEST_WEBHOOK_SECRET = "e2e-test-webhook-secret-0123456789abcdef0123456789ab"  # noqa: S105

# A receiver refuses a webhook signed longer ago than this (COORD_WEBHOOK_TOLERANCE default).
WEBHOOK_TOLERANCE = 300.0

# Fields of a webhook body naming its subject (docs/contract.md, "Webhook delivery").
SUBJECT_FIELDS = ("alert_id", "message_id", "recommendation_id")


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def distinct_free_ports(count: int) -> list[int]:
    """``count`` different TCP ports free on 127.0.0.1 right now."""
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


def sign(body: bytes, secret: str = TEST_WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """An ``X-Coord-Signature`` of a webhook body sent at ``timestamp`` (unix s; now):
    ``t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>." + body>`` (docs/contract.md)."""
    at = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"


def signature_error(
    body: bytes,
    header: str | None,
    now: float,
    secret: str = TEST_WEBHOOK_SECRET,
    tolerance: float = WEBHOOK_TOLERANCE,
) -> str | None:
    """Why ``header`` does not sign ``body`` as received at ``now`` (unix s), or None when it
    does - a receiver's check, written from the contract alone."""
    fields: dict[str, list[str]] = {}
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        fields.setdefault(key, []).append(value)
    stamps, signatures = fields.get("t", []), fields.get("v1", [])
    if len(stamps) != 1 or not stamps[0].isdigit() or not signatures:
        return f"malformed signature header {header!r}"
    if abs(now - int(stamps[0])) > tolerance:
        return f"timestamp {stamps[0]} is more than {tolerance} s from {now:.0f}"
    expected = sign(body, secret, int(stamps[0])).partition(",v1=")[2]
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        return "signature does not match the body and timestamp"
    return None


@dataclass
class Receipt:
    """One HTTP request received by the WebhookReceiver."""

    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    at: float  # time.monotonic() at arrival
    received_at: datetime
    status: int  # what the receiver answered

    @property
    def person_id(self) -> str:
        return self.path.strip("/")

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def kind(self) -> str | None:
        """Field ``kind`` of a JSON body (``page``, ``acknowledged``, ...), if any."""
        value = _safe_json(self.body).get("kind")
        return value if isinstance(value, str) else None

    @cached_property
    def subject_id(self) -> str | None:
        """The id of the alert, message or recommendation the body is about, if any."""
        body = _safe_json(self.body)
        for name in SUBJECT_FIELDS:
            if body.get(name) is not None:
                return str(body[name])
        return None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def signature_error(self, secret: str = TEST_WEBHOOK_SECRET) -> str | None:
        """Why ``X-Coord-Signature`` does not verify at arrival, or None when it does."""
        return signature_error(
            self.body, self.header("x-coord-signature"), self.received_at.timestamp(), secret
        )


@dataclass
class _Response:
    status: int = 200
    delay: float = 0.0


class WebhookReceiver:
    """An HTTP/1.1 server on 127.0.0.1:<free port> recording every request.

    Runs in the current event loop (start it from the test's loop). Answers 200 unless
    ``respond(path, status)`` configured otherwise.
    """

    def __init__(self, port: int | None = None) -> None:
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self._requests: list[Receipt] = []  # everything, whatever the window
        self._window_start = 0
        self._foreign: frozenset[str] = frozenset()
        self._responses: dict[str, _Response] = {}
        self._default = _Response()
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        # first_receipt(): futures completed by the handler as a matching POST is recorded
        self._awaited: list[tuple[Callable[[Receipt], bool], asyncio.Future[Receipt]]] = []

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url_for(self, person_id: str) -> str:
        return f"{self.base_url}/{person_id}"

    # configuration ---------------------------------------------------------------------

    def respond(self, path_or_person: str, status: int, delay: float = 0.0) -> None:
        """Answer ``status`` (after ``delay`` seconds) to requests on that path
        (``"/awa.hfo"`` or simply ``"awa.hfo"``)."""
        self._responses[self._path(path_or_person)] = _Response(status, delay)

    def respond_default(self, status: int, delay: float = 0.0) -> None:
        self._default = _Response(status, delay)

    @staticmethod
    def _path(path_or_person: str) -> str:
        return path_or_person if path_or_person.startswith("/") else f"/{path_or_person}"

    # the window of a test --------------------------------------------------------------

    def open_window(self, foreign_subjects: Iterable[str] = ()) -> None:
        """Start afresh for the next test of a shared system: from now on the queries (and
        :meth:`first_receipt`) see only the requests received from now on that are not
        about one of ``foreign_subjects`` (the subjects of earlier tests); every path is
        answered 200 again and the futures of :meth:`first_receipt` still waiting are
        cancelled."""
        self._window_start = len(self._requests)
        self._foreign = frozenset(foreign_subjects)
        self._responses.clear()
        self._default = _Response()
        for _, future in self._awaited:
            future.cancel()
        self._awaited = []

    def subjects_seen(self) -> set[str]:
        """The subject ids of every request received so far, whatever the window."""
        return {s for s in (r.subject_id for r in self._requests) if s is not None}

    def _in_window(self, receipt: Receipt) -> bool:
        return receipt.subject_id not in self._foreign if self._foreign else True

    # queries ---------------------------------------------------------------------------

    @property
    def requests(self) -> list[Receipt]:
        """Every request received (in the window), in arrival order."""
        return [r for r in self._requests[self._window_start :] if self._in_window(r)]

    @property
    def receipts(self) -> list[Receipt]:
        """Every POST received (in the window), in arrival order."""
        return [r for r in self.requests if r.method == "POST"]

    def to(self, person_id: str, kind: str | None = None, **fields: str) -> list[Receipt]:
        """What ``person_id`` received (in the window), of ``kind`` if given, with the body's
        ``fields`` equal to the given text (``alert_id=...``)."""
        return [
            r
            for r in self.receipts
            if r.person_id == person_id
            and (kind is None or r.kind == kind)
            and all(str(_safe_json(r.body).get(name)) == value for name, value in fields.items())
        ]

    def receipts_for(
        self, person_id: str | None = None, alert_id: str | None = None, kind: str | None = None
    ) -> list[Receipt]:
        """POSTs for that person (path), alert (``alert_id`` of the body) and notification
        kind (``kind`` of the body); None matches anything."""
        out = []
        for receipt in self.receipts:
            if person_id is not None and receipt.path != self._path(person_id):
                continue
            if alert_id is not None and _safe_json(receipt.body).get("alert_id") != alert_id:
                continue
            if kind is not None and receipt.kind != kind:
                continue
            out.append(receipt)
        return out

    def first_receipt(self, predicate: Callable[[Receipt], bool]) -> asyncio.Future[Receipt]:
        """A future of the first POST that satisfies ``predicate``: done at once if one was
        already received, else completed by the receiver the moment one is recorded (before
        it is answered), so that a test acts on a notification as it arrives, not when a
        poll notices it. Must be called from the receiver's event loop."""
        future: asyncio.Future[Receipt] = asyncio.get_running_loop().create_future()
        for receipt in self.receipts:
            if predicate(receipt):
                future.set_result(receipt)
                return future
        self._awaited.append((predicate, future))
        return future

    async def wait_for_receipt(
        self,
        predicate: Callable[[Receipt], bool],
        timeout: float = 30.0,  # noqa: ASYNC109 - a liveness bound
        message: str = "a matching webhook",
    ) -> Receipt:
        """:meth:`first_receipt`, or AssertionError after ``timeout`` seconds."""
        future = self.first_receipt(predicate)
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise AssertionError(f"not received within {timeout}s: {message}") from None

    def _fulfil(self, receipt: Receipt) -> None:
        if receipt.method != "POST" or not self._awaited or not self._in_window(receipt):
            return
        waiting = []
        for predicate, future in self._awaited:
            if future.done():
                continue
            try:
                matched = predicate(receipt)
            except Exception as error:
                future.set_exception(error)
                continue
            if matched:
                future.set_result(receipt)
            else:
                waiting.append((predicate, future))
        self._awaited = waiting

    def pair_counts(self, only_2xx: bool = False) -> Counter[tuple[str, str]]:
        """Number of POSTs per (alert_id from the body, person_id from the path)."""
        counts: Counter[tuple[str, str]] = Counter()
        for receipt in self.receipts:
            if only_2xx and not 200 <= receipt.status < 300:
                continue
            counts[(str(_safe_json(receipt.body).get("alert_id")), receipt.person_id)] += 1
        return counts

    # server ----------------------------------------------------------------------------

    async def start(self) -> WebhookReceiver:
        self._server = await asyncio.start_server(
            self._handle, self.host, self.port, backlog=1024, reuse_address=True
        )
        return self

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 5)
        self._server = None

    async def __aenter__(self) -> WebhookReceiver:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _handle(  # noqa: PLR0912 - a tiny HTTP/1.1 server
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._writers.add(writer)
        try:
            while True:
                request_line = await reader.readline()
                if not request_line:
                    return
                if request_line in (b"\r\n", b"\n"):
                    continue
                method, target, version = (
                    request_line.decode("latin-1").rstrip("\r\n").split(" ", 2)
                )
                headers: dict[str, str] = {}
                while True:
                    line = await reader.readline()
                    if line in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = line.decode("latin-1").partition(":")
                    key = name.strip().lower()
                    headers[key] = (
                        f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
                    )
                if headers.get("expect", "").lower() == "100-continue":
                    writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                if "chunked" in headers.get("transfer-encoding", "").lower():
                    body = await self._read_chunked(reader)
                else:
                    body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
                path = target.split("?", 1)[0]
                response = self._responses.get(path, self._default)
                receipt = Receipt(
                    method=method.upper(),
                    path=path,
                    headers=headers,
                    body=body,
                    at=time.monotonic(),
                    received_at=datetime.now(UTC),
                    status=response.status,
                )
                self._requests.append(receipt)
                self._fulfil(receipt)
                if response.delay:
                    await asyncio.sleep(response.delay)
                keep_alive = (
                    version.upper() == "HTTP/1.1"
                    and headers.get("connection", "").lower() != "close"
                )
                try:
                    reason = http.HTTPStatus(response.status).phrase
                except ValueError:
                    reason = "Status"
                payload = b'{"ok": true}' if 200 <= response.status < 300 else b'{"ok": false}'
                writer.write(
                    (
                        f"HTTP/1.1 {response.status} {reason}\r\n"
                        "Content-Type: application/json\r\n"
                        f"Content-Length: {len(payload)}\r\n"
                        f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
                    ).encode("latin-1")
                    + payload
                )
                await writer.drain()
                if not keep_alive:
                    return
        except (ConnectionError, asyncio.IncompleteReadError, ValueError, asyncio.CancelledError):
            return
        finally:
            self._writers.discard(writer)
            writer.close()

    @staticmethod
    async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
        chunks: list[bytes] = []
        while True:
            size = int((await reader.readline()).split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)


def _safe_json(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
