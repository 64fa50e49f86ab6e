"""The ``coord`` command line as users run it (a subprocess of .venv/bin/coord)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import jwt
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from coord.migrate import alembic_config
from coord.report_commands import CSV_COLUMNS
from coord.schema import metadata
from services.ingest.alerts.tables import AlertViewRecord
from services.ingest.recommendations.tables import RecommendationViewRecord
from shared.auth import InvalidToken, mint_token, subject_of
from shared.db import create_engine
from shared.settings import DEV_JWT_SECRET
from tests.support.cli import run_coord
from tests.support.database import Database

pytestmark = pytest.mark.integration

JWT_SECRET = "cli-test-jwt-secret-" + "0123456789abcdef" * 3
# `coord report` checks who runs it: a senior civilian of the demo directory.
READER_TOKEN = mint_token("awa.hfo", DEV_JWT_SECRET)


def test_token_verifies_with_the_secret() -> None:
    result = run_coord("token", "awa.hfo", "--ttl", "120", COORD_JWT_SECRET=JWT_SECRET)
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert subject_of(token, JWT_SECRET) == "awa.hfo"
    claims = jwt.decode(token, JWT_SECRET, algorithms=["HS256"])
    assert claims["exp"] - claims["iat"] == 120
    with pytest.raises(InvalidToken):
        subject_of(token, "not-the-secret-" + "0123456789abcdef" * 3)


def test_token_refuses_a_lifetime_no_service_would_accept() -> None:
    limit = {"COORD_TOKEN_MAX_LIFETIME": "3600"}
    result = run_coord("token", "awa.hfo", "--ttl", "3601", **limit)
    assert result.returncode != 0
    assert "--ttl" in result.stderr
    assert "COORD_TOKEN_MAX_LIFETIME" in result.stderr
    assert "(3600)" in result.stderr  # rich may wrap the line between the two
    assert result.stdout == ""


def head_revision() -> str:
    """The newest migration (revision numbers need not follow the files' order)."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


async def schema_of(url: str) -> tuple[set[str], list[str]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
            versions = await connection.execute(text("select version_num from alembic_version"))
            return tables, [row[0] for row in versions]
    finally:
        await engine.dispose()


async def test_db_upgrade_on_a_fresh_sqlite_file_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "new" / "folder" / "coord.db"
    url = f"sqlite+aiosqlite:///{path}"
    for _ in range(2):
        result = await asyncio.to_thread(run_coord, "db", "upgrade", COORD_DATABASE_URL=url)
        assert result.returncode == 0, result.stderr
        assert "database at revision head" in result.stdout
        assert path.is_file()
        tables, versions = await schema_of(url)
        assert set(metadata.tables) <= tables
        assert versions == [head_revision()]


# --------------------------------------------------------------------------- coord report

SUBMITTED = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def recommendation_row(
    sector: str, response: str, reason: str | None = None
) -> RecommendationViewRecord:
    """A recommendation issued to col.okafor, acknowledged after 10 min, answered after 30."""
    return RecommendationViewRecord(
        recommendation_id=str(uuid4()),
        author="jo.operator",
        addressee={"role": "sector_commander"},
        sector=sector,
        action="Patrol",
        rationale="Abductions",
        due_by=SUBMITTED + timedelta(hours=1),
        alert_id=None,
        classification="unclassified",
        submitted_at=SUBMITTED,
        status=response,
        addressees=["col.okafor"],
        addressee_component="military",
        acknowledged_by="col.okafor",
        acknowledged_at=SUBMITTED + timedelta(minutes=10),
        response=response,
        reason=reason,
        responded_by="col.okafor",
        responded_at=SUBMITTED + timedelta(minutes=30),
        escalated_at=None,
        escalated_to=[],
        version=3,
    )


@pytest.fixture
async def report_db(db: Database) -> Database:
    """A migrated database with two answered recommendations and one alert."""
    async with db.sessions() as session, session.begin():
        session.add(recommendation_row("beni", "declined", 'No troops, commas, "quotes"'))
        session.add(recommendation_row("north", "accepted"))
        session.add(
            AlertViewRecord(
                alert_id="00000000-0000-4000-8000-000000000001",
                status="acknowledged",
                title="Abduction",
                description="",
                category="abduction",
                severity="severe",
                urgency="immediate",
                certainty="observed",
                sector="beni",
                location={"name": "Mavivi"},
                origin="community",
                classification="unclassified",
                raised_by="jo.operator",
                raised_at=SUBMITTED,
                policy_id="poc-urgent",
                level=1,
                targets=["awa.hfo"],
                version=2,
                loop=0,
                acknowledgements=[
                    {"person_id": "awa.hfo", "component": "civilian", "at": "2026-11-23T08:04:00Z"}
                ],
            )
        )
    return db


async def test_report_recommendations_as_json(report_db: Database) -> None:
    result = await asyncio.to_thread(
        run_coord,
        "report", "recommendations", "--format", "json", "--since", "2026-11-23",
        COORD_DATABASE_URL=report_db.url, COORD_TOKEN=READER_TOKEN,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["since"] == "2026-11-23T00:00:00Z"
    section = report["recommendations"]
    assert [(g["sector"], g["addressee_component"]) for g in section["groups"]] == [
        ("beni", "military"),
        ("north", "military"),
    ]
    totals = section["totals"]
    assert (totals["issued"], totals["acknowledged_in_time"]) == (2, 2)
    assert (totals["accepted"], totals["declined"]) == (1, 1)
    assert totals["declined_reasons"] == ['No troops, commas, "quotes"']
    assert totals["median_seconds_to_acknowledge"] == 600
    assert totals["median_seconds_to_respond"] == 1800
    alerts = report["alerts"]["totals"]
    assert (alerts["raised"], alerts["acknowledged"]) == (1, 1)
    assert (
        alerts["median_seconds_to_acknowledge"],
        alerts["share_acknowledged_at_first_level"],
    ) == (
        240,
        1.0,
    )

    later = await asyncio.to_thread(
        run_coord,
        "report", "recommendations", "--format", "json", "--since", "2026-11-24T00:00:00+00:00",
        "--sector", "beni",
        COORD_DATABASE_URL=report_db.url, COORD_TOKEN=READER_TOKEN,
    )  # fmt: skip
    assert later.returncode == 0, later.stderr
    assert json.loads(later.stdout)["recommendations"]["groups"] == []


async def test_report_recommendations_as_csv(report_db: Database) -> None:
    result = await asyncio.to_thread(
        run_coord,
        "report", "recommendations", "--format", "csv", "--sector", "beni",
        COORD_DATABASE_URL=report_db.url, COORD_TOKEN=READER_TOKEN,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    reader = csv.DictReader(io.StringIO(result.stdout))
    assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
    rows = list(reader)
    assert [(r["section"], r["sector"], r["addressee_component"]) for r in rows] == [
        ("recommendations", "beni", "military"),
        ("recommendations", "*", "*"),
        ("alerts", "beni", ""),
        ("alerts", "*", ""),
    ]
    beni = rows[0]
    assert (beni["issued"], beni["declined"], beni["accepted"]) == ("1", "1", "0")
    assert beni["declined_reasons"] == 'No troops, commas, "quotes"'
    assert rows[2]["raised"] == "1"
    assert rows[2]["escalations"] == "0"


async def test_report_on_a_database_without_the_schema_fails_clearly(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    result = await asyncio.to_thread(
        run_coord, "report", "recommendations", COORD_DATABASE_URL=url, COORD_TOKEN=READER_TOKEN
    )
    assert result.returncode == 1
    assert "coord db upgrade" in result.stderr


async def test_report_is_refused_to_a_focal_point(report_db: Database) -> None:
    result = await asyncio.to_thread(
        run_coord,
        "report",
        "recommendations",
        COORD_DATABASE_URL=report_db.url,
        COORD_TOKEN=mint_token("col.okafor", DEV_JWT_SECRET),
    )
    assert result.returncode == 2
    assert "col.okafor (sector_commander) may not report" in result.stderr
    assert result.stdout == ""
