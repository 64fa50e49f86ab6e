"""The tamper-evident event log: one total order, each record chained to the previous one.

The router is the log's only writer (``append``); auditors' tools read it
(``records``, ``verify``, ``head``). Records are only ever inserted: there is no
update or delete in the code.

Each record stores ``prev_hash`` (the previous record's ``hash``; 64 zeros for
the first) and ``hash`` = SHA-256 of a canonical JSON of its fields, in which the
payload is represented by its own SHA-256 (``payload_sha256``). So an export can
redact a payload and still prove the chain: the digest stands in for it.

Appending is serialised: on PostgreSQL by a transaction-scoped advisory lock
(the next sequence number is read after taking it), on SQLite by ``BEGIN
IMMEDIATE``. A transaction's records are written just before it commits, after
its other writes, so the log's lock is the last one taken (two writers cannot
deadlock on it) and held for one statement and the commit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy import JSON, Integer, Select, String, event, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, Session, SessionTransaction, mapped_column

from shared.db import Base, UTCDateTime
from shared.envelope import Envelope, utc_now

GENESIS = "0" * 64
# Any constant works; it only has to be the same for every writer of the log.
_ADVISORY_LOCK_KEY = 0x636F6F72_64_6C6F67 & 0x7FFF_FFFF_FFFF_FFFF
# session.info key: the envelopes this transaction appends, written just before its commit.
_PENDING_RECORDS = "coord.event_log.pending"
_Rows = TypeVar("_Rows")


class EventRecord(Base):
    """One record of the log: the envelope, when it was recorded, and its chain links."""

    __tablename__ = "router_event_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    type: Mapped[str] = mapped_column(String(100))
    schema_version: Mapped[int] = mapped_column(Integer)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    producer: Mapped[str] = mapped_column(String(50))
    actor: Mapped[str] = mapped_column(String(200))
    correlation_id: Mapped[str] = mapped_column(String(36), index=True)
    causation_id: Mapped[str | None] = mapped_column(String(36))
    classification: Mapped[str] = mapped_column(String(30))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


def canonical(value: Any) -> bytes:
    """The one serialisation that is hashed: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


# Payload fields only a reader cleared STRICTLY CONFIDENTIAL sees: an alert's source
# (docs/design.md#source-protection). In the hashed form each stands as its own digest,
# so a reader shown a redacted payload can still prove every visible field and the chain.
PROTECTED_FIELDS = frozenset({"source"})


def field_digest(value: Any) -> str:
    """SHA-256 (hex) of one value's canonical form."""
    return hashlib.sha256(canonical(value)).hexdigest()


def payload_digest(payload: Any, protected: Mapping[str, str] | None = None) -> str:
    """SHA-256 (hex) of a payload, its protected fields standing as their own digests.

    ``protected`` gives those digests for a redacted payload (the values are not there).
    """
    if not isinstance(payload, Mapping):
        return field_digest(payload)
    given = protected or {}
    hashed = {
        key: {"sha256": given.get(key) or field_digest(value)} if key in PROTECTED_FIELDS else value
        for key, value in payload.items()
    }
    return field_digest(hashed)


def _time(value: datetime) -> str:
    if value.tzinfo is None:  # read back from a column that dropped the zone: it is UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def record_hash(fields: Mapping[str, Any], payload_sha256: str, prev_hash: str) -> str:
    """The hash of a record from its fields (times as datetimes or ISO strings)."""
    content = {
        "seq": fields["seq"],
        "event_id": fields["event_id"],
        "type": fields["type"],
        "schema_version": fields["schema_version"],
        "occurred_at": _as_text(fields["occurred_at"]),
        "recorded_at": _as_text(fields["recorded_at"]),
        "producer": fields["producer"],
        "actor": fields["actor"],
        "correlation_id": fields["correlation_id"],
        "causation_id": fields["causation_id"],
        "classification": fields["classification"],
        "payload_sha256": payload_sha256,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical(content)).hexdigest()


def _as_text(value: datetime | str) -> str:
    return _time(value) if isinstance(value, datetime) else _time(datetime.fromisoformat(value))


def fields_of(record: LogRecord) -> dict[str, Any]:
    """A record's hashed fields (and payload) as plain data."""
    return {
        "seq": record.seq,
        "event_id": record.event_id,
        "type": record.type,
        "schema_version": record.schema_version,
        "occurred_at": _time(record.occurred_at),
        "recorded_at": _time(record.recorded_at),
        "producer": record.producer,
        "actor": record.actor,
        "correlation_id": record.correlation_id,
        "causation_id": record.causation_id,
        "classification": record.classification,
        "payload": record.payload,
        "prev_hash": record.prev_hash,
        "hash": record.hash,
    }


@dataclass(frozen=True)
class Head:
    """The last record: its sequence number and hash (0 and GENESIS for an empty log)."""

    seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"

    @classmethod
    def parse(cls, text_: str) -> Head:
        """Read ``SEQ:HASH`` as printed by ``coord audit head``."""
        seq, _, digest = text_.partition(":")
        if not seq.isdigit() or len(digest) != 64:  # noqa: PLR2004 - a SHA-256 in hex
            raise ValueError("a head is SEQ:HASH, e.g. 42:3f5a... (64 hex digits)")
        return cls(int(seq), digest.lower())


async def head(session: AsyncSession) -> Head:
    """The current head of the log."""
    row = (
        await session.execute(
            select(EventRecord.seq, EventRecord.hash).order_by(EventRecord.seq.desc()).limit(1)
        )
    ).first()
    return Head(row.seq, row.hash) if row else Head(0, GENESIS)


async def append(session: AsyncSession, envelopes: Iterable[Envelope]) -> None:
    """Append envelopes at the end of the log, in order, when the caller's transaction commits.

    The records are written just before the commit, in one statement with every other
    record the transaction appended: the log's lock (PostgreSQL's advisory lock, taken
    then) is held for that statement and the commit only, not for the rest of the
    transaction, and it is always the last lock taken, so two writers cannot deadlock.
    """
    refuse_savepoint(session, "the event log")
    session.sync_session.info.setdefault(_PENDING_RECORDS, []).extend(envelopes)


def refuse_savepoint(session: AsyncSession, what: str) -> None:
    """Raise inside a savepoint: what is written at commit would outlive its rollback."""
    if session.in_nested_transaction():
        raise RuntimeError(f"{what} is written when the transaction commits: not in a savepoint")


@event.listens_for(Session, "before_commit")
def _write_pending(session: Session) -> None:
    # Runs inside the async session's greenlet, so the sync calls below await the driver.
    if session.in_nested_transaction():
        return  # a savepoint released (SQLAlchemy says so too): the records wait for the commit
    pending: list[Envelope] = session.info.pop(_PENDING_RECORDS, [])
    if not pending:
        return
    # Every row lock of the transaction first: a flush the commit did after the log's
    # lock could wait on a writer that waits on this lock.
    session.flush()
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY})
    last = session.execute(
        select(EventRecord.seq, EventRecord.hash).order_by(EventRecord.seq.desc()).limit(1)
    ).first()
    seq, prev = (last.seq, last.hash) if last else (0, GENESIS)
    now = utc_now()
    rows = []
    for envelope in pending:
        seq += 1
        row: dict[str, Any] = {
            "seq": seq,
            "event_id": str(envelope.id),
            "type": envelope.type,
            "schema_version": envelope.schema_version,
            "occurred_at": envelope.occurred_at,
            "recorded_at": now,
            "producer": envelope.producer,
            "actor": envelope.actor,
            "correlation_id": str(envelope.correlation_id),
            "causation_id": str(envelope.causation_id) if envelope.causation_id else None,
            "classification": envelope.classification.value,
            "payload": envelope.payload,
            "prev_hash": prev,
        }
        row["hash"] = prev = record_hash(row, payload_digest(row["payload"]), row["prev_hash"])
        rows.append(row)
    session.execute(insert(EventRecord), rows)


@event.listens_for(Session, "after_transaction_end")
def _forget_pending(session: Session, transaction: SessionTransaction) -> None:
    # A rolled-back transaction's records are not written by the next one (none are
    # appended in a savepoint: ``refuse_savepoint``).
    if transaction.parent is None:
        session.info.pop(_PENDING_RECORDS, None)


@dataclass(frozen=True)
class LogFilter:
    """Which records to read: logged since (inclusive) / until (exclusive), thread, type."""

    since: datetime | None = None
    until: datetime | None = None
    correlation_id: str | None = None
    type: str | None = None

    def as_strings(self) -> dict[str, str]:
        """The filters given, as ``audit.accessed`` records them (the thread as ``alert``)."""
        given = {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "alert": self.correlation_id,
            "type": self.type,
        }
        return {key: value for key, value in given.items() if value is not None}

    def apply(self, query: Select[_Rows]) -> Select[_Rows]:
        """``query`` narrowed to the matching records, in the database."""
        if self.since is not None:
            query = query.where(EventRecord.recorded_at >= self.since)
        if self.until is not None:
            query = query.where(EventRecord.recorded_at < self.until)
        if self.correlation_id is not None:
            query = query.where(EventRecord.correlation_id == self.correlation_id)
        if self.type is not None:
            query = query.where(EventRecord.type == self.type)
        return query


class LogRecord(Protocol):
    """A record as read back: an ``EventRecord``, or a plain row of its columns."""

    seq: int
    event_id: str
    type: str
    schema_version: int
    occurred_at: datetime
    recorded_at: datetime
    producer: str
    actor: str
    correlation_id: str
    causation_id: str | None
    classification: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str


async def records(
    session: AsyncSession,
    after_seq: int = 0,
    batch: int = 1000,
    where: LogFilter | None = None,
    up_to_seq: int | None = None,
) -> AsyncIterator[LogRecord]:
    """Every (matching) record after ``after_seq`` (up to ``up_to_seq``), in order.

    Streamed (a server-side cursor, ``batch`` rows at a time, so memory stays flat on
    a long log) as plain rows, not ORM entities: the identity map and the entity
    states cost a third of a verify's time, and nobody changes a log record
    (docs/performance.md).
    """
    columns = EventRecord.__table__.columns
    query = (where or LogFilter()).apply(select(*columns)).where(columns.seq > after_seq)
    if up_to_seq is not None:
        query = query.where(columns.seq <= up_to_seq)
    result = await session.stream(query.order_by(columns.seq))
    async for page in result.partitions(batch):
        for row in page:
            yield cast("LogRecord", row)


@dataclass(frozen=True)
class Problem:
    """The first record that breaks the chain, and how."""

    seq: int
    reason: str


class ChainCheck:
    """Checks records one after the other; the first problem is kept.

    Feed it database records (``add_record``) or exported lines (``add_fields``,
    where a redacted payload is represented by its ``payload_sha256``).
    """

    def __init__(self, start: Head = Head(0, GENESIS)) -> None:
        self.expected_seq = start.seq + 1
        self.prev = start.hash
        self.checked = 0
        self.problem: Problem | None = None

    def add_record(self, record: LogRecord) -> None:
        """Check one database record."""
        self.add_fields(fields_of(record), payload_digest(record.payload))

    def add_fields(self, fields: Mapping[str, Any], payload_sha256: str) -> None:
        """Check one record given as fields (an export line) and its payload digest."""
        if self.problem is not None:
            return
        seq = int(fields["seq"])
        if seq != self.expected_seq:
            what = "is missing (deleted?)" if seq > self.expected_seq else "it is out of order"
            self.problem = Problem(self.expected_seq, f"record {self.expected_seq} {what}")
            return
        if fields["prev_hash"] != self.prev:
            self.problem = Problem(
                seq, "it does not follow the record before it (inserted or moved?)"
            )
            return
        if record_hash(fields, payload_sha256, self.prev) != fields["hash"]:
            self.problem = Problem(seq, "its content does not match its hash (altered?)")
            return
        self.prev = str(fields["hash"])
        self.expected_seq += 1
        self.checked += 1

    @property
    def head(self) -> Head:
        """The last record checked so far."""
        return Head(self.expected_seq - 1, self.prev)


async def verify(
    session: AsyncSession,
    expected: Head | None = None,
    on_record: Callable[[LogRecord], None] | None = None,
) -> ChainCheck:
    """Check the whole chain; with ``expected`` (a recorded head), also that it is still there.

    A log cut after the recorded head, or rewritten before it, shows as a problem
    at the recorded sequence number.
    """
    check = ChainCheck()
    async for record in records(session):
        check.add_record(record)
        if on_record is not None:
            on_record(record)
        if check.problem is not None:
            break
        if expected is not None and record.seq == expected.seq and record.hash != expected.hash:
            check.problem = Problem(expected.seq, "it differs from the recorded head")
            break
    if check.problem is None and expected is not None and check.head.seq < expected.seq:
        check.problem = Problem(
            check.head.seq + 1, f"the log ends before the recorded head {expected.seq}"
        )
    return check
