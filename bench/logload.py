"""A large, valid event log, built fast: the recorded template cloned, chained and bulk loaded.

Clone k of the template (bench/templates.py) gets fresh ids (every UUID of the
template, in the columns and the payloads, gets clone k's last 12 hex digits, so
references between records stay consistent) and its log times shifted by k template
spans. The chain is computed with shared.event_log's own ``record_hash`` and
``payload_digest``, so ``verify`` accepts the log. Rows go in with COPY (PostgreSQL,
asyncpg) or ``executemany`` (SQLite), in chunks, never one ORM append per event;
PostgreSQL's table is then VACUUM ANALYZEd (what autovacuum does to a table this age),
so no measured read pays for setting hint bits.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from bench.templates import LoggedRow
from shared.event_log import GENESIS, EventRecord, payload_digest, record_hash

# The log table's own columns, in its order (what COPY and the SELECT baseline use).
COLUMNS = tuple(column.name for column in EventRecord.__table__.columns)
_UUID = re.compile(r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4})-[0-9a-f]{12}")
_CHUNK = 20_000


@dataclass(frozen=True)
class BuildResult:
    """How the log was built."""

    events: int
    seconds: float
    template_events: int


class _Cloner:
    """The template as JSON text cut at every UUID's last 12 digits, re-joined per clone."""

    def __init__(self, template: list[LoggedRow]) -> None:
        self.rows = template
        ids = [[r.event_id, r.correlation_id, r.causation_id, r.payload] for r in template]
        # The JSON cut after each UUID's 4th group, the last 12 digits dropped.
        self._pieces = _UUID.sub(lambda m: m.group(1) + "-\0", json.dumps(ids)).split("\0")
        start, end = template[0].recorded_at, template[-1].recorded_at
        self.span = end - start + timedelta(seconds=1)

    def clone(self, k: int) -> list[list[Any]]:
        """[event_id, correlation_id, causation_id, payload] of every row, for clone k."""
        return json.loads(f"{k:012x}".join(self._pieces))  # type: ignore[no-any-return]


def chained_rows(template: list[LoggedRow], events: int) -> Iterator[list[tuple[Any, ...]]]:
    """The log's rows in chunks: COLUMNS order, times as aware datetimes, payload as text."""
    cloner = _Cloner(template)
    clones = -(-events // len(template))
    # The newest clone ends about now; the log reaches back clones x span.
    base = datetime.now(UTC) - cloner.span * clones - template[0].recorded_at
    prev, seq, chunk = GENESIS, 0, []
    for k in range(clones):
        shift = base + cloner.span * k
        for row, (event_id, correlation, causation, payload) in zip(
            template, cloner.clone(k), strict=True
        ):
            seq += 1
            if seq > events:
                break
            fields = {
                "seq": seq,
                "event_id": event_id,
                "type": row.type,
                "schema_version": row.schema_version,
                "occurred_at": row.occurred_at + shift,
                "recorded_at": row.recorded_at + shift,
                "producer": row.producer,
                "actor": row.actor,
                "correlation_id": correlation,
                "causation_id": causation,
                "classification": row.classification,
            }
            digest = record_hash(fields, payload_digest(payload), prev)
            chunk.append((*fields.values(), json.dumps(payload), prev, digest))
            prev = digest
            if len(chunk) == _CHUNK:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


def _sqlite_time(value: datetime) -> str:
    # SQLAlchemy's storage format for DateTime on SQLite (UTCDateTime stores UTC).
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _load_sqlite(path: str, template: list[LoggedRow], events: int) -> None:
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        names, marks = ", ".join(COLUMNS), ", ".join("?" * len(COLUMNS))
        statement = f"INSERT INTO router_event_log ({names}) VALUES ({marks})"  # noqa: S608
        for chunk in chained_rows(template, events):
            rows = [(*r[:4], _sqlite_time(r[4]), _sqlite_time(r[5]), *r[6:]) for r in chunk]
            with connection:
                connection.executemany(statement, rows)
        connection.execute("ANALYZE")
    finally:
        connection.close()


async def _load_postgresql(url: str, template: list[LoggedRow], events: int) -> None:
    connection = await asyncpg.connect(url)
    try:
        for chunk in chained_rows(template, events):
            await connection.copy_records_to_table(
                "router_event_log", records=chunk, columns=COLUMNS
            )
        await connection.execute("VACUUM ANALYZE router_event_log")
    finally:
        await connection.close()


def driver_url(database_url: str) -> str:
    """The driver's own URL (or SQLite path) of an SQLAlchemy URL."""
    if database_url.startswith("sqlite"):
        return database_url.split(":///", 1)[1]
    return database_url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def build_log(database_url: str, template: list[LoggedRow], events: int) -> BuildResult:
    """Append ``events`` chained records to the (empty, migrated) log of ``database_url``."""
    started = time.perf_counter()
    url = driver_url(database_url)
    if database_url.startswith("sqlite"):
        await asyncio.to_thread(_load_sqlite, url, template, events)
    else:
        await _load_postgresql(url, template, events)
    return BuildResult(events, time.perf_counter() - started, len(template))
