"""CAP 1.2 import over HTTP (``POST /v1/cap``): partner warnings become alerts as
docs/cap.md maps them; the same message twice is one alert; hostile or unusable XML is
refused naming the problem, with nothing written. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import select

from services.ingest.alerts.tables import AlertViewRecord, CapImportRecord, TimelineRecord
from services.ingest.tables import OUTBOX
from shared.contracts.alerts import Category
from shared.directory import Directory
from shared.envelope import Classification, Envelope
from shared.partners import Partner, token_digest
from tests.support.builders import alert_request
from tests.support.database import Database
from tests.support.directories import DEMO_DIRECTORY, REPO_ROOT
from tests.support.ingest_client import ingest_client
from tests.support.tokens import JWT_SECRET, bearer

pytestmark = pytest.mark.integration

CAP = "application/cap+xml"
PARTNERS = REPO_ROOT / "tests" / "data" / "cap" / "partners"
HOSTILE = REPO_ROOT / "tests" / "data" / "cap" / "hostile"
MAX_BODY = 256 * 1024


def mission_directory() -> Directory:
    """The demo directory (sector outlines included) and what partners call Beni."""
    data: dict[str, Any] = yaml.safe_load(DEMO_DIRECTORY.read_text(encoding="utf-8"))
    data["cap_areas"] = {"beni": {"names": ["Beni"], "geocodes": ["ADM2=CD-NK-BENI"]}}
    return Directory.model_validate(data)


@pytest.fixture
async def client(db: Database) -> AsyncIterator[httpx.AsyncClient]:
    async with ingest_client(
        db, JWT_SECRET, directory=mission_directory(), cap_language="fr", max_body_bytes=MAX_BODY
    ) as client:
        yield client


async def imported(
    client: httpx.AsyncClient, data: bytes, person: str = "jo.operator"
) -> httpx.Response:
    return await client.post(
        "/v1/cap", content=data, headers=bearer(person) | {"Content-Type": CAP}
    )


async def views(
    client: httpx.AsyncClient, response: httpx.Response, person: str = "jo.operator"
) -> list[dict[str, Any]]:
    out = []
    for alert_id in response.json()["alert_ids"]:
        view = await client.get(f"/v1/alerts/{alert_id}", headers=bearer(person))
        assert view.status_code == 200, view.text
        out.append(view.json())
    return out


async def raised_events(db: Database) -> list[Envelope]:
    async with db.sessions() as session:
        rows = (await session.execute(OUTBOX.select().order_by(OUTBOX.c.position))).all()
    return [
        e
        for e in (Envelope.model_validate_json(bytes(r.body)) for r in rows)
        if e.type == "alert.raised"
    ]


async def nothing_written(db: Database) -> None:
    for table in (AlertViewRecord, TimelineRecord, CapImportRecord, OUTBOX):
        assert await db.count(table) == 0, table


# --------------------------------------------------------------------------- partners


async def test_a_weather_warning_becomes_one_alert_in_the_mission_s_language(
    db: Database, client: httpx.AsyncClient
) -> None:
    response = await imported(client, (PARTNERS / "weather-flood-warning.xml").read_bytes())
    assert response.status_code == 201, response.text
    assert response.json()["identifier"] == "CD-METTELSAT-2026-11-23-0042"
    [view] = await views(client, response)
    assert view["title"] == "Alerte crue : Semliki, territoire de Beni"
    # Met is not a protection category: "other", the partner's words kept first.
    assert view["category"] == "other"
    assert view["description"].startswith("[CAP Met: ")
    assert (view["severity"], view["urgency"], view["certainty"]) == (
        "severe",
        "expected",
        "likely",
    )
    assert (view["origin"], view["classification"]) == ("partner", "unclassified")
    assert view["sector"] == "beni"  # its geocode, from the directory's cap_areas
    assert view["location"]["lat"] == pytest.approx(0.5)
    assert view["location"]["lon"] == pytest.approx(29.5)
    assert view["raised_by"] == "jo.operator"


async def test_the_mission_s_language_picks_the_info_block(db: Database) -> None:
    titles = {}
    for language in ("fr", "en"):
        async with ingest_client(
            db, JWT_SECRET, directory=mission_directory(), cap_language=language
        ) as client:
            data = (PARTNERS / "weather-flood-warning.xml").read_bytes()
            data = data.replace(b"CD-METTELSAT-2026-11-23-0042", f"MET-{language}".encode())
            response = await imported(client, data)
            assert response.status_code == 201, response.text
            [view] = await views(client, response)
            titles[language] = view["title"]
    assert titles == {
        "fr": "Alerte crue : Semliki, territoire de Beni",
        "en": "Flood warning: Semliki, Beni territory",
    }


@pytest.mark.parametrize(
    ("fixture", "category", "sector", "point"),
    [
        ("evacuation-order.xml", "displacement", "beni", (0.55, 29.47)),
        ("child-abduction.xml", "abduction", "north", (0.70, 29.52)),
    ],
)
async def test_partner_alerts_are_mapped_and_placed_by_their_point(
    client: httpx.AsyncClient, fixture: str, category: str, sector: str, point: tuple[float, float]
) -> None:
    response = await imported(client, (PARTNERS / fixture).read_bytes())
    assert response.status_code == 201, response.text
    [view] = await views(client, response)
    assert (view["category"], view["sector"], view["origin"]) == (category, sector, "partner")
    assert (view["location"]["lat"], view["location"]["lon"]) == point
    if fixture == "evacuation-order.xml":  # the instruction follows the description
        assert view["description"].endswith("par la route principale.")
        assert view["severity"] == "extreme"


async def test_the_same_message_twice_is_one_alert(db: Database, client: httpx.AsyncClient) -> None:
    data = (PARTNERS / "child-abduction.xml").read_bytes()
    first = await imported(client, data)
    again = await imported(client, data)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert await db.count(AlertViewRecord) == 1
    assert len(await raised_events(db)) == 1  # one alert.raised: nobody paged twice


async def test_an_update_carries_its_incident_s_dedup_key(
    db: Database, client: httpx.AsyncClient
) -> None:
    for name in ("evacuation-order.xml", "evacuation-update.xml"):
        response = await imported(client, (PARTNERS / name).read_bytes())
        assert response.status_code == 201, response.text
    keys = [e.payload["dedup_key"] for e in await raised_events(db)]
    # The router folds the update into the order's alert (tests/integration/router).
    assert keys == ["cap:operations@protection-civile.example.cd:PC-NK-2026-0117"] * 2


# --------------------------------------------------------------------------- refused


@pytest.mark.parametrize("name", sorted(p.name for p in HOSTILE.glob("*.xml")))
async def test_hostile_xml_is_a_400_naming_it_and_nothing_is_written(
    db: Database, client: httpx.AsyncClient, name: str
) -> None:
    response = await imported(client, (HOSTILE / name).read_bytes())
    assert response.status_code == 400, response.text
    assert response.json()["detail"]
    assert "root:" not in response.text  # no file was read into the answer
    await nothing_written(db)


@pytest.mark.parametrize(
    ("fixture", "edit", "where"),
    [
        ("evacuation-cancel.xml", None, "msgType"),
        (
            "evacuation-order.xml",
            (b"<status>Actual</status>", b"<status>Exercise</status>"),
            "status",
        ),
        (
            "evacuation-order.xml",
            (b"<circle>0.55,29.47 3</circle>", b"<circle>-4.32,15.31 3</circle>"),
            "area",
        ),
    ],
)
async def test_valid_cap_that_cannot_become_an_alert_is_a_422_naming_the_element(
    db: Database,
    client: httpx.AsyncClient,
    fixture: str,
    edit: tuple[bytes, bytes] | None,
    where: str,
) -> None:
    data = (PARTNERS / fixture).read_bytes()
    if edit is not None:
        data = data.replace(*edit)
    response = await imported(client, data)
    assert response.status_code == 422, response.text
    assert where in str(response.json()["errors"][0]["loc"])
    await nothing_written(db)


async def test_wrong_media_type_or_too_large_a_body(
    db: Database, client: httpx.AsyncClient
) -> None:
    data = (PARTNERS / "child-abduction.xml").read_bytes()
    as_json = await client.post(
        "/v1/cap", content=data, headers=bearer() | {"Content-Type": "application/json"}
    )
    assert as_json.status_code == 415
    assert CAP in as_json.json()["detail"]
    huge = data.replace(b"</description>", b"x" * (10 * 1024 * 1024) + b"</description>")
    assert (await imported(client, huge)).status_code == 413
    assert (
        await client.post("/v1/cap", content=data, headers={"Content-Type": CAP})
    ).status_code == 401
    await nothing_written(db)


async def test_only_people_who_may_raise_alerts_import(
    db: Database, client: httpx.AsyncClient
) -> None:
    data = (PARTNERS / "child-abduction.xml").read_bytes()
    response = await imported(client, data, person="audit.one")
    assert response.status_code == 403
    await nothing_written(db)


# --------------------------------------------------------------------------- partners sending

CIVIL_PROTECTION, FEED_ONLY, NORTH_ONLY = (
    "civil-protection-token-0123456789",
    "feed-only-partner-token-0123456789",
    "north-only-partner-token-0123456789",
)


def with_sending_partners() -> Directory:
    partners = [
        Partner(id="protection-civile", name="Protection civile Nord-Kivu",
                token_sha256=token_digest(CIVIL_PROTECTION), may_import=True),
        Partner(id="ocha", name="OCHA", token_sha256=token_digest(FEED_ONLY)),
        Partner(id="wfp-north", name="WFP North", token_sha256=token_digest(NORTH_ONLY),
                sectors=["north"], may_import=True),
    ]  # fmt: skip
    return mission_directory().model_copy(update={"partners": partners})


async def sent_by_partner(client: httpx.AsyncClient, data: bytes, token: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": CAP}
    return await client.post("/v1/cap", content=data, headers=headers)


async def test_a_partner_that_may_import_sends_its_warnings_and_updates(db: Database) -> None:
    async with ingest_client(
        db, JWT_SECRET, directory=with_sending_partners(), router=True
    ) as client:
        order, update = [
            await sent_by_partner(client, (PARTNERS / name).read_bytes(), CIVIL_PROTECTION)
            for name in ("evacuation-order.xml", "evacuation-update.xml")
        ]
        assert (order.status_code, update.status_code) == (201, 201), update.text
        await client.pump.settle()
        [first] = await views(client, order)
        [second] = await views(client, update)
    assert (first["origin"], first["raised_by"]) == ("partner", "partner:protection-civile")
    # The partner's update folds into its own order's alert (the router's dedup).
    assert (second["status"], second["merged_into"]) == ("merged", first["id"])


@pytest.mark.parametrize(
    ("token", "status", "reason"),
    [
        (FEED_ONLY, 403, "reads the feed only"),
        (NORTH_ONLY, 422, "raises alerts in north only"),  # the order is in beni
        ("no-such-partner-token", 401, ""),
    ],
)
async def test_a_partner_imports_only_what_the_directory_lets_it(
    db: Database, token: str, status: int, reason: str
) -> None:
    async with ingest_client(db, JWT_SECRET, directory=with_sending_partners()) as client:
        data = (PARTNERS / "evacuation-order.xml").read_bytes()
        response = await sent_by_partner(client, data, token)
    assert response.status_code == status, response.text
    assert reason in response.text
    await nothing_written(db)


# --------------------------------------------------------------------------- round trip


async def test_coord_s_own_export_imports_back_to_the_same_fields(db: Database) -> None:
    fields = ("title", "description", "category", "severity", "urgency", "certainty")
    async with ingest_client(db, JWT_SECRET, directory=mission_directory()) as client:
        for category, classification in itertools.product(Category, Classification):
            body = alert_request(
                title=f"{category} {classification}",
                category=category.value,
                classification=classification.value,
                sector="north",
                location={"name": "Oicha", "lat": 0.7, "lon": 29.52},
            )
            raised = await client.post("/v1/alerts", json=body, headers=bearer("awa.hfo"))
            assert raised.status_code == 201, raised.text
            alert_id = raised.json()["id"]
            exported = await client.get(f"/v1/alerts/{alert_id}.cap", headers=bearer("awa.hfo"))
            back = await imported(client, exported.content, person="awa.hfo")
            assert back.status_code == 201, back.text
            [view] = await views(client, back, "awa.hfo")
            original = raised.json()
            assert {f: view[f] for f in fields} == {f: original[f] for f in fields}
            assert view["classification"] == classification.value
            assert (view["sector"], view["location"]) == ("north", original["location"])
            assert view["origin"] == "partner"


async def test_imports_are_kept_with_their_cap_identity(
    db: Database, client: httpx.AsyncClient
) -> None:
    response = await imported(client, (PARTNERS / "child-abduction.xml").read_bytes())
    async with db.sessions() as session:
        [row] = (await session.scalars(select(CapImportRecord))).all()
    assert (row.sender, row.identifier, row.msg_type) == (
        "alerte-enlevement@police.example.cd",
        "NK-POLICE-CAE-2026-0009",
        "Alert",
    )
    assert [row.alert_id] == response.json()["alert_ids"]
