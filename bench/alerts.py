"""End to end: alerts posted over HTTP until the webhook receiver has them.

The three services run as separate processes (the e2e tests' harness), on a fresh
vhost and database; every alert (a minor looting in Beni: policy poc-default) pages
one person, awa.hfo, by webhook. Latency is from the moment the 201 comes back to
the moment the receiver reads the webhook, on the same monotonic clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.infra import database, vhost
from shared.settings import Settings
from tests.e2e.harness import alert_body
from tests.e2e.system import System
from tests.support.receiver import WebhookReceiver

TARGET = "awa.hfo"


@dataclass(frozen=True)
class LatencyResult:
    """Accepted -> delivered, in milliseconds, at an offered rate."""

    rate: float
    alerts: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    failed: int = 0  # requests that got no 201 (refused, or the connection failed)


@dataclass(frozen=True)
class SustainedResult:
    """The highest offered rate whose deliveries kept up, and the latency there."""

    rate: float
    held: LatencyResult
    tried: list[LatencyResult]


@dataclass(frozen=True)
class ThroughputResult:
    """Alerts delivered per second while ``concurrency`` clients post without pause."""

    concurrency: int
    seconds: float
    accepted: int
    delivered_in_window: int
    delivered_per_s: float
    backlog_at_end: int


# One alert posted (the i-th of a run): its response, or None when the request failed on
# the way.
Post = Callable[[int], Awaitable[httpx.Response | None]]


@contextlib.asynccontextmanager
async def running_system(kind: str, replicas: int = 1) -> AsyncIterator[System]:
    """The system on a fresh vhost and ``kind`` database, started: PostgreSQL's three
    services as processes (``replicas`` of each), SQLite's in one ``coord up`` process."""
    with tempfile.TemporaryDirectory(prefix=f"coord-bench-{kind}-") as tmp:
        workdir = Path(tmp)
        async with (
            vhost() as amqp_url,
            database(kind, workdir) as database_url,
            WebhookReceiver() as receiver,
        ):
            system = System(
                workdir / "system",
                amqp_url,
                database_url,
                receiver,
                # Logging every request costs CPU the benchmark would measure too.
                extra_env={
                    "COORD_LOG_LEVEL": "warning",
                    # What a deployment runs with, not the tests' faster polling.
                    "COORD_DB_POOL_SIZE": str(_DEFAULTS["db_pool_size"].default),
                    "COORD_OUTBOX_POLL_INTERVAL": str(_DEFAULTS["outbox_poll_interval"].default),
                },
                local_tokens=True,
            )
            # SQLite as `make run` runs it: the three services in one `coord up` process.
            await system.start(replicas=replicas, combined=kind == "sqlite")
            try:
                yield system
            finally:
                await system.aclose()


_DEFAULTS = Settings.model_fields


def body(i: int) -> dict[str, Any]:
    """The i-th alert of a run: a minor looting in Beni, which pages awa.hfo."""
    return alert_body(category="looting", severity="minor", title=f"bench {i}")


def _delivered_at(system: System) -> dict[str, float]:
    return {
        str(r.json().get("alert_id")): r.at
        for r in system.receiver.receipts
        if r.person_id == TARGET and r.kind == "page"
    }


async def _drain(system: System, ids: set[str], timeout: float = 120.0) -> dict[str, float]:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while True:
        delivered = _delivered_at(system)
        if ids <= delivered.keys() or time.monotonic() > deadline:
            return delivered
        await asyncio.sleep(0.1)


def _percentile(values: list[float], q: float) -> float:
    if len(values) < 2:  # quantiles need two points
        return values[0] if values else float("inf")  # nothing delivered: never held
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


async def latency_at(system: System, post: Post, rate: float, seconds: float) -> LatencyResult:
    """Post at ``rate`` alerts/s (open loop) for ``seconds``; latency of each delivery."""
    accepted: dict[str, float] = {}
    total = int(rate * seconds)
    start = time.monotonic()

    failed = 0

    async def offer(i: int) -> None:
        nonlocal failed
        await asyncio.sleep(max(start + i / rate - time.monotonic(), 0))
        response = await post(i)
        if response is not None and response.status_code == 201:
            accepted[response.json()["id"]] = time.monotonic()
        else:
            failed += 1

    await asyncio.gather(*(offer(i) for i in range(total)))
    delivered = await _drain(system, set(accepted))
    latencies = [(delivered[a] - t) * 1000 for a, t in accepted.items() if a in delivered]
    return LatencyResult(
        rate=rate,
        alerts=len(latencies),
        p50_ms=_percentile(latencies, 50),
        p95_ms=_percentile(latencies, 95),
        p99_ms=_percentile(latencies, 99),
        failed=failed,
    )


def plain_posts(client: httpx.AsyncClient) -> Post:
    """Each alert posted as it is, by ``client``."""

    async def post(i: int) -> httpx.Response | None:
        return await posted(client, body(i))

    return post


async def posted(
    client: httpx.AsyncClient, json: dict[str, Any], headers: dict[str, str] | None = None
) -> httpx.Response | None:
    """POST one alert; None when the request failed on the way (counted, never raised:
    an overloaded system refusing connections is a result, not a crash)."""
    try:
        return await client.post("/v1/alerts", json=json, headers=headers)
    except httpx.HTTPError:
        return None


async def throughput(
    system: System, post: Post, concurrency: int, seconds: float
) -> ThroughputResult:
    """Closed loop: ``concurrency`` clients post back to back; deliveries counted in the window."""
    accepted: set[str] = set()
    before = set(_delivered_at(system))
    stop = time.monotonic() + seconds
    counter = iter(range(10**9))

    async def poster() -> None:
        while time.monotonic() < stop:
            response = await post(next(counter))
            if response is not None and response.status_code == 201:
                accepted.add(response.json()["id"])

    started = time.monotonic()
    await asyncio.gather(*(poster() for _ in range(concurrency)))
    ended = time.monotonic()
    in_window = [a for a, at in _delivered_at(system).items() if a not in before and at <= ended]
    backlog = len(accepted) - len(in_window)
    await _drain(system, accepted)
    return ThroughputResult(
        concurrency=concurrency,
        seconds=ended - started,
        accepted=len(accepted),
        delivered_in_window=len(in_window),
        delivered_per_s=len(in_window) / (ended - started),
        backlog_at_end=backlog,
    )


# A rate is held when 99 % of its alerts are delivered within this: a queue that grows
# for the whole window makes the last alerts wait seconds.
HELD_P99_MS = 500.0


async def sustained(
    system: System, post: Post, seconds: float, step: float = 10.0
) -> SustainedResult:
    """Offer ``step``, 2 x ``step``, ... alerts/s (open loop) until a rate is not held."""
    tried: list[LatencyResult] = []
    rate = step
    while True:
        result = await latency_at(system, post, rate=rate, seconds=seconds)
        tried.append(result)
        if result.p99_ms > HELD_P99_MS or result.alerts < int(rate * seconds):
            break
        rate += step
    held = [r for r in tried if r.p99_ms <= HELD_P99_MS and r.alerts >= int(r.rate * seconds)]
    best = held[-1] if held else tried[0]
    return SustainedResult(rate=best.rate if held else 0.0, held=best, tried=tried)
