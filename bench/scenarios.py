"""Scenarios beyond the happy path, each with its sustained rate (issue 17).

- ``stream``: a JOC board is connected to ``/v1/stream`` for the whole measurement and
  reads every event it is sent (the views' fan-out to SSE clients is then on the path);
- ``idempotent-sealed``: every alert carries an ``Idempotency-Key`` and a sealed source
  (a community focal point's name and phone), as the board's form and the SMS gateway
  post them;
- ``replicas``: two processes of each service, the posts spread over both ingest
  replicas (PostgreSQL only: SQLite runs as one process by design).

Each is the same open-loop search as the happy path's (bench/alerts.py ``sustained``),
on a system of its own, so the happy path of the same run is its baseline.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from bench.alerts import Post, body, latency_at, plain_posts, posted, running_system, sustained
from tests.e2e.system import System

JOC = "jo.operator"
# A community alert network's focal point: what the gateway seals on every SMS alert.
SOURCE = {"name": "Kavira Masika", "contact": "+243970555123"}


@dataclass(frozen=True)
class Scenario:
    """One way of loading the system, and the databases it is measured on."""

    name: str
    what: str  # as the table says it
    replicas: int = 1
    databases: tuple[str, ...] = ("sqlite", "postgresql")


SCENARIOS = (
    Scenario("stream", "with an SSE client reading /v1/stream"),
    Scenario("idempotent-sealed", "each with an Idempotency-Key and a sealed source"),
    Scenario("replicas", "2 replicas of each service", replicas=2, databases=("postgresql",)),
)


@dataclass
class StreamReading:
    """What the SSE client read while the scenario ran."""

    events: int = 0
    error: str | None = field(default=None)


@contextlib.asynccontextmanager
async def _stream_reader(system: System) -> AsyncIterator[StreamReading]:
    """A board reading ``/v1/stream`` in the background until the block ends."""
    client = await system.client(JOC, timeout=httpx.Timeout(10.0, read=None))
    reading = StreamReading()

    async def read() -> None:
        try:
            async with client.stream("GET", "/v1/stream") as response:
                response.raise_for_status()
                async for line in response.aiter_lines():
                    if line.startswith("event:"):
                        reading.events += 1
        except httpx.HTTPError as error:  # reported with the figure, not raised
            reading.error = f"{type(error).__name__}: {error}"

    task = asyncio.create_task(read())
    try:
        yield reading
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _idempotent_sealed_posts(client: httpx.AsyncClient) -> Post:
    async def post(i: int) -> httpx.Response | None:
        key = {"Idempotency-Key": f"bench-{uuid.uuid4()}"}
        return await posted(client, {**body(i), "source": SOURCE}, headers=key)

    return post


async def _spread_posts(system: System) -> Post:
    """Posts taking turns over every ingest replica."""
    replicas = [plain_posts(await system.client(JOC, service=n)) for n in system.replicas("ingest")]
    turns = itertools.cycle(replicas)

    async def post(i: int) -> httpx.Response | None:
        return await next(turns)(i)

    return post


async def _measured(scenario: Scenario, kind: str, seconds: float) -> dict[str, Any]:
    async with running_system(kind, replicas=scenario.replicas) as system:
        client = await system.client(JOC)
        if scenario.name == "idempotent-sealed":
            post = _idempotent_sealed_posts(client)
        elif scenario.name == "replicas":
            post = await _spread_posts(system)
        else:
            post = plain_posts(client)
        async with contextlib.AsyncExitStack() as stack:
            reading = (
                await stack.enter_async_context(_stream_reader(system))
                if scenario.name == "stream"
                else None
            )
            await latency_at(system, post, rate=20, seconds=2)  # warm up
            kept = await sustained(system, post, seconds)
    figures: dict[str, Any] = {"what": scenario.what, "sustained": asdict(kept)}
    if reading is not None:
        figures["stream"] = asdict(reading)
    return figures


async def scenario_figures(kind: str, seconds: float) -> dict[str, Any]:
    """Each scenario measured on ``kind`` (those it applies to), by name."""
    return {
        scenario.name: await _measured(scenario, kind, seconds)
        for scenario in SCENARIOS
        if kind in scenario.databases
    }


def table_rows(
    kind: str, figures: dict[str, Any], happy_rate: float | None
) -> list[tuple[str, str, str, str]]:
    """One row per scenario: its sustained rate next to the happy path's of the same run."""
    rows: list[tuple[str, str, str, str]] = []
    for name, scenario in figures.items():
        kept = scenario["sustained"]
        held = kept["held"]
        note = f"p50 {held['p50_ms']:.0f} / p99 {held['p99_ms']:.0f} ms"
        if "stream" in scenario:
            stream = scenario["stream"]
            note += f"; the SSE client read {stream['events']} events"
            if stream["error"]:
                note += f" ({stream['error']})"
        rows.append(
            (
                f"{kind}: alerts/s sustained, {scenario['what']} ({name})",
                f"{kept['rate']:.0f}",
                f"{happy_rate:.0f}/s happy path" if happy_rate is not None else "",
                note if not happy_rate else f"{kept['rate'] / happy_rate:.2f} x; {note}",
            )
        )
    return rows
