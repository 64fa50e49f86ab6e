"""``coord audit`` as auditors run it: a subprocess against a real log (both backends).

Each command that reads the log first publishes ``audit.accessed``; the tests bind
a queue of their own to ``coord.events`` in the test's vhost to read those.
CLI runs cost seconds each: independent ones run concurrently.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest
from aio_pika.abc import AbstractQueue

from shared.audit_export import exported, read_export, to_json_line, verify_export
from shared.auth import mint_token
from shared.contracts import AUDIT_ACCESSED
from shared.envelope import Envelope
from shared.event_log import Head, records
from shared.settings import DEV_JWT_SECRET
from tests.support.broker import tapped
from tests.support.database import Database
from tests.support.directories import REPO_ROOT
from tests.support.event_log import (
    BATCH_SIZES,
    SOURCE,
    SOURCE_BATCH,
    TOTAL,
    batch_seqs,
    current_head,
    first_seqs,
    flip_one_payload_byte,
    marker,
    run_sql,
    sample_batches,
    write_log,
)

pytestmark = pytest.mark.integration

DIRECTORY = REPO_ROOT / "deploy" / "directory.yaml"  # has a cleared auditor, oios.chief
RECORDED = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # batch i is recorded i hours later
SOURCE_SEQ = first_seqs()[SOURCE_BATCH]
SECRETS = (SOURCE["name"], SOURCE["contact"], "999 000 111")
LOGIN_ACTOR = "audit.one"  # the auditor COORD_TOKEN names unless a test says otherwise


# --------------------------------------------------------------------------- helpers


def coord_bin() -> str:
    candidate = Path(sys.executable).parent / "coord"
    return str(candidate if candidate.exists() else REPO_ROOT / ".venv" / "bin" / "coord")


@dataclass
class AuditLog:
    """The sample log in a migrated database, and how the CLI reaches it."""

    db: Database
    env: dict[str, str]
    alerts: list[UUID]
    head: Head


async def coord(log: AuditLog, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``coord <args>`` against the log (in a thread: the event loop stays free)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("COORD_")}
    return await asyncio.to_thread(
        subprocess.run,
        [coord_bin(), *args],
        env={
            **clean,
            "COORD_ENV": "development",  # the published secrets sign the tokens
            "COORD_LOG_FORMAT": "console",
            "COORD_TOKEN": mint_token(LOGIN_ACTOR, DEV_JWT_SECRET),
            **log.env,
            **env,
        },
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def broken_at(result: subprocess.CompletedProcess[str]) -> int:
    """The seq named by a failed verification."""
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.startswith("BROKEN at seq "), result.stdout
    return int(result.stdout.removeprefix("BROKEN at seq ").split(":")[0])


def export_items(text: str) -> dict[int, dict[str, object]]:
    """An export's records by seq."""
    return {int(item["seq"]): item for item in read_export(text)}


def edited(path: Path, old: str, new: str) -> Path:
    """A copy of an export with ``old`` (present once) replaced by ``new``."""
    content = path.read_text(encoding="utf-8")
    assert content.count(old) == 1
    copy = path.with_name("edited-" + path.name)
    copy.write_text(content.replace(old, new), encoding="utf-8")
    return copy


class Accesses:
    """The ``audit.accessed`` envelopes published in the test's vhost."""

    def __init__(self, queue: AbstractQueue) -> None:
        self._queue = queue

    async def drain(self) -> list[Envelope]:
        found = []
        while (message := await self._queue.get(no_ack=True, fail=False)) is not None:
            found.append(Envelope.model_validate_json(message.body))
        assert {e.type for e in found} <= {AUDIT_ACCESSED}
        return found

    async def payloads(self) -> list[dict[str, object]]:
        """The payloads drained, in a fixed order (the commands ran concurrently)."""
        envelopes = await self.drain()
        for envelope in envelopes:
            assert envelope.producer == "coord-cli"
            assert envelope.actor == envelope.payload["person_id"]
            assert envelope.payload["via"] == "cli"
        return ordered(*(e.payload for e in envelopes))


def access(
    action: str, person: str = LOGIN_ACTOR, revealed: bool = False, **filters: str
) -> dict[str, object]:
    """The payload of one expected ``audit.accessed``."""
    return {
        "person_id": person,
        "via": "cli",
        "action": action,
        "filters": filters,
        "protected_revealed": revealed,
    }


def ordered(*payloads: dict[str, object]) -> list[dict[str, object]]:
    """Payloads in a fixed order, to compare sets of accesses."""
    return sorted(payloads, key=lambda p: json.dumps(p, sort_keys=True))


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
async def audit_log(db: Database, amqp_url: str) -> AuditLog:
    batches, alerts = sample_batches()
    await write_log(db, batches, [RECORDED + timedelta(hours=i) for i in range(len(batches))])
    env = {
        "COORD_DATABASE_URL": db.url,
        "COORD_AMQP_URL": amqp_url,
        "COORD_DIRECTORY": str(DIRECTORY),
    }
    return AuditLog(db, env, alerts, await current_head(db))


@pytest.fixture
async def accesses(amqp_url: str) -> AsyncIterator[Accesses]:
    """A queue of the test's own bound to ``audit.accessed``."""
    async with tapped(amqp_url, "test.audit-accessed", AUDIT_ACCESSED) as queue:
        yield Accesses(queue)


# --------------------------------------------------------------------------- verify and head


async def test_head_and_verify_print_the_chain_and_each_is_recorded(
    audit_log: AuditLog, accesses: Accesses
) -> None:
    head, verified = await asyncio.gather(
        coord(audit_log, "audit", "head"), coord(audit_log, "audit", "verify")
    )
    assert ok(head).strip() == str(audit_log.head)
    assert audit_log.head.seq == TOTAL
    assert ok(verified).strip() == f"ok: {TOTAL} records chained, head {audit_log.head}"
    assert await accesses.payloads() == ordered(access("head"), access("verify", head=""))


async def test_verify_exits_1_naming_the_cut_and_the_altered_record(
    audit_log: AuditLog, accesses: Accesses
) -> None:
    recorded = str(audit_log.head)
    await run_sql(audit_log.db, "DELETE FROM router_event_log WHERE seq = :seq", seq=TOTAL)
    chain_alone, against_head = await asyncio.gather(
        coord(audit_log, "audit", "verify"),
        coord(audit_log, "audit", "verify", "--head", recorded),
    )
    assert ok(chain_alone).startswith(f"ok: {TOTAL - 1} records chained, head {TOTAL - 1}:")
    assert broken_at(against_head) == TOTAL
    assert f"recorded head {TOTAL}" in against_head.stdout

    await flip_one_payload_byte(audit_log.db, 12)
    altered, in_ranges = await asyncio.gather(
        coord(audit_log, "audit", "verify"), coord(audit_log, "audit", "verify", "--jobs", "3")
    )
    assert broken_at(altered) == 12
    assert "does not match its hash" in altered.stdout
    assert in_ranges.stdout == altered.stdout

    assert await accesses.payloads() == ordered(
        access("verify", head=""),
        access("verify", head=recorded),
        access("verify", head=""),
        access("verify", head=""),
    )


# --------------------------------------------------------------------------- export


async def test_export_round_trips_with_the_source_redacted(
    audit_log: AuditLog, accesses: Accesses, tmp_path: Path
) -> None:
    jsonl, csv = tmp_path / "export.jsonl", tmp_path / "export.csv"
    to_stdout, to_file = await asyncio.gather(
        coord(audit_log, "audit", "export"),
        coord(audit_log, "audit", "export", "--format", "csv", "--output", str(csv)),
    )
    jsonl.write_text(ok(to_stdout), encoding="utf-8")
    assert ok(to_file) == ""
    assert csv.read_text(encoding="utf-8").startswith("seq,event_id,")

    for path in (jsonl, csv):
        text = path.read_text(encoding="utf-8")
        items = export_items(text)
        assert list(items) == list(range(1, TOTAL + 1))
        assert items[SOURCE_SEQ]["payload"]["source"] == "[redacted]"  # type: ignore[index]
        assert items[SOURCE_SEQ]["redacted"] == ["source"]
        assert all(items[s]["redacted"] == [] for s in items if s != SOURCE_SEQ)
        assert not [secret for secret in SECRETS if secret in text]

    results = await asyncio.gather(
        coord(audit_log, "audit", "verify", "--file", str(jsonl)),
        coord(audit_log, "audit", "verify", "--file", str(csv)),
        coord(audit_log, "audit", "verify", "--file", str(edited(jsonl, marker(12), "n-12"))),
        coord(audit_log, "audit", "verify", "--file", str(edited(csv, marker(20), "m-2O"))),
    )
    assert ok(results[0]).strip() == f"ok: {TOTAL} records chained"
    assert ok(results[1]).strip() == f"ok: {TOTAL} records chained"
    assert (broken_at(results[2]), broken_at(results[3])) == (12, 20)

    # verify --file reads no log: only the two exports were recorded
    assert await accesses.payloads() == ordered(access("export"), access("export"))


async def test_export_reveals_the_source_only_to_strictly_confidential_clearance(
    audit_log: AuditLog, accesses: Accesses
) -> None:
    as_cleared, as_confidential = await asyncio.gather(
        coord(audit_log, "audit", "export", COORD_TOKEN=mint_token("oios.chief", DEV_JWT_SECRET)),
        coord(audit_log, "audit", "export"),
    )
    revealed = export_items(ok(as_cleared))
    assert revealed[SOURCE_SEQ]["payload"]["source"] == SOURCE  # type: ignore[index]
    assert revealed[SOURCE_SEQ]["redacted"] == []
    assert all(secret in as_cleared.stdout for secret in SECRETS)
    redacted = export_items(ok(as_confidential))
    assert redacted[SOURCE_SEQ]["payload"]["source"] == "[redacted]"  # type: ignore[index]
    assert not [secret for secret in SECRETS if secret in as_confidential.stdout]

    assert verify_export(revealed.values()) == (TOTAL, None)
    assert verify_export(redacted.values()) == (TOTAL, None)

    assert await accesses.payloads() == ordered(
        access("export", person="oios.chief", revealed=True),
        access("export", person="audit.one"),
    )


async def test_export_filters_by_alert_type_and_recorded_time(
    audit_log: AuditLog, accesses: Accesses
) -> None:
    alert = str(audit_log.alerts[5])
    since, until = (RECORDED + timedelta(hours=2)).isoformat(), "2026-11-24T14:00:00"
    by_alert, by_type, by_time = await asyncio.gather(
        coord(audit_log, "audit", "export", "--alert", alert),
        coord(audit_log, "audit", "export", "--type", "alert.raised"),
        coord(audit_log, "audit", "export", "--format", "csv", "--since", since, "--until", until),
    )
    expected = {
        "alert": (by_alert, batch_seqs(5)),
        "type": (by_type, first_seqs()),
        "time": (by_time, batch_seqs(2) + batch_seqs(3) + batch_seqs(4)),  # 11:00 to 14:00
    }
    for name, (result, seqs) in expected.items():
        items = list(read_export(ok(result)))
        assert [item["seq"] for item in items] == seqs, name
        assert verify_export(items) == (len(seqs), None), name  # gaps are not errors
    assert len(first_seqs()) == len(BATCH_SIZES)

    assert await accesses.payloads() == ordered(
        access("export", alert=alert),
        access("export", type="alert.raised"),
        access("export", since=since, until=until),
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_export_refuses_when_the_access_cannot_be_recorded(
    audit_log: AuditLog, tmp_path: Path
) -> None:
    output = tmp_path / "never.jsonl"
    unreachable = {"COORD_AMQP_URL": "amqp://guest:guest@127.0.0.1:1/"}
    to_stdout, to_file = await asyncio.gather(
        coord(audit_log, "audit", "export", **unreachable),
        coord(audit_log, "audit", "export", "--output", str(output), **unreachable),
    )
    for result in (to_stdout, to_file):
        assert result.returncode == 1
        assert "cannot record this access" in result.stderr
        assert result.stdout == ""
    assert not output.exists()


# --------------------------------------------------------------------------- known gaps


async def test_an_edit_to_the_visible_part_of_a_redacted_record_is_detected(
    audit_log: AuditLog,
) -> None:
    async with audit_log.db.sessions() as session:
        lines = [to_json_line(exported(r, reveal_protected=False)) async for r in records(session)]
    export = "\n".join(lines)
    assert verify_export(read_export(export)) == (TOTAL, None)

    tampered = export.replace(marker(SOURCE_SEQ), "n" + marker(SOURCE_SEQ)[1:])
    checked, problem = verify_export(read_export(tampered))
    assert problem is not None
    assert (checked, problem.seq) == (SOURCE_SEQ - 1, SOURCE_SEQ)


@pytest.mark.parametrize(
    ("person", "says"),
    [
        pytest.param("grace.dsrsg", "grace.dsrsg (dsrsg) may not audit", id="senior-civilian"),
        pytest.param("ops.admin", "ops.admin (directory_admin) may not audit", id="admin"),
    ],
)
async def test_only_auditors_run_the_audit_commands(
    audit_log: AuditLog, accesses: Accesses, person: str, says: str
) -> None:
    token = mint_token(person, DEV_JWT_SECRET)
    results = await asyncio.gather(
        coord(audit_log, "audit", "export", COORD_TOKEN=token),
        coord(audit_log, "audit", "verify", COORD_TOKEN=token),
        coord(audit_log, "audit", "head", COORD_TOKEN=token),
    )
    for result in results:
        assert result.returncode == 2, result.stdout + result.stderr
        assert says in result.stderr
        assert result.stdout == ""
    assert await accesses.payloads() == []
