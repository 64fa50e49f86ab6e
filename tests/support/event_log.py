"""A sample event log and an attacker's raw-SQL access to it (both backends).

``sample_batches`` / ``write_log`` build the log that test_event_log_tamper.py
tampers with and test_audit_cli.py audits: 30 records in 8 transactions, one
alert thread per transaction, with unicode, floats, non-UTC times and one
protected ``source``. ``run_sql`` and friends change ``router_event_log`` as
someone with database access would, bypassing the application.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from unittest.mock import patch
from uuid import UUID, uuid4

from sqlalchemy import text
from sqlalchemy.sql.elements import TextClause

from shared.envelope import Classification, Envelope
from shared.event_log import Head, append, head
from tests.support.database import Database

# --------------------------------------------------------------------------- the sample log

SOURCE = {"name": "Mama Zawadi", "contact": "+243 999 000 111"}
BATCH_SIZES = (4, 3, 5, 2, 4, 3, 5, 4)  # one transaction each: 30 records
SOURCE_BATCH = 2  # the alert.raised of this batch (seq 8) carries SOURCE
TOTAL = sum(BATCH_SIZES)
FOLLOW_UPS = (
    "alert.triggered",
    "notification.requested",
    "notification.delivered",
    "alert.add_note",
)
TITLES = (
    "Hommes armés près de Mavivi",
    "Watu wenye silaha karibu na Oicha",
    "Déplacés à Île Mbiye — 200 familles",
    "Incendie 🔥 au marché de Beni",
)
OCCURRED = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
KINSHASA = timezone(timedelta(hours=1))


def marker(seq: int) -> str:
    """A text unique to the payload of record ``seq`` (the place to change one byte)."""
    return f"m-{seq:02d}"


def first_seqs() -> list[int]:
    """The seq of each batch's first record (its alert.raised)."""
    return [1 + sum(BATCH_SIZES[:b]) for b in range(len(BATCH_SIZES))]


def batch_seqs(batch: int) -> list[int]:
    """The seqs of one batch's records."""
    first = first_seqs()[batch]
    return list(range(first, first + BATCH_SIZES[batch]))


def alert_raised_payload(seq: int, batch: int, alert_id: UUID) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "marker": marker(seq),
        "alert_id": str(alert_id),
        "title": TITLES[batch % len(TITLES)],
        "category": "abduction",
        "severity": "severe",
        "sector": "beni",
        "location": {"name": "Mavivi", "lat": 0.55 + batch / 100, "lon": 29.4731},
        "origin": "community",
    }
    if batch == SOURCE_BATCH:
        payload["source"] = dict(SOURCE)
    return payload


def follow_up_payload(seq: int, position: int, alert_id: UUID) -> dict[str, Any]:
    return {
        "marker": marker(seq),
        "alert_id": str(alert_id),
        "level": position,
        "score": position * 0.1,  # 0.30000000000000004 and friends
        "tiny": 1e-7,
        "big": 2**60 + position,
        "note": "Reçu — asante sana ✓",
        "targets": ["awa.hfo", "col.okafor"][: position % 3],
        "escalated": position % 2 == 0,
        "reason": None,
    }


def sample_batches(start_seq: int = 1) -> tuple[list[list[Envelope]], list[UUID]]:
    """The envelopes of the sample log, batch by batch, and each batch's alert id."""
    batches: list[list[Envelope]] = []
    alerts: list[UUID] = []
    seq = start_seq
    for batch, size in enumerate(BATCH_SIZES):
        alert_id = uuid4()
        alerts.append(alert_id)
        envelopes: list[Envelope] = []
        for position in range(size):
            occurred = OCCURRED + timedelta(minutes=seq, microseconds=seq * 7)
            envelopes.append(
                Envelope(
                    type="alert.raised" if position == 0 else FOLLOW_UPS[position - 1],
                    occurred_at=occurred.astimezone(KINSHASA) if seq % 2 else occurred,
                    producer="ingest" if position == 0 else "router",
                    actor=("jo.operator", "awa.hfo", "router")[position % 3],
                    correlation_id=alert_id,
                    causation_id=envelopes[-1].id if envelopes else None,
                    classification=(
                        Classification.STRICTLY_CONFIDENTIAL
                        if batch == SOURCE_BATCH
                        else Classification.CONFIDENTIAL
                    ),
                    payload=(
                        alert_raised_payload(seq, batch, alert_id)
                        if position == 0
                        else follow_up_payload(seq, position, alert_id)
                    ),
                )
            )
            seq += 1
        batches.append(envelopes)
    return batches, alerts


async def write_log(
    db: Database,
    batches: Sequence[Sequence[Envelope]],
    recorded_at: Sequence[datetime] | None = None,
) -> None:
    """Append each batch in its own transaction (recorded at ``recorded_at[i]`` if given)."""
    for index, batch in enumerate(batches):
        with patch(
            "shared.event_log.utc_now",
            return_value=recorded_at[index] if recorded_at else datetime.now(UTC),
        ):
            async with db.sessions() as session, session.begin():
                await append(session, batch)


async def current_head(db: Database) -> Head:
    async with db.sessions() as session:
        return await head(session)


# --------------------------------------------------------------------------- raw SQL (attacker)

SET_PAYLOAD_TEXT = {
    "sqlite": text("UPDATE router_event_log SET payload = :payload WHERE seq = :seq"),
    "postgresql": text(
        "UPDATE router_event_log SET payload = CAST(:payload AS JSON) WHERE seq = :seq"
    ),
}


async def run_sql(db: Database, *statements: str | TextClause, **params: Any) -> None:
    """Execute statements in one transaction, as someone with database access would."""
    async with db.engine.begin() as connection:
        for statement in statements:
            clause = text(statement) if isinstance(statement, str) else statement
            await connection.execute(clause, params)


async def payload_text(db: Database, seq: int) -> str:
    """The payload as the database stores it (JSON text)."""
    async with db.engine.connect() as connection:
        result = await connection.execute(
            text("SELECT CAST(payload AS TEXT) FROM router_event_log WHERE seq = :seq"),
            {"seq": seq},
        )
        return str(result.scalar_one())


async def set_payload_text(db: Database, seq: int, value: str) -> None:
    await run_sql(db, SET_PAYLOAD_TEXT[db.backend], payload=value, seq=seq)


async def flip_one_payload_byte(db: Database, seq: int) -> str:
    """Change one character of record ``seq``'s stored payload; the new JSON text."""
    before = await payload_text(db, seq)
    after = before.replace(marker(seq), "n" + marker(seq)[1:])
    assert len(after) == len(before)
    assert sum(a != b for a, b in zip(before, after, strict=True)) == 1
    await set_payload_text(db, seq, after)
    return after
