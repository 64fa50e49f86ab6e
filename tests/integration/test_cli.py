"""The ``coord`` command line as users run it (a subprocess of .venv/bin/coord)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import jwt
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from coord.migrate import alembic_config
from coord.schema import metadata
from shared.auth import InvalidToken, subject_of
from shared.db import create_engine
from tests.unit.helpers import REPO_ROOT

pytestmark = pytest.mark.integration

JWT_SECRET = "cli-test-jwt-secret-" + "0123456789abcdef" * 3


def coord_bin() -> str:
    candidate = Path(sys.executable).parent / "coord"
    return str(candidate if candidate.exists() else REPO_ROOT / ".venv" / "bin" / "coord")


def run_coord(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("COORD_")}
    return subprocess.run(
        [coord_bin(), *args],
        env={**clean, "COORD_LOG_FORMAT": "console", **env},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_token_verifies_with_the_secret() -> None:
    result = run_coord("token", "awa.hfo", "--ttl", "120", COORD_JWT_SECRET=JWT_SECRET)
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert subject_of(token, JWT_SECRET) == "awa.hfo"
    claims = jwt.decode(token, JWT_SECRET, algorithms=["HS256"])
    assert claims["exp"] - claims["iat"] == 120
    with pytest.raises(InvalidToken):
        subject_of(token, "not-the-secret-" + "0123456789abcdef" * 3)


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
