"""``coord cap export`` as an operator runs it: a subprocess against the database ingest
wrote, the same message as ``GET /v1/alerts/{id}.cap``, under the same need-to-know."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import pytest
from lxml import etree

from services.ingest.cap.schema import schema_errors
from shared.auth import mint_token
from shared.settings import DEV_JWT_SECRET
from tests.e2e.system import coord_bin
from tests.support.builders import SOURCE, alert_request
from tests.support.database import Database
from tests.support.directories import DEMO_DIRECTORY, EXAMPLE_DIRECTORY, REPO_ROOT
from tests.support.ingest_client import ingest_client
from tests.support.tokens import JWT_SECRET, bearer

pytestmark = pytest.mark.integration


async def coord_cap(
    db: Database, *args: str, person: str | None, directory: Path = EXAMPLE_DIRECTORY
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("COORD_")}
    env = {
        **clean,
        "COORD_ENV": "development",
        "COORD_DATABASE_URL": db.url,
        "COORD_DIRECTORY": str(directory),
        "COORD_CAP_SENDER": "joc@monusco.example",
    }
    if person is not None:
        env["COORD_TOKEN"] = mint_token(person, DEV_JWT_SECRET)
    return await asyncio.to_thread(
        subprocess.run,
        [coord_bin(), "cap", *args],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_export_prints_the_api_s_message_and_keeps_need_to_know(
    db: Database, tmp_path: Path
) -> None:
    async with ingest_client(db, JWT_SECRET, cap_sender="joc@monusco.example") as client:
        raised = await client.post(
            "/v1/alerts", json=alert_request(source=SOURCE, sector="north"), headers=bearer()
        )
        assert raised.status_code == 201, raised.text
        alert_id = raised.json()["id"]
        over_http = (await client.get(f"/v1/alerts/{alert_id}.cap", headers=bearer())).content

    printed, written, hidden, anonymous = await asyncio.gather(
        coord_cap(db, "export", alert_id, person="jo.operator"),
        coord_cap(db, "export", alert_id, "-o", str(tmp_path / "alert.xml"), person="jo.operator"),
        coord_cap(db, "export", alert_id, person="col.okafor"),  # beni only; the alert is north
        coord_cap(db, "export", alert_id, person=None),
    )

    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.strip().encode() == over_http
    assert schema_errors(etree.fromstring(over_http)) == []
    assert SOURCE["contact"] not in printed.stdout
    assert written.returncode == 0, written.stderr
    assert (tmp_path / "alert.xml").read_bytes() == over_http
    assert (hidden.returncode, hidden.stdout) == (1, "")
    assert f"no alert {alert_id}" in hidden.stderr
    assert anonymous.returncode == 2
    assert "COORD_TOKEN" in anonymous.stderr


async def test_import_raises_partner_alerts_once_and_names_what_it_refuses(db: Database) -> None:
    partners = REPO_ROOT / "tests" / "data" / "cap" / "partners"
    hostile = REPO_ROOT / "tests" / "data" / "cap" / "hostile"
    abduction, billion = partners / "child-abduction.xml", hostile / "billion-laughs.xml"

    first = await coord_cap(
        db, "import", str(abduction), person="jo.operator", directory=DEMO_DIRECTORY
    )
    again, mixed = await asyncio.gather(
        coord_cap(db, "import", str(abduction), person="jo.operator", directory=DEMO_DIRECTORY),
        coord_cap(db, "import", str(billion), person="jo.operator", directory=DEMO_DIRECTORY),
    )

    assert first.returncode == 0, first.stderr
    [alert_id] = first.stdout.strip().rsplit(": ", 1)[1].split()
    assert first.stdout.startswith(f"{abduction}: imported: ")
    assert again.stdout.strip() == f"{abduction}: imported before: {alert_id}"
    assert mixed.returncode == 1
    assert "a DTD (<!DOCTYPE ...>) is not accepted" in mixed.stderr
    async with ingest_client(db, JWT_SECRET) as client:
        view = await client.get(f"/v1/alerts/{alert_id}", headers=bearer())
    assert (view.json()["origin"], view.json()["category"]) == ("partner", "abduction")
