"""Verifying the event log's chain over ``seq`` ranges, one process per range.

A record's hash covers its own stored ``prev_hash``, so each range can be checked on
its own, from the ``prev_hash`` of its first record; the ranges then join when each
one's first ``prev_hash`` is the hash the range before it ended on. The answer is the
one ``shared.event_log.verify`` gives over the whole log, the first problem included;
on two cores it takes about half the time (docs/performance.md): Python hashes one
record at a time, so one process cannot keep up with the database.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from sqlalchemy import select

from shared.db import one_session
from shared.event_log import GENESIS, ChainCheck, EventRecord, Head, Problem, records

# Below this many records, starting processes costs more than it saves.
PARALLEL_FROM = 50_000


@dataclass(frozen=True)
class RangeCheck:
    """What one range's check found: from which ``prev_hash`` it started, where it ended."""

    first_seq: int
    first_prev_hash: str | None  # None: the range had no record
    checked: int
    head: Head
    problem: Problem | None


async def check_range(
    database_url: str, first_seq: int, last_seq: int, expected: Head | None = None
) -> RangeCheck:
    """Check records ``first_seq..last_seq``, trusting the first one's ``prev_hash``."""
    async with one_session(database_url, read_only=True) as session:
        first = await session.scalar(
            select(EventRecord.prev_hash).where(EventRecord.seq == first_seq)
        )
        check = ChainCheck(Head(first_seq - 1, first or GENESIS))
        async for record in records(session, after_seq=first_seq - 1, up_to_seq=last_seq):
            check.add_record(record)
            if check.problem is not None:
                break
            if expected is not None and record.seq == expected.seq and record.hash != expected.hash:
                check.problem = Problem(expected.seq, "it differs from the recorded head")
                break
    if check.problem is None and check.head.seq < last_seq:
        missing = check.head.seq + 1
        check.problem = Problem(missing, f"record {missing} is missing (deleted?)")
    return RangeCheck(first_seq, first, check.checked, check.head, check.problem)


def _check_range_in_process(
    database_url: str, first_seq: int, last_seq: int, expected: Head | None
) -> RangeCheck:
    return asyncio.run(check_range(database_url, first_seq, last_seq, expected))


def split(last_seq: int, jobs: int) -> list[tuple[int, int]]:
    """``1..last_seq`` as up to ``jobs`` consecutive ranges of nearly equal length."""
    bounds = [last_seq * i // jobs for i in range(jobs + 1)]
    return [(bounds[i] + 1, bounds[i + 1]) for i in range(jobs) if bounds[i + 1] > bounds[i]]


def join(ranges: list[RangeCheck], expected: Head | None = None) -> tuple[int, Problem | None]:
    """The records checked in a row from the start, and the first problem of the whole log."""
    checked = 0
    end = Head(0, GENESIS)
    for part in ranges:
        if part.first_prev_hash is not None and part.first_prev_hash != end.hash:
            reason = "it does not follow the record before it (inserted or moved?)"
            return checked, Problem(part.first_seq, reason)
        checked += part.checked
        if part.problem is not None:
            return checked, part.problem
        end = part.head
    if expected is not None and end.seq < expected.seq:
        reason = f"the log ends before the recorded head {expected.seq}"
        return checked, Problem(end.seq + 1, reason)
    return checked, None


def jobs_for(log_size: int, cores: int | None = None) -> int:
    """Processes to verify a log of ``log_size`` records: one per core, up to 4.

    Below ``PARALLEL_FROM`` records, one: starting processes would cost more.
    """
    cores = cores if cores is not None else os.cpu_count() or 1
    return min(cores, 4) if log_size >= PARALLEL_FROM else 1


async def verify_in_parallel(
    database_url: str, last: Head, jobs: int, expected: Head | None = None
) -> tuple[int, Problem | None, Head]:
    """Check records 1..``last.seq`` over ``jobs`` processes: (checked, first problem, head).

    ``last`` is the head read when the verification starts; records appended while it
    runs are left for the next one.
    """
    spans = split(last.seq, jobs)
    loop = asyncio.get_running_loop()
    # spawn, not fork: forking a process whose other threads (a driver's) may hold
    # locks can deadlock the child. Importing afresh costs about a second per worker,
    # nothing next to a log long enough to be worth splitting.
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(len(spans) or 1, mp_context=spawn) as pool:
        parts = await asyncio.gather(
            *(
                loop.run_in_executor(
                    pool, _check_range_in_process, database_url, first, last_seq, expected
                )
                for first, last_seq in spans
            )
        )
    checked, problem = join(list(parts), expected)
    ends = [part.head for part in parts]
    return checked, problem, ends[-1] if ends else Head(0, GENESIS)
