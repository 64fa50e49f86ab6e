"""The system under test of the end-to-end tests: the three services as processes.

:class:`System` writes a test directory (the e2e one by default, or one given as YAML text
or a mapping), migrates the database with ``coord db upgrade`` and runs
``coord run ingest|router|notifier`` as separate processes, optionally several replicas of
a service (``start(replicas={"router": 2})`` or ``start_replica("router")``); it can kill
and restart them, and always stops them when closed.

Several tests may share one System (tests/e2e/pool.py): :meth:`System.begin_test` gives each
test after the first the system as it was started (the three services, one process each,
running) and a window of its own on the webhooks and the logs; :meth:`System.end_test`
closes the test's API clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
import yaml

from tests.e2e.harness import REPO_ROOT, alert_body
from tests.support.directories import directory_for
from tests.support.receiver import TEST_WEBHOOK_SECRET, WebhookReceiver, free_port

SERVICES = ("ingest", "router", "notifier")

# The fixed JWT secret of the test systems (never used outside tests).
TEST_JWT_SECRET = "e2e-test-jwt-secret-0123456789abcdef0123456789abcdef"  # noqa: S105

READY_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
PORT_ATTEMPTS = 3  # a service that lost its port to another process is moved to a new one

# The API routes that create a subject (answered with its ``id``).
CREATING_ROUTES = ("/v1/alerts", "/v1/messages", "/v1/recommendations")


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


def mint_token(person_id: str, secret: str = TEST_JWT_SECRET, ttl_seconds: int = 8 * 3600) -> str:
    """A development bearer token as ``coord token`` makes it (docs/contract.md): an HS256
    JWT with ``sub`` = person id, signed with COORD_JWT_SECRET."""
    now = int(time.time())
    claims = {"sub": person_id, "iat": now, "nbf": now, "exp": now + ttl_seconds}
    return jwt.encode(claims, secret, algorithm="HS256")


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
    """The three services as separate ``coord run`` processes, configured for a test (or
    for the tests that share it).

    ``directory``: the directory file to use: YAML text, or a mapping dumped as YAML;
    default: :func:`~tests.support.directories.directory_for` the receiver.
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
                # Two test workers may each run a replicated system (five processes) on
                # one PostgreSQL of 100 connections: 4 (+2) each keeps them well inside.
                "COORD_DB_POOL_SIZE": "4",
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
        self.tests = 0  # how many tests began on this system
        self._subjects: set[str] = set()  # ids of what the API clients created
        self._log_marks: dict[Path, int] = {}  # log file -> its size when this test began

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
        *,
        combined: bool = False,
    ) -> System:
        """Migrate (unless ``migrate=False``), start ``services`` and wait until they are ready.

        ``replicas``: how many processes of each service (an int for all of them, or per
        service name); the extra ones are named ``<service>-2``, ``<service>-3``, ...
        ``combined``: the three services in one ``coord up`` process instead (what
        ``make run`` starts), known as ``ingest``; the other two names are not processes."""
        services = list(services)
        if migrate:
            await self.migrate()
        if combined:
            self.services["ingest"].kind = "up"
            await self._start_service("ingest")
            for name in ("router", "notifier"):  # served by the same process
                await self._poll_ready(self.services[name].url, self.services["ingest"])
            return self
        started: list[str] = []
        for name in services:
            started.append(name)
            count = replicas if isinstance(replicas, int) else replicas.get(name, 1)
            started += [self._add_replica(name) for _ in range(count - 1)]
        await asyncio.gather(*(self._start_service(name) for name in started))
        return self

    async def _start_service(self, name: str, timeout: float = READY_TIMEOUT) -> None:  # noqa: ASYNC109
        """Spawn the (stopped) process and wait until it is ready; if it could not bind its
        port (taken by another process since :func:`free_port` chose it), on a new one."""
        for attempt in range(1, PORT_ATTEMPTS + 1):
            self._spawn(name)
            try:
                await self.wait_ready(name, timeout)
            except RuntimeError:
                if attempt == PORT_ATTEMPTS or not self._lost_its_port(name):
                    raise
                self._move(name)
            else:
                return

    def _lost_its_port(self, name: str) -> bool:
        service = self.services[name]
        if service.running():
            return False
        last_start = service.log_path.read_text(errors="replace").rpartition("----- start #")[2]
        return "address already in use" in last_start

    def _move(self, name: str) -> None:
        service = self.services[name]
        service.port = free_port()
        if name in SERVICES:
            self.env[f"COORD_{name.upper()}_PORT"] = str(service.port)

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
        await self._start_service(name, timeout)
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
            command = ["up"] if service.kind == "up" else ["run", service.kind]
            service.process = subprocess.Popen(
                [self.coord, *command, "--port", str(service.port)],
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
        await self._poll_ready(service.url, service, timeout)

    async def _poll_ready(
        self,
        url: str,
        service: Service,
        timeout: float = READY_TIMEOUT,  # noqa: ASYNC109
    ) -> None:
        """Wait until ``url``'s ``/readyz`` answers 200 while ``service``'s process runs."""
        name = service.name
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
                    response = await client.get(f"{url}/readyz")
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
            await asyncio.to_thread(self._stop_processes, [service])
        self._spawn(name)
        await self.wait_ready(name, timeout)

    def _stop_processes(self, services: Iterable[Service]) -> None:
        """SIGTERM to every running one at once, then wait for each (SIGKILL to the process
        group of one that does not exit within STOP_TIMEOUT)."""
        running = [s for s in services if s.process is not None and s.process.poll() is None]
        for service in running:
            assert service.process is not None
            with contextlib.suppress(ProcessLookupError):
                service.process.terminate()
        for service in running:
            process = service.process
            assert process is not None
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)  # the group we created for it
                process.wait(5)
            service.exit_codes.append(process.returncode)

    def stop_all(self) -> None:
        """Stop every process (SIGTERM then SIGKILL). Synchronous: safe in any teardown."""
        try:
            self._stop_processes(self.services.values())
        except Exception:
            for service in self.services.values():
                if service.process is not None and service.process.poll() is None:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(service.process.pid, signal.SIGKILL)

    async def aclose(self) -> None:
        await self._close_clients()
        await asyncio.to_thread(self.stop_all)

    async def _close_clients(self) -> None:
        clients, self._clients = self._clients, []
        for client in clients:
            with contextlib.suppress(Exception):
                await client.aclose()

    # tests sharing the system ----------------------------------------------------------

    async def begin_test(self) -> None:
        """Hand the system to the next test. The first one gets it as started; a later one
        gets the three services, one process each, running again (a replica an earlier
        test started is stopped, a service it killed is restarted), and from now on sees
        only the webhooks about subjects it creates (:meth:`WebhookReceiver.open_window`,
        the subjects of the earlier tests being those their clients created and those
        webhooks named) and, in :meth:`grep_logs`, the log lines written from now on."""
        self.tests += 1
        if self.tests == 1:
            return
        extra = [self.services[name] for name in self.services if name not in SERVICES]
        await asyncio.to_thread(self._stop_processes, extra)
        for service in extra:
            del self.services[service.name]
        stopped = [name for name in SERVICES if not self.services[name].running()]
        await asyncio.gather(*(self._start_service(name) for name in stopped))
        self.receiver.open_window(self._subjects | self.receiver.subjects_seen())
        self._log_marks = {path: path.stat().st_size for path in self.log_dir.glob("*.log")}

    async def end_test(self) -> None:
        """The test is over: close the API clients it opened."""
        await self._close_clients()

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
        """Log lines (of every service) containing ``needle``, written since the test began
        (on a system shared with earlier tests; else since the system started)."""
        out = []
        for service in self.services.values():
            if service.log_path.exists():
                with service.log_path.open("rb") as log:
                    log.seek(self._log_marks.get(service.log_path, 0))
                    text = log.read().decode(errors="replace")
                out += [f"{service.name}: {line}" for line in text.splitlines() if needle in line]
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

    async def client(
        self, person_id: str = "jo.operator", service: str = "ingest", **kwargs: Any
    ) -> httpx.AsyncClient:
        """An httpx client of the ingest API (of process ``service``: ``"ingest-2"`` for a
        second replica) authenticated as ``person_id`` (closed at the end of the test). It
        notes the id of every alert, message or recommendation it creates (see
        :meth:`begin_test`)."""
        token = await self.token(person_id)
        kwargs.setdefault("timeout", httpx.Timeout(30.0))
        kwargs.setdefault("limits", httpx.Limits(max_connections=50, max_keepalive_connections=50))
        hooks = dict(kwargs.pop("event_hooks", None) or {})
        hooks["response"] = [*hooks.get("response", []), self._note_created]
        client = httpx.AsyncClient(
            base_url=self.services[service].url,
            headers={"Authorization": f"Bearer {token}"},
            event_hooks=hooks,
            **kwargs,
        )
        self._clients.append(client)
        return client

    async def _note_created(self, response: httpx.Response) -> None:
        request = response.request
        if request.method != "POST" or request.url.path not in CREATING_ROUTES:
            return
        if not 200 <= response.status_code < 300:
            return
        await response.aread()
        with contextlib.suppress(ValueError):
            created = response.json()
            if isinstance(created, dict) and created.get("id") is not None:
                self._subjects.add(str(created["id"]))

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
