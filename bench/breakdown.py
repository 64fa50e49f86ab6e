"""``python -m bench.breakdown``: where the audit verify's time goes, per record.

On a log built like bench/audit.py's (default 200,000 records), each step ``verify``
does is timed alone on the same rows, in the same process:

- reading: ``records()`` (rows, keyset pages of 1000), the same as ORM entities (what
  ``records()`` read before) and a Core SELECT streamed (rows, types decoded), nothing
  else done with the rows;
- hashing, over rows already in memory: ``fields_of`` (the record as a dict, times
  formatted), ``payload_digest`` (of which: the canonical JSON, the SHA-256) and
  ``record_hash``; and ``json.loads`` of the payloads, the decoding a read pays;
- a what-if that leaves the hash format as it is: the check split over two processes
  by ``seq`` range (each record's hash depends on its own stored ``prev_hash`` only, so
  ranges are independent; the seam is one comparison).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import itertools
import json
import tempfile
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from bench.infra import database
from bench.logload import build_log
from bench.templates import record_template
from coord.migrate import upgrade
from shared.db import create_engine, session_factory
from shared.event_log import (
    EventRecord,
    LogRecord,
    canonical,
    fields_of,
    payload_digest,
    record_hash,
    records,
    verify,
)
from shared.logging import configure_logging
from shared.settings import Settings

Step = tuple[str, float]  # (what, microseconds per record)


def _timed(steps: list[Step], what: str, count: int, run: Callable[[], Any]) -> Any:
    # The rows held in memory here would make the collector's passes cost more than
    # they do in verify (which holds one page): the step alone, without them.
    gc.disable()
    try:
        started = time.perf_counter()
        result = run()
        steps.append((what, (time.perf_counter() - started) / count * 1e6))
    finally:
        gc.enable()
    return result


async def _check_range(database_url: str, first: int, last: int) -> tuple[int, str, str]:
    """Check records first..last over Core rows; (checked, first prev_hash, last hash).

    A plain engine: shared.db's takes SQLite's write lock at every BEGIN (IMMEDIATE),
    which would run the two ranges one after the other.
    """
    engine = create_async_engine(database_url)
    table = EventRecord.__table__
    query = select(table).where(table.c.seq.between(first, last)).order_by(table.c.seq)
    checked, head, prev = 0, "", ""
    try:
        async with engine.connect() as connection:
            result = await connection.stream(query)
            async for partition in result.mappings().partitions(1000):
                for fields in partition:
                    if checked == 0:
                        head = prev = fields["prev_hash"]
                    digest = record_hash(
                        cast(Mapping[str, Any], fields), payload_digest(fields["payload"]), prev
                    )
                    if fields["prev_hash"] != prev or digest != fields["hash"]:
                        raise AssertionError(f"record {fields['seq']} does not verify")
                    prev, checked = digest, checked + 1
    finally:
        await engine.dispose()
    return checked, head, prev


def _check_range_process(database_url: str, first: int, last: int) -> tuple[int, str, str]:
    return asyncio.run(_check_range(database_url, first, last))


async def _parallel_check(database_url: str, events: int, processes: int) -> int:
    bounds = [events * i // processes for i in range(processes + 1)]
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(processes) as pool:
        parts = await asyncio.gather(
            *(
                loop.run_in_executor(
                    pool, _check_range_process, database_url, bounds[i] + 1, bounds[i + 1]
                )
                for i in range(processes)
            )
        )
    for (_, _, last_hash), (_, next_prev, _) in itertools.pairwise(parts):
        if last_hash != next_prev:
            raise AssertionError("the ranges do not join")
    return sum(checked for checked, _, _ in parts)


async def breakdown(kind: str, events: int, template: Any) -> list[Step]:
    """Per-record microseconds of each step on a ``kind`` database of ``events`` records."""
    steps: list[Step] = []
    with tempfile.TemporaryDirectory(prefix=f"coord-bench-breakdown-{kind}-") as tmp:
        async with database(kind, Path(tmp)) as database_url:
            await asyncio.to_thread(upgrade, database_url)
            await build_log(database_url, template, events)
            engine = create_engine(database_url)
            sessions = session_factory(engine)
            try:

                async def rows_pass() -> list[LogRecord]:
                    async with sessions() as session:
                        return [r async for r in records(session)]

                async def orm_pass() -> int:
                    table = EventRecord.__table__
                    async with sessions() as session:
                        result = await session.stream_scalars(
                            select(EventRecord).order_by(table.c.seq)
                        )
                        return sum([len(p) async for p in result.partitions(1000)])

                async def core_pass() -> int:
                    table = EventRecord.__table__
                    async with engine.connect() as connection:
                        result = await connection.stream(select(table).order_by(table.c.seq))
                        return sum([len(p) async for p in result.partitions(1000)])

                async def verify_pass() -> int:
                    async with sessions() as session:
                        return (await verify(session)).checked

                await rows_pass()  # warms the cache
                for what, run in (
                    ("read: records() rows, nothing else", rows_pass),
                    ("read: ORM entities (as before), nothing else", orm_pass),
                    ("read: Core SELECT streamed, nothing else", core_pass),
                    ("verify (everything)", verify_pass),
                    ("what-if: verify over Core rows, 2 processes", _two(database_url, events)),
                ):
                    started = time.perf_counter()
                    await run()
                    steps.append((what, (time.perf_counter() - started) / events * 1e6))
                async with sessions() as session:
                    rows = [r async for r in records(session, batch=events + 1)]
            finally:
                await engine.dispose()
    n = len(rows)
    fields = _timed(steps, "hash: fields_of (row -> dict)", n, lambda: list(map(fields_of, rows)))
    payloads = [r.payload for r in rows]
    texts = _timed(steps, "hash: canonical(payload)", n, lambda: list(map(canonical, payloads)))
    _timed(steps, "hash: SHA-256 of it", n, lambda: [hashlib.sha256(t).hexdigest() for t in texts])
    digests = _timed(steps, "hash: payload_digest", n, lambda: list(map(payload_digest, payloads)))
    _timed(
        steps,
        "hash: record_hash (13 fields)",
        n,
        lambda: [record_hash(f, d, f["prev_hash"]) for f, d in zip(fields, digests, strict=True)],
    )
    stored = [json.dumps(p) for p in payloads]
    _timed(steps, "read: json.loads of a payload", n, lambda: list(map(json.loads, stored)))
    return steps


def _two(database_url: str, events: int) -> Callable[[], Any]:
    return lambda: _parallel_check(database_url, events, 2)


async def _main(databases: list[str], events: int) -> None:
    with tempfile.TemporaryDirectory(prefix="coord-bench-template-") as tmp:
        template = await record_template(Path(tmp))
    for kind in databases:
        print(f"{kind}, {events:,} records: microseconds per record (records/s)")
        for what, micros in await breakdown(kind, events, template):
            print(f"  {what:48s} {micros:7.2f} us  ({1e6 / micros:>10,.0f}/s)")


def main() -> None:
    """Parse the options and print the breakdown."""
    parser = argparse.ArgumentParser(prog="python -m bench.breakdown", description=__doc__)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()
    configure_logging(Settings(log_level="warning"))
    asyncio.run(_main(args.databases.split(","), args.events))


if __name__ == "__main__":
    main()
