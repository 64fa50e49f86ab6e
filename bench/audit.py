"""Audit verify and replay rates on a large log, against plain reads of the same rows.

One database per kind, migrated (``coord db upgrade``), its log built by
bench/logload.py from alerts recorded by the router (bench/templates.py). Then, in
this order, each over the whole log, as records/s:

1. driver: the rows read by the database driver alone, no SQLAlchemy (asyncpg cursor,
   sqlite3 cursor), nothing decoded beyond the driver; it also warms the cache;
2. select (the baseline): ``SELECT`` of every column ``verify`` reads, in ``seq`` order,
   streamed through the same SQLAlchemy engine, types decoded (UTC times, JSON);
3. verify: ``shared.event_log.verify``, one process (``coord audit verify --jobs 1``);
4. verify, 2 processes: ``shared.log_verification.verify_in_parallel`` over two ``seq``
   ranges (what ``coord audit verify`` runs on this log with two cores);
5. replay: ``services.router.audit.replay.rebuild`` (what ``coord audit replay`` runs before
   comparing with the live tables; the comparison is left out: it scales with the live
   rows, not the log, and there are none here).
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import select

from bench.infra import database
from bench.logload import COLUMNS, build_log, driver_url
from bench.templates import LoggedRow
from coord.migrate import upgrade
from services.router.audit.replay import rebuild
from shared.db import create_engine, session_factory
from shared.event_log import EventRecord, head, verify
from shared.log_verification import verify_in_parallel

_QUERY = f"SELECT {', '.join(COLUMNS)} FROM router_event_log ORDER BY seq"  # noqa: S608


@dataclass(frozen=True)
class Rate:
    """One pass over the log."""

    records: int
    seconds: float

    @property
    def per_s(self) -> float:
        """Records per second."""
        return self.records / self.seconds


async def _timed(run: Callable[[], Awaitable[int]]) -> Rate:
    started = time.perf_counter()
    records = await run()
    return Rate(records, time.perf_counter() - started)


def _sqlite_driver(path: str) -> int:
    connection = sqlite3.connect(path)
    try:
        cursor = connection.execute(_QUERY)
        count = 0
        while rows := cursor.fetchmany(1000):
            count += len(rows)
        return count
    finally:
        connection.close()


async def driver_pass(database_url: str) -> int:
    """Every row through the bare driver."""
    url = driver_url(database_url)
    if database_url.startswith("sqlite"):
        return await asyncio.to_thread(_sqlite_driver, url)
    connection = await asyncpg.connect(url)
    try:
        count = 0
        async with connection.transaction():
            async for _ in connection.cursor(_QUERY, prefetch=1000):
                count += 1
        return count
    finally:
        await connection.close()


async def audit_figures(kind: str, events: int, template: list[LoggedRow]) -> dict[str, Any]:
    """Build a log of ``events`` records on a fresh ``kind`` database; time the four passes."""
    with tempfile.TemporaryDirectory(prefix=f"coord-bench-audit-{kind}-") as tmp:
        async with database(kind, Path(tmp)) as database_url:
            await asyncio.to_thread(upgrade, database_url)
            built = await build_log(database_url, template, events)
            engine = create_engine(database_url)
            sessions = session_factory(engine)
            try:
                driver = await _timed(lambda: driver_pass(database_url))

                async def plain_select() -> int:
                    count = 0
                    async with engine.connect() as connection:
                        table = EventRecord.__table__
                        result = await connection.stream(select(table).order_by(table.c.seq))
                        async for partition in result.partitions(1000):
                            count += len(partition)
                    return count

                async def verify_pass() -> int:
                    async with sessions() as session:
                        check = await verify(session)
                    if check.problem is not None:
                        raise AssertionError(f"the built log does not verify: {check.problem}")
                    return check.checked

                async def parallel_pass() -> int:
                    async with sessions() as session:
                        last = await head(session)
                    checked, problem, _ = await verify_in_parallel(database_url, last, jobs=2)
                    if problem is not None:
                        raise AssertionError(f"the built log does not verify: {problem}")
                    return checked

                async def replay_pass() -> int:
                    async with sessions() as session:
                        return (await rebuild(session)).records

                baseline = await _timed(plain_select)
                checked = await _timed(verify_pass)
                in_two = await _timed(parallel_pass)
                replayed = await _timed(replay_pass)
            finally:
                await engine.dispose()
    for rate in (driver, baseline, checked, in_two, replayed):
        if rate.records != events:
            raise AssertionError(f"a pass read {rate.records} records of {events}")
    return {
        "events": events,
        "build": asdict(built),
        **{
            name: {
                "seconds": rate.seconds,
                "per_s": rate.per_s,
                "x_select": rate.per_s / baseline.per_s,
            }
            for name, rate in (
                ("driver", driver),
                ("select", baseline),
                ("verify", checked),
                ("verify_2_processes", in_two),
                ("replay", replayed),
            )
        },
    }


def table_rows(kind: str, figures: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Rows of the printed table: the select baseline, verify and replay, records/s."""
    events, select_rate = figures["events"], figures["select"]["per_s"]
    build = figures["build"]
    return [
        (
            f"{kind}: audit log of {events:,}: plain SELECT records/s",
            f"{select_rate:,.0f}",
            f"driver alone {figures['driver']['per_s']:,.0f}/s; built in {build['seconds']:.0f} s",
            "",
        ),
        *(
            (
                f"{kind}: audit {name.replace('_', ', ')} records/s",
                f"{figures[name]['per_s']:,.0f} ({figures[name]['seconds']:.1f} s)",
                f"{select_rate:,.0f} SELECT/s",
                f"{figures[name]['x_select']:.2f} x SELECT"
                + (" (target >= 200,000/s, >= 0.5 x)" if name.startswith("verify") else ""),
            )
            for name in ("verify", "verify_2_processes", "replay")
        ),
    ]
