"""Process-level harness of the end-to-end tests.

- :class:`WebhookReceiver`: an in-process asyncio HTTP/1.1 server on 127.0.0.1 that records
  every request (path, headers, raw body, arrival time) and answers with a configurable
  status per path.
- :class:`System`: writes a test directory (the demo one by default, or one given as YAML
  text or a mapping), migrates the database with ``coord db upgrade`` and runs
  ``coord run ingest|router|notifier`` as separate processes, optionally several replicas of
  a service (``start(replicas={"router": 2})`` or ``start_replica("router")``); can kill and
  restart them; always stops them at teardown.
- :func:`wait_until`: bounded polling. Timeouts are generous upper bounds for liveness,
  never performance assertions.

Everything talks to the system through its external contract (docs/contract.md) only.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import http
import inspect
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import jwt
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]

SERVICES = ("ingest", "router", "notifier")

# Fixed secrets of the test system (never used outside tests).
TEST_JWT_SECRET = "e2e-test-jwt-secret-0123456789abcdef0123456789abcdef"  # noqa: S105
TEST_WEBHOOK_SECRET = "e2e-test-webhook-secret-0123456789abcdef0123456789ab"  # noqa: S105

# People of the demo directory who have a webhook contact: it points at the receiver.
WEBHOOK_PEOPLE = (
    "awa.hfo",
    "lucas.ho",
    "grace.dsrsg",
    "col.okafor",
    "insp.diallo",
    "gen.force",
    "lt.mbeki",
)

# A receiver refuses a webhook signed longer ago than this (COORD_WEBHOOK_TOLERANCE default).
WEBHOOK_TOLERANCE = 300.0

READY_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0


# --------------------------------------------------------------------------- utilities


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_until(
    predicate: Callable[[], Any | Awaitable[Any]],
    timeout: float = 30.0,  # noqa: ASYNC109 - a polling bound
    interval: float = 0.1,
    message: str | Callable[[], str] | None = None,
    retry_on: tuple[type[BaseException], ...] = (AssertionError,),
) -> Any:
    """Poll ``predicate`` (sync or async) until it returns a truthy value, which is returned.

    Exceptions listed in ``retry_on`` count as "not yet" (the last one is reported).
    On timeout raises AssertionError with ``message`` and the last result/exception.
    """
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            result = predicate()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return result
            last = result
        except retry_on as error:
            last = error
        if time.monotonic() >= deadline:
            text = (
                message()
                if callable(message)
                else (message or getattr(predicate, "__name__", "condition"))
            )
            raise AssertionError(f"not met within {timeout}s: {text} (last: {last!r})")
        await asyncio.sleep(interval)


def coord_bin() -> str:
    """Path of the ``coord`` console script of the project's virtualenv."""
    override = os.environ.get("COORD_TEST_COORD_BIN")
    if override:
        return override
    candidates = [Path(sys.executable).parent / "coord", REPO_ROOT / ".venv" / "bin" / "coord"]
    for candidate in candidates:
        if candidate.exists():
            return str(candidate)
    found = shutil.which("coord")
    if found:
        return found
    raise RuntimeError("the `coord` console script is not installed (run `uv sync`)")


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


def mint_token(person_id: str, secret: str = TEST_JWT_SECRET, ttl_seconds: int = 8 * 3600) -> str:
    """A development bearer token as ``coord token`` makes it (docs/contract.md): an HS256
    JWT with ``sub`` = person id, signed with COORD_JWT_SECRET."""
    now = int(time.time())
    claims = {"sub": person_id, "iat": now, "nbf": now, "exp": now + ttl_seconds}
    return jwt.encode(claims, secret, algorithm="HS256")


def alert_body(**overrides: Any) -> dict[str, Any]:
    """A valid ``POST /v1/alerts`` body; any field can be overridden."""
    body: dict[str, Any] = {
        "title": "Armed men seen near the market",
        "description": "Reported by the community alert network.",
        "category": "abduction",
        "severity": "severe",
        "urgency": "immediate",
        "certainty": "observed",
        "sector": "beni",
        "location": {"name": "Beni, Mavivi market", "lat": 0.4911, "lon": 29.4731},
        "origin": "community",
    }
    body.update(overrides)
    return body


def directory_for(receiver_base_url: str) -> dict[str, Any]:
    """The demo directory (tests/data/example_directory.yaml format), with the webhook contacts
    of WEBHOOK_PEOPLE pointing at ``<receiver_base_url>/<person_id>``."""

    def hook(person_id: str) -> dict[str, str]:
        return {"channel": "webhook", "address": f"{receiver_base_url}/{person_id}"}

    return {
        "mission": "MONUSCO-e2e",
        "sectors": ["north", "south", "beni"],
        "people": [
            {
                "id": "jo.operator",
                "name": "JOC duty officer",
                "component": "civilian",
                "roles": ["joc_operator"],
                "sectors": ["*"],
                "clearance": "confidential",
                "contacts": [],
            },
            {
                "id": "amani.cla",
                "name": "Amani (CLA, Beni base)",
                "component": "civilian",
                "roles": ["community_liaison"],
                "sectors": ["beni"],
                "clearance": "confidential",
                "contacts": [{"channel": "sms", "address": "+243000000001"}],
            },
            {
                "id": "awa.hfo",
                "name": "Awa Ndiaye",
                "component": "civilian",
                "roles": ["head_of_field_office"],
                "sectors": ["beni"],
                "clearance": "strictly_confidential",
                "contacts": [
                    hook("awa.hfo"),
                    {"channel": "email", "address": "awa.ndiaye@example.org"},
                ],
            },
            {
                "id": "lucas.ho",
                "name": "Lucas Moreau",
                "component": "civilian",
                "roles": ["head_of_office"],
                "sectors": ["north", "beni"],
                "clearance": "strictly_confidential",
                "contacts": [hook("lucas.ho")],
            },
            {
                "id": "grace.dsrsg",
                "name": "Grace Mensah",
                "component": "civilian",
                "roles": ["dsrsg"],
                "sectors": ["*"],
                "clearance": "strictly_confidential",
                "contacts": [hook("grace.dsrsg")],
            },
            {
                "id": "col.okafor",
                "name": "Col. Okafor (sector commander)",
                "component": "military",
                "roles": ["sector_commander"],
                "sectors": ["beni"],
                "clearance": "confidential",
                "contacts": [hook("col.okafor")],
            },
            {
                "id": "insp.diallo",
                "name": "Insp. Diallo (UNPOL)",
                "component": "police",
                "roles": ["police_focal_point"],
                "sectors": ["beni"],
                "clearance": "confidential",
                "contacts": [hook("insp.diallo")],
            },
            {
                "id": "gen.force",
                "name": "Gen. Force (force commander)",
                "component": "military",
                "roles": ["force_commander"],
                "sectors": ["*"],
                "clearance": "strictly_confidential",
                "contacts": [hook("gen.force")],
            },
            {
                "id": "lt.mbeki",
                "name": "Lt. Mbeki (military liaison)",
                "component": "military",
                "roles": ["military_liaison"],
                "sectors": ["beni"],
                "clearance": "unclassified",
                "contacts": [hook("lt.mbeki")],
            },
            {
                "id": "audit.one",
                "name": "OIOS auditor",
                "component": "civilian",
                "roles": ["auditor"],
                "sectors": ["*"],
                "clearance": "confidential",
                "contacts": [],
            },
            {  # an auditor cleared to read a source in an export (as in deploy/)
                "id": "oios.chief",
                "name": "OIOS chief investigator",
                "component": "civilian",
                "roles": ["auditor"],
                "sectors": ["*"],
                "clearance": "strictly_confidential",
                "contacts": [],
            },
            {  # may run `coord directory load`
                "id": "ops.admin",
                "name": "Mission directory administrator",
                "component": "civilian",
                "roles": ["directory_admin"],
                "sectors": ["*"],
                "clearance": "unclassified",
                "contacts": [],
            },
        ],
        "escalation_policies": [
            {
                "id": "poc-urgent",
                "levels": [
                    {"targets": [{"role": "head_of_field_office"}], "delay": "10m"},
                    {"targets": [{"role": "head_of_office"}], "delay": "15m"},
                    {"targets": [{"role": "dsrsg"}], "delay": "15m"},
                ],
                "repeat": 1,
                "ack_timeout": "1h",
            },
            {
                "id": "poc-joint",
                "levels": [
                    {
                        "targets": [
                            {"role": "head_of_field_office"},
                            {"role": "sector_commander"},
                            {"role": "police_focal_point"},
                        ],
                        "delay": "20m",
                        "quorum": "per_component",
                    },
                    {"targets": [{"role": "head_of_office"}], "delay": "30m"},
                ],
            },
            {
                "id": "poc-default",
                "levels": [
                    {"targets": [{"role": "head_of_field_office"}], "delay": "30m"},
                    {"targets": [{"role": "head_of_office"}], "delay": "1h"},
                ],
            },
        ],
        "routes": [
            {
                "match": {
                    "category": ["attack_on_civilians", "abduction"],
                    "severity": ["extreme", "severe"],
                },
                "policy": "poc-urgent",
            },
            {"match": {"category": ["armed_group_movement"]}, "policy": "poc-joint"},
            {"match": {}, "policy": "poc-default"},
        ],
        "superiors": {
            "head_of_field_office": "head_of_office",
            "head_of_office": "dsrsg",
            "sector_commander": "force_commander",
            "military_liaison": "sector_commander",
        },
    }


# --------------------------------------------------------------------------- webhook receiver


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
        self.requests: list[Receipt] = []
        self._responses: dict[str, _Response] = {}
        self._default = _Response()
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._changed = asyncio.Event()
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

    # queries ---------------------------------------------------------------------------

    @property
    def receipts(self) -> list[Receipt]:
        """Every POST received, in arrival order."""
        return [r for r in self.requests if r.method == "POST"]

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
        if receipt.method != "POST" or not self._awaited:
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
                self.requests.append(receipt)
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


# --------------------------------------------------------------------------- system under test


@dataclass
class Service:
    """One process of the system. ``name`` is its key in ``System.services`` (``"router"``,
    or ``"router-2"`` for a second replica); ``kind`` is the service it runs."""

    name: str
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    exit_codes: list[int] = field(default_factory=list)
    kind: str = ""

    def __post_init__(self) -> None:
        if not self.kind:
            self.kind = self.name

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


class System:
    """The three services as separate ``coord run`` processes, configured for one test.

    ``directory``: the directory file to use: YAML text, or a mapping dumped as YAML;
    default: :func:`directory_for` the receiver (the demo directory).
    ``extra_env``: environment variables added to (and overriding) the defaults.
    ``local_tokens``: mint bearer tokens in-process (HS256, ``sub`` = person id, signed with
    the test JWT secret, as the contract specifies for ``coord token``) instead of running
    ``coord token`` (a few seconds of CPU per person) - for timing-sensitive tests."""

    def __init__(
        self,
        workdir: Path,
        amqp_url: str,
        database_url: str,
        receiver: WebhookReceiver,
        extra_env: Mapping[str, str] | None = None,
        *,
        directory: str | Mapping[str, Any] | None = None,
        local_tokens: bool = False,
    ) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_dir = self.workdir / "logs"
        self.log_dir.mkdir(exist_ok=True)
        self.amqp_url = amqp_url
        self.database_url = database_url
        self.receiver = receiver
        self.directory_path = self.workdir / "directory.yaml"
        if directory is None:
            directory = directory_for(receiver.base_url)
        self.directory_path.write_text(
            directory
            if isinstance(directory, str)
            else yaml.safe_dump(dict(directory), sort_keys=False)
        )
        self.coord = coord_bin()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("COORD_")}
        self.env.update(
            {
                "COORD_AMQP_URL": amqp_url,
                "COORD_DATABASE_URL": database_url,
                "COORD_DIRECTORY": str(self.directory_path),
                "COORD_ENV": "development",  # the source key is the published one
                "COORD_JWT_SECRET": TEST_JWT_SECRET,
                "COORD_WEBHOOK_SECRET": TEST_WEBHOOK_SECRET,
                "COORD_WEBHOOK_BACKOFF_INITIAL": "0.05",
                "COORD_WEBHOOK_BACKOFF_MAX": "0.5",
                "COORD_OUTBOX_POLL_INTERVAL": "0.2",
                "COORD_LOG_FORMAT": "json",
                "COORD_LOG_LEVEL": "info",
                "COORD_HOST": "127.0.0.1",
                # The tests and the benchmark raise hundreds of alerts as one person.
                "COORD_RATE_LIMIT": "1000000/minute",
                "PYTHONUNBUFFERED": "1",
            }
        )
        self.env.update(extra_env or {})
        self.services: dict[str, Service] = {}
        for name in SERVICES:
            port = free_port()
            self.services[name] = Service(name, port, self.log_dir / f"{name}.log")
            self.env[f"COORD_{name.upper()}_PORT"] = str(port)
        self._tokens: dict[str, str] = {}
        self.local_tokens = local_tokens
        self._clients: list[httpx.AsyncClient] = []

    # lifecycle -------------------------------------------------------------------------

    @property
    def ingest_url(self) -> str:
        return self.services["ingest"].url

    async def run_coord(
        self,
        *args: str,
        timeout: float = 120.0,  # noqa: ASYNC109
        as_person: str | None = None,
    ) -> str:
        """Run ``coord <args>`` with the system's environment; returns stdout (raises with
        the output on a non-zero exit). ``as_person``: COORD_TOKEN is their bearer token
        (the commands that change state or read the log check who runs them)."""
        env = dict(self.env)
        if as_person is not None:
            env["COORD_TOKEN"] = mint_token(as_person)
        process = await asyncio.create_subprocess_exec(
            self.coord,
            *args,
            env=env,
            cwd=str(REPO_ROOT),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(process.communicate(), timeout)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise RuntimeError(
                f"`coord {' '.join(args)}` did not finish within {timeout}s"
            ) from None
        with (self.log_dir / "coord-commands.log").open("ab") as log:
            log.write(
                f"$ coord {' '.join(args)}  -> exit {process.returncode}\n".encode() + out + err
            )
        if process.returncode != 0:
            raise RuntimeError(
                f"`coord {' '.join(args)}` exited with {process.returncode}\n"
                f"stdout:\n{out.decode(errors='replace')}\nstderr:\n{err.decode(errors='replace')}"
            )
        return out.decode()

    async def migrate(self) -> None:
        await self.run_coord("db", "upgrade")

    async def start(
        self,
        services: Iterable[str] = SERVICES,
        migrate: bool = True,
        replicas: int | Mapping[str, int] = 1,
    ) -> System:
        """Migrate (unless ``migrate=False``), start ``services`` and wait until they are ready.

        ``replicas``: how many processes of each service (an int for all of them, or per
        service name); the extra ones are named ``<service>-2``, ``<service>-3``, ..."""
        services = list(services)
        if migrate:
            await self.migrate()
        started: list[str] = []
        for name in services:
            self._spawn(name)
            started.append(name)
            count = replicas if isinstance(replicas, int) else replicas.get(name, 1)
            for _ in range(count - 1):
                replica = self._add_replica(name)
                self._spawn(replica)
                started.append(replica)
        await asyncio.gather(*(self.wait_ready(name) for name in started))
        return self

    def _add_replica(self, kind: str) -> str:
        if kind not in SERVICES:
            raise ValueError(f"unknown service {kind!r}")
        number = 2
        while f"{kind}-{number}" in self.services:
            number += 1
        name = f"{kind}-{number}"
        self.services[name] = Service(name, free_port(), self.log_dir / f"{name}.log", kind=kind)
        return name

    def replicas(self, kind: str) -> list[str]:
        """Names of the processes (started or not) that run service ``kind``."""
        return [name for name, service in self.services.items() if service.kind == kind]

    async def start_replica(self, kind: str, timeout: float = READY_TIMEOUT) -> str:  # noqa: ASYNC109
        """Start one more process of service ``kind`` on a new port; wait until it is
        ready and return its name (``"router-2"``, ...), usable with kill/restart/log_tail."""
        name = self._add_replica(kind)
        self._spawn(name)
        await self.wait_ready(name, timeout)
        return name

    def _spawn(self, name: str) -> None:
        service = self.services[name]
        if service.running():
            raise RuntimeError(f"{name} is already running")
        with service.log_path.open("ab") as log:
            log.write(
                f"----- start #{service.starts + 1} of {name} on port {service.port}\n".encode()
            )
            log.flush()
            service.process = subprocess.Popen(
                [self.coord, "run", service.kind, "--port", str(service.port)],
                env=self.env,
                cwd=str(REPO_ROOT),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: terminal signals don't reach it
            )
        service.starts += 1

    async def wait_ready(self, name: str, timeout: float = READY_TIMEOUT) -> None:  # noqa: ASYNC109
        """Wait until ``GET /readyz`` answers 200; RuntimeError with the log tail otherwise."""
        service = self.services[name]
        deadline = time.monotonic() + timeout
        last = "no answer"
        async with httpx.AsyncClient(timeout=2.0) as client:
            while True:
                if not service.running():
                    code = service.process.returncode if service.process else None
                    raise RuntimeError(
                        f"{name} exited with code {code} before being ready\n{self.log_tail(name)}"
                    )
                try:
                    response = await client.get(f"{service.url}/readyz")
                    if response.status_code == 200:
                        return
                    last = f"{response.status_code} {response.text[:200]}"
                except httpx.HTTPError as error:
                    last = repr(error)
                if time.monotonic() >= deadline:
                    raise RuntimeError(
                        f"{name} not ready within {timeout}s (last /readyz: {last})\n"
                        + self.log_tail(name)
                    )
                await asyncio.sleep(0.1)

    async def kill(self, name: str, sig: int = signal.SIGKILL, wait: bool = True) -> int | None:
        """Send ``sig`` to the service's process; for SIGKILL/SIGTERM wait until it exited.
        Returns the exit code (None when not waited)."""
        service = self.services[name]
        process = service.process
        if process is None or process.poll() is not None:
            raise RuntimeError(f"{name} is not running")
        process.send_signal(sig)
        if not wait or sig not in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT):
            return None
        deadline = time.monotonic() + (STOP_TIMEOUT if sig != signal.SIGKILL else 5.0)
        while process.poll() is None:
            if time.monotonic() >= deadline:
                raise RuntimeError(f"{name} did not exit after signal {sig}")
            await asyncio.sleep(0.05)
        service.exit_codes.append(process.returncode)
        return process.returncode

    async def restart(self, name: str, timeout: float = READY_TIMEOUT) -> None:  # noqa: ASYNC109
        """Stop the service if it is running (SIGTERM, then SIGKILL), start it again on the
        same port and wait until it is ready."""
        service = self.services[name]
        if service.running():
            await asyncio.to_thread(self._stop_process, service)
        self._spawn(name)
        await self.wait_ready(name, timeout)

    def _stop_process(self, service: Service) -> None:
        process = service.process
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # the group we created for it
            process.wait(5)
        service.exit_codes.append(process.returncode)

    def stop_all(self) -> None:
        """Stop every process (SIGTERM then SIGKILL). Synchronous: safe in any teardown."""
        for service in self.services.values():
            try:
                self._stop_process(service)
            except Exception:
                if service.process is not None and service.process.poll() is None:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(service.process.pid, signal.SIGKILL)

    async def aclose(self) -> None:
        for client in self._clients:
            with contextlib.suppress(Exception):
                await client.aclose()
        self._clients.clear()
        await asyncio.to_thread(self.stop_all)

    # logs ------------------------------------------------------------------------------

    def log_tail(self, name: str, lines: int = 60) -> str:
        path = self.services[name].log_path if name in self.services else self.log_dir / name
        try:
            content = path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return f"(no log for {name})"
        return f"----- last {lines} lines of {path}:\n" + "\n".join(content[-lines:])

    def dump_logs(self, lines: int = 150) -> str:
        parts = [self.log_tail(name, lines) for name in self.services]
        commands = self.log_dir / "coord-commands.log"
        if commands.exists():
            parts.append(f"----- {commands}:\n" + commands.read_text(errors="replace")[-5000:])
        return "\n".join(parts)

    def grep_logs(self, needle: str) -> list[str]:
        """Log lines (of every service) containing ``needle``."""
        out = []
        for service in self.services.values():
            if service.log_path.exists():
                out += [
                    f"{service.name}: {line}"
                    for line in service.log_path.read_text(errors="replace").splitlines()
                    if needle in line
                ]
        return out

    # API clients -----------------------------------------------------------------------

    async def token(self, person_id: str) -> str:
        """A bearer token for ``person_id`` from ``coord token`` (cached)."""
        if person_id not in self._tokens:
            if self.local_tokens:
                self._tokens[person_id] = mint_token(person_id)
            else:
                self._tokens[person_id] = (
                    await self.run_coord("token", person_id, timeout=60)
                ).strip()
        return self._tokens[person_id]

    async def client(self, person_id: str = "jo.operator", **kwargs: Any) -> httpx.AsyncClient:
        """An httpx client of the ingest API authenticated as ``person_id`` (closed at teardown)."""
        token = await self.token(person_id)
        kwargs.setdefault("timeout", httpx.Timeout(30.0))
        kwargs.setdefault("limits", httpx.Limits(max_connections=50, max_keepalive_connections=50))
        client = httpx.AsyncClient(
            base_url=self.ingest_url, headers={"Authorization": f"Bearer {token}"}, **kwargs
        )
        self._clients.append(client)
        return client

    async def raise_alert(
        self,
        client: httpx.AsyncClient,
        body: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return await client.post("/v1/alerts", json=dict(body or alert_body()), headers=headers)

    async def get_alert(self, client: httpx.AsyncClient, alert_id: str) -> dict[str, Any]:
        response = await client.get(f"/v1/alerts/{alert_id}")
        assert response.status_code == 200, (
            f"GET /v1/alerts/{alert_id}: {response.status_code} {response.text}"
        )
        view: dict[str, Any] = response.json()
        return view


def new_idempotency_key() -> str:
    return f"e2e-{uuid.uuid4()}"
