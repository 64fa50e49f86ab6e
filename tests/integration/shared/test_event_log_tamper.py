"""The event log's hash chain catches tampering done by raw SQL (both backends).

An attacker with database access edits, deletes, inserts, renumbers or swaps rows
of ``router_event_log``; ``shared.event_log.verify`` must name the first record
that no longer fits, at exactly the right sequence number.

The log the tests tamper with, and the raw-SQL helpers, are tests/support/event_log.py
(shared with ``test_audit_cli.py``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from sqlalchemy import JSON, bindparam, select, text

from coord.migrate import upgrade
from shared.db import UTCDateTime, create_engine, session_factory
from shared.envelope import Envelope
from shared.event_log import (
    GENESIS,
    ChainCheck,
    EventRecord,
    Head,
    append,
    fields_of,
    payload_digest,
    record_hash,
    verify,
)
from shared.log_verification import check_range, join, split, verify_in_parallel
from tests.support.database import Database
from tests.support.event_log import (
    BATCH_SIZES,
    OCCURRED,
    TOTAL,
    current_head,
    flip_one_payload_byte,
    payload_text,
    run_sql,
    sample_batches,
    set_payload_text,
    write_log,
)

pytestmark = pytest.mark.integration


async def check_log(db: Database, expected: Head | None = None) -> ChainCheck:
    """``verify``'s answer, after checking that splitting the log over processes by
    ``seq`` range (``coord audit verify --jobs N``) gives the same one, whichever
    range boundaries fall next to the tampering."""
    async with db.sessions() as session:
        check = await verify(session, expected)
    last = await current_head(db)
    for jobs in (2, 7):  # ranges checked here one after the other, as the processes would
        ranges = [
            await check_range(db.url, first, last_seq, expected)
            for first, last_seq in split(last.seq, jobs)
        ]
        assert join(ranges, expected) == (check.checked, check.problem), f"{jobs} ranges"
    return check


async def read_record(db: Database, seq: int) -> EventRecord:
    async with db.sessions() as session:
        return (await session.scalars(select(EventRecord).where(EventRecord.seq == seq))).one()


async def all_seqs(db: Database) -> list[int]:
    async with db.sessions() as session:
        return list(await session.scalars(select(EventRecord.seq).order_by(EventRecord.seq)))


# --------------------------------------------------------------------------- raw SQL (attacker)

INSERT_ROW = text(
    "INSERT INTO router_event_log (seq, event_id, type, schema_version, occurred_at,"
    " recorded_at, producer, actor, correlation_id, causation_id, classification, payload,"
    " prev_hash, hash) VALUES (:seq, :event_id, :type, :schema_version, :occurred_at,"
    " :recorded_at, :producer, :actor, :correlation_id, :causation_id, :classification,"
    " :payload, :prev_hash, :hash)"
).bindparams(
    bindparam("occurred_at", type_=UTCDateTime()),
    bindparam("recorded_at", type_=UTCDateTime()),
    bindparam("payload", type_=JSON()),
)


def forged_row(
    model: EventRecord, seq: int, prev_hash: str, digest: str | None = None
) -> dict[str, Any]:
    """A made-up record looking like ``model``; hashed correctly unless ``digest`` is given."""
    row: dict[str, Any] = {
        "seq": seq,
        "event_id": str(uuid4()),
        "type": "alert.resolve",
        "schema_version": 1,
        "occurred_at": model.occurred_at,
        "recorded_at": model.recorded_at,
        "producer": "router",
        "actor": "grace.dsrsg",
        "correlation_id": model.correlation_id,
        "causation_id": None,
        "classification": "unclassified",
        "payload": {"marker": "forged", "reason": "nothing happened"},
        "prev_hash": prev_hash,
    }
    row["hash"] = digest or record_hash(row, payload_digest(row["payload"]), prev_hash)
    return row


async def insert_row(db: Database, row: dict[str, Any]) -> None:
    await run_sql(db, INSERT_ROW, **row)


async def shift_up_from(db: Database, seq: int) -> None:
    """Renumber records >= seq one up (in two steps: the primary key is checked per row)."""
    await run_sql(
        db,
        "UPDATE router_event_log SET seq = -seq - 1 WHERE seq >= :seq",
        "UPDATE router_event_log SET seq = -seq WHERE seq < 0",
        seq=seq,
    )


# --------------------------------------------------------------------------- tampering cases


async def edit_payload_byte(db: Database) -> None:
    await flip_one_payload_byte(db, 12)


async def edit_payload_and_rehash_it(db: Database) -> None:
    new_payload = json.loads(await flip_one_payload_byte(db, 12))
    record = await read_record(db, 12)
    digest = record_hash(fields_of(record), payload_digest(new_payload), record.prev_hash)
    await run_sql(db, "UPDATE router_event_log SET hash = :h WHERE seq = 12", h=digest)


async def delete_middle_row(db: Database) -> None:
    await run_sql(db, "DELETE FROM router_event_log WHERE seq = 17")


async def delete_first_row(db: Database) -> None:
    await run_sql(db, "DELETE FROM router_event_log WHERE seq = 1")


async def append_forged_row_with_made_up_hash(db: Database) -> None:
    last = await read_record(db, TOTAL)
    await insert_row(db, forged_row(last, TOTAL + 1, last.hash, digest="f" * 64))


async def append_forged_row_hashed_on_a_wrong_prev_hash(db: Database) -> None:
    last = await read_record(db, TOTAL)
    before_last = await read_record(db, TOTAL - 1)
    await insert_row(db, forged_row(last, TOTAL + 1, before_last.hash))


async def insert_by_renumbering_with_made_up_hash(db: Database) -> None:
    ninth = await read_record(db, 9)
    await shift_up_from(db, 10)
    await insert_row(db, forged_row(ninth, 10, ninth.hash, digest="e" * 64))


async def insert_by_renumbering_correctly_hashed(db: Database) -> None:
    ninth = await read_record(db, 9)
    await shift_up_from(db, 10)
    await insert_row(db, forged_row(ninth, 10, ninth.hash))


async def swap_rows(db: Database) -> None:
    """Rows 5 and 6 trade places: each keeps its content, the positions are swapped."""
    await run_sql(
        db,
        "UPDATE router_event_log SET seq = -5 WHERE seq = 5",
        "UPDATE router_event_log SET seq = 5 WHERE seq = 6",
        "UPDATE router_event_log SET seq = 6 WHERE seq = -5",
    )


async def swap_payloads(db: Database) -> None:
    fifth, sixth = await payload_text(db, 5), await payload_text(db, 6)
    await set_payload_text(db, 5, sixth)
    await set_payload_text(db, 6, fifth)


@dataclass(frozen=True)
class Tamper:
    action: Callable[[Database], Awaitable[None]]
    seq: int
    reason: str


TAMPERING = {
    "payload byte changed": Tamper(edit_payload_byte, 12, "does not match its hash"),
    "payload changed and rehashed": Tamper(edit_payload_and_rehash_it, 13, "does not follow"),
    "middle row deleted": Tamper(delete_middle_row, 17, "missing"),
    "first row deleted": Tamper(delete_first_row, 1, "missing"),
    "forged last row, made-up hash": Tamper(
        append_forged_row_with_made_up_hash, TOTAL + 1, "does not match its hash"
    ),
    "forged last row, wrong prev_hash": Tamper(
        append_forged_row_hashed_on_a_wrong_prev_hash, TOTAL + 1, "does not follow"
    ),
    "row inserted by renumbering, made-up hash": Tamper(
        insert_by_renumbering_with_made_up_hash, 10, "does not match its hash"
    ),
    # A forger who hashes the inserted row correctly is caught at the first genuine
    # record after it, whose prev_hash still names record 9.
    "row inserted by renumbering, correctly hashed": Tamper(
        insert_by_renumbering_correctly_hashed, 11, "does not follow"
    ),
    "rows 5 and 6 swapped": Tamper(swap_rows, 5, "does not follow"),
    "payloads of 5 and 6 swapped": Tamper(swap_payloads, 5, "does not match its hash"),
}


# --------------------------------------------------------------------------- tests


@pytest.fixture
async def log(db: Database) -> Database:
    """The migrated database with the 30-record sample log."""
    batches, _ = sample_batches()
    await write_log(db, batches)
    return db


async def test_an_untouched_log_verifies(log: Database) -> None:
    check = await check_log(log)
    assert check.problem is None
    assert check.checked == TOTAL
    assert check.head == await current_head(log)
    assert check.head.seq == TOTAL
    assert (await check_log(log, expected=check.head)).problem is None


@pytest.mark.parametrize("case", TAMPERING.values(), ids=TAMPERING.keys())
async def test_tampering_is_reported_at_the_first_affected_seq(log: Database, case: Tamper) -> None:
    await case.action(log)
    check = await check_log(log)
    assert check.problem is not None
    assert (check.problem.seq, check.checked) == (case.seq, case.seq - 1)
    assert case.reason in check.problem.reason


@pytest.mark.parametrize(
    ("column", "value", "seq"),
    [
        ("actor", "grace.dsrsg", 8),
        ("occurred_at", datetime(2026, 11, 23, 8, 20, 0, 141, tzinfo=UTC), 20),
        ("recorded_at", datetime(2020, 1, 1, tzinfo=UTC), 25),
        ("classification", "unclassified", 13),
        ("causation_id", None, 30),
    ],
)
async def test_a_changed_header_field_is_reported_at_its_seq(
    log: Database, column: str, value: object, seq: int
) -> None:
    before = getattr(await read_record(log, seq), column)
    assert before != value
    statement = text(f"UPDATE router_event_log SET {column} = :value WHERE seq = :seq")  # noqa: S608 - column from the table above
    if isinstance(value, datetime):
        statement = statement.bindparams(bindparam("value", type_=UTCDateTime()))
    await run_sql(log, statement, value=value, seq=seq)
    check = await check_log(log)
    assert check.problem is not None
    assert check.problem.seq == seq
    assert "does not match its hash" in check.problem.reason


@pytest.mark.parametrize("tamper", [False, True], ids=["untouched", "altered"])
async def test_verify_in_parallel_processes_gives_verifys_answer(
    log: Database, tamper: bool
) -> None:
    if tamper:
        await TAMPERING["payload byte changed"].action(log)
    async with log.sessions() as session:
        alone = await verify(session)
    last = await current_head(log)
    checked, problem, end = await verify_in_parallel(log.url, last, jobs=2)
    assert (checked, problem) == (alone.checked, alone.problem)
    assert (problem is None) is (not tamper)
    assert end == last


async def test_a_deleted_last_row_is_caught_only_by_the_recorded_head(log: Database) -> None:
    recorded = await current_head(log)
    await run_sql(log, "DELETE FROM router_event_log WHERE seq = :seq", seq=TOTAL)

    chain_alone = await check_log(log)
    assert chain_alone.problem is None
    assert chain_alone.checked == TOTAL - 1

    against_head = await check_log(log, expected=recorded)
    assert against_head.problem is not None
    assert against_head.problem.seq == recorded.seq
    assert f"ends before the recorded head {recorded.seq}" in against_head.problem.reason


async def test_a_rewritten_and_rechained_tail_is_caught_by_the_recorded_head(
    log: Database,
) -> None:
    recorded = await current_head(log)
    new_payload = json.loads(await flip_one_payload_byte(log, 12))
    prev = (await read_record(log, 11)).hash
    for seq in range(12, TOTAL + 1):  # the attacker re-chains everything after the edit
        record = await read_record(log, seq)
        payload = new_payload if seq == 12 else record.payload
        digest = record_hash(fields_of(record), payload_digest(payload), prev)
        await run_sql(
            log,
            "UPDATE router_event_log SET prev_hash = :prev, hash = :h WHERE seq = :seq",
            prev=prev,
            h=digest,
            seq=seq,
        )
        prev = digest

    assert (await check_log(log)).problem is None  # a consistent chain...
    check = await check_log(log, expected=recorded)  # ...but not the one recorded
    assert check.problem is not None
    assert check.problem.seq == recorded.seq
    assert "differs from the recorded head" in check.problem.reason


async def test_concurrent_appenders_make_one_gapless_chain(db: Database) -> None:
    threads = [uuid4() for _ in range(20)]

    async def append_thread(correlation_id: UUID) -> None:
        envelopes = [
            Envelope(
                type="message.sent",
                producer="router",
                actor="router",
                correlation_id=correlation_id,
                payload={"index": i, "text": "Habari — ça va ?"},
            )
            for i in range(3)
        ]
        async with db.sessions() as session, session.begin():
            await append(session, envelopes)

    await asyncio.gather(*(append_thread(t) for t in threads))

    assert await all_seqs(db) == list(range(1, 61))
    check = await check_log(db)
    assert (check.problem, check.checked) == (None, 60)
    async with db.sessions() as session:
        rows = (await session.execute(select(EventRecord.correlation_id, EventRecord.seq))).all()
    by_thread: dict[str, list[int]] = {}
    for correlation_id, seq in rows:
        by_thread.setdefault(correlation_id, []).append(seq)
    assert len(by_thread) == 20
    for seqs in by_thread.values():  # each transaction's records are contiguous
        seqs.sort()
        assert seqs == list(range(seqs[0], seqs[0] + 3))


# --------------------------------------------------------------------------- migration 0008

OLD_INSERT = text(
    "INSERT INTO router_event_log (seq, event_id, type, schema_version, occurred_at,"
    " recorded_at, producer, actor, correlation_id, causation_id, classification, payload)"
    " VALUES (:seq, :event_id, :type, :schema_version, :occurred_at, :recorded_at, :producer,"
    " :actor, :correlation_id, :causation_id, :classification, :payload)"
).bindparams(
    bindparam("occurred_at", type_=UTCDateTime()),
    bindparam("recorded_at", type_=UTCDateTime()),
    bindparam("payload", type_=JSON()),
)


def old_row(seq: int, envelope: Envelope, recorded_at: datetime) -> dict[str, Any]:
    return {
        "seq": seq,
        "event_id": str(envelope.id),
        "type": envelope.type,
        "schema_version": envelope.schema_version,
        "occurred_at": envelope.occurred_at,
        "recorded_at": recorded_at,
        "producer": envelope.producer,
        "actor": envelope.actor,
        "correlation_id": str(envelope.correlation_id),
        "causation_id": str(envelope.causation_id) if envelope.causation_id else None,
        "classification": envelope.classification.value,
        "payload": envelope.payload,
    }


async def test_migration_chains_records_written_before_the_chain(database_url: str) -> None:
    await asyncio.to_thread(upgrade, database_url, "0007")
    batches, _ = sample_batches()
    envelopes = [*batches[0], *batches[2]]  # 9 records, one with a source
    old_seqs = [3, 4, 9, 15, 16, 40, 41, 57, 100]  # gaps, as a rolled-back sequence leaves
    rows = [
        old_row(seq, envelope, OCCURRED + timedelta(seconds=seq))
        for seq, envelope in zip(old_seqs, envelopes, strict=True)
    ]
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            for row in reversed(rows):  # inserted out of order: the seq is the order
                await connection.execute(OLD_INSERT, row)
        await engine.dispose()

        await asyncio.to_thread(upgrade, database_url)

        db = Database(database_url, engine, session_factory(engine))
        check = await check_log(db)
        assert (check.problem, check.checked) == (None, len(rows))
        async with db.sessions() as session:
            migrated = (await session.scalars(select(EventRecord).order_by(EventRecord.seq))).all()
        assert [r.seq for r in migrated] == list(range(1, len(rows) + 1))
        assert [r.event_id for r in migrated] == [row["event_id"] for row in rows]
        assert [r.payload for r in migrated] == [row["payload"] for row in rows]
        assert migrated[0].prev_hash == GENESIS

        more, _ = sample_batches()
        await write_log(db, more[:1])  # the router appends after the backfilled chain
        check = await check_log(db)
        assert (check.problem, check.checked) == (None, len(rows) + BATCH_SIZES[0])
    finally:
        await engine.dispose()
