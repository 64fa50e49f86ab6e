"""Dedup scope and need-to-know (issue 13, item 1), through ingest's API and the real router.

A dedup key merges only within one sector, category and classification, and only
for a raiser who may see the open alert; a merge never lowers what is paged. The
broker's work is done in-process by a ``Pump`` (tests/support/pump.py): each
alert goes through ingest's outbox to the router's rules and back to ingest's
views as in production. Runs on SQLite and PostgreSQL; the last test migrates
existing open keys from revision 0011.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from alembic import command
from sqlalchemy import select

from coord.migrate import alembic_config, upgrade
from services.router.alerts.tables import AlertRecord, OpenDedupKey
from services.router.audit.explain import explain
from shared.auth import mint_token
from shared.contracts import ALERT_MERGED, ALERT_UPGRADED, NOTIFICATION_REQUESTED
from shared.db import create_engine, session_factory
from shared.directory import Directory, load_directory
from shared.envelope import Envelope, utc_now
from tests.support.builders import alert_request
from tests.support.database import Database
from tests.support.directories import DEMO_DIRECTORY, EXAMPLE_DIRECTORY
from tests.support.ingest_client import IngestClient, ingest_client

pytestmark = pytest.mark.integration

JWT_SECRET = "integration-jwt-secret-" + "0123456789abcdef" * 3
KEY = "mavivi-road"


def bearer(person_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(person_id, JWT_SECRET)}"}


async def raise_alert(client: IngestClient, person: str, **overrides: Any) -> str:
    response = await client.post(
        "/v1/alerts", json=alert_request(**overrides), headers=bearer(person)
    )
    assert response.status_code == 201, response.text
    await client.pump.settle()
    return str(response.json()["id"])


async def view(client: IngestClient, person: str, alert_id: str) -> Any:
    await client.pump.settle()
    return await client.get(f"/v1/alerts/{alert_id}", headers=bearer(person))


async def router_alert(db: Database, alert_id: str) -> AlertRecord:
    async with db.sessions() as session:
        record = await session.get(AlertRecord, alert_id)
    assert record is not None
    return record


def pages(client: IngestClient, alert_id: str) -> list[Mapping[str, Any]]:
    return [
        e.payload
        for e in client.pump.staged(NOTIFICATION_REQUESTED)
        if str(e.correlation_id) == alert_id and e.payload["kind"] == "page"
    ]


def of_alert(client: IngestClient, type_: str, alert_id: str) -> list[Envelope]:
    return [e for e in client.pump.staged(type_) if str(e.correlation_id) == alert_id]


def timeline(body: Mapping[str, Any]) -> list[str]:
    return [entry["type"] for entry in body["timeline"]]


# --------------------------------------------------------------------------- the probe


async def test_a_key_reused_in_another_sector_category_and_classification_is_not_a_duplicate(
    db: Database,
) -> None:
    """The probe: Noor's hidden north looting must not swallow Amani's beni abduction."""
    async with ingest_client(
        db, JWT_SECRET, directory=load_directory(DEMO_DIRECTORY), router=True
    ) as client:
        north = await raise_alert(
            client,
            "noor.hfo",
            category="looting",
            severity="minor",
            sector="north",
            classification="strictly_confidential",
            dedup_key=KEY,
        )
        beni = await raise_alert(
            client, "amani.cla", category="abduction", severity="extreme", dedup_key=KEY
        )

        mine = await view(client, "amani.cla", beni)
        assert mine.status_code == 200, mine.text
        body = mine.json()
        assert (body["status"], body["merged_into"], body["dedup_count"]) == (
            "triggered",
            None,
            1,
        )
        assert body["targets"] == ["awa.hfo"]  # beni's chain: poc-urgent, level 1
        assert [p["person_id"] for p in pages(client, beni)] == ["awa.hfo"]
        assert (await router_alert(db, beni)).status == "triggered"

        hidden = await view(client, "noor.hfo", north)
        assert hidden.status_code == 200, hidden.text
        assert (hidden.json()["status"], hidden.json()["dedup_count"]) == ("triggered", 1)
        assert ALERT_MERGED not in timeline(hidden.json())
        assert of_alert(client, ALERT_MERGED, north) == []
        # ...and Amani still cannot see it exists.
        assert (await view(client, "amani.cla", north)).status_code == 404
        assert await db.count(OpenDedupKey) == 2


async def test_a_duplicate_whose_raiser_may_not_see_the_open_alert_opens_on_its_own(
    db: Database,
) -> None:
    """Same scope, but Amani is neither on the chain of Awa's alert nor the JOC (and, not
    a community alert, it is not her network's)."""
    async with ingest_client(db, JWT_SECRET, router=True) as client:
        first = await raise_alert(client, "awa.hfo", dedup_key=KEY, origin="civilian")
        second = await raise_alert(client, "amani.cla", dedup_key=KEY)

        own = (await view(client, "amani.cla", second)).json()
        assert (own["status"], own["merged_into"], own["targets"]) == (
            "triggered",
            None,
            ["awa.hfo"],
        )
        assert [p["person_id"] for p in pages(client, second)] == ["awa.hfo"]
        opened = (await view(client, "awa.hfo", first)).json()
        assert (opened["dedup_count"], ALERT_MERGED in timeline(opened)) == (1, False)
        assert (await view(client, "amani.cla", first)).status_code == 404

        # Whoever may see the open alert still merges into it: the JOC runs the board.
        third = await raise_alert(client, "jo.operator", dedup_key=KEY)
        assert (await view(client, "jo.operator", third)).json()["merged_into"] == first
        assert (await router_alert(db, first)).dedup_count == 2
        assert pages(client, third) == []

        # Amani relays the same threat again: it joins her own report, nobody is paged again.
        paged = len(client.pump.staged(NOTIFICATION_REQUESTED))
        fourth = await raise_alert(client, "amani.cla", dedup_key=KEY)
        assert (await view(client, "amani.cla", fourth)).json()["merged_into"] == second
        assert (await view(client, "amani.cla", second)).json()["dedup_count"] == 2
        assert len(client.pump.staged(NOTIFICATION_REQUESTED)) == paged


# --------------------------------------------------------------------------- never lower


def directory_with_an_extreme_policy() -> Directory:
    """The reference directory, where an extreme abduction also pages the DSRSG at once."""
    data = yaml.safe_load(EXAMPLE_DIRECTORY.read_text(encoding="utf-8"))
    data["escalation_policies"].append(
        {
            "id": "poc-extreme",
            "levels": [
                {"targets": [{"role": "head_of_field_office"}, {"role": "dsrsg"}], "delay": "5m"},
                {"targets": [{"role": "head_of_office"}], "delay": "15m"},
            ],
            "ack_timeout": "1h",
        }
    )
    extreme = {"match": {"category": ["abduction"], "severity": ["extreme"]}}
    data["routes"].insert(0, {**extreme, "policy": "poc-extreme"})
    return Directory.model_validate(data)


async def test_a_more_serious_duplicate_raises_the_open_alert_and_pages_whom_it_adds(
    db: Database,
) -> None:
    async with ingest_client(
        db, JWT_SECRET, directory=directory_with_an_extreme_policy(), router=True
    ) as client:
        first = await raise_alert(
            client, "jo.operator", severity="moderate", urgency="expected", dedup_key=KEY
        )
        before = (await view(client, "jo.operator", first)).json()
        assert (before["policy_id"], before["targets"]) == ("poc-default", ["awa.hfo"])
        start = utc_now()

        duplicate = await raise_alert(
            client, "jo.operator", severity="extreme", urgency="immediate", dedup_key=KEY
        )

        merged = (await view(client, "jo.operator", duplicate)).json()
        assert (merged["status"], merged["merged_into"], merged["targets"]) == (
            "merged",
            first,
            [],
        )
        assert pages(client, duplicate) == []

        raised = (await view(client, "jo.operator", first)).json()
        assert (raised["status"], raised["dedup_count"]) == ("triggered", 2)
        assert (raised["severity"], raised["urgency"]) == ("extreme", "immediate")
        assert raised["targets"] == ["awa.hfo", "grace.dsrsg"]
        assert "grace.dsrsg" in raised["chain"]
        assert timeline(raised).count(ALERT_UPGRADED) == 1
        due = datetime.fromisoformat(raised["next_escalation_at"])
        assert due <= utc_now() + timedelta(minutes=5)  # the extreme policy's delay, not 30m
        assert due >= start + timedelta(minutes=5) - timedelta(seconds=5)

        [page] = [p for p in pages(client, first) if p["person_id"] == "grace.dsrsg"]
        assert (page["level"], page["summary"]["severity"], page["summary"]["urgency"]) == (
            1,
            "extreme",
            "immediate",
        )
        [upgraded] = of_alert(client, ALERT_UPGRADED, first)
        assert {k: upgraded.payload[k] for k in ("severity", "previous_severity", "targets")} == {
            "severity": "extreme",
            "previous_severity": "moderate",
            "targets": ["grace.dsrsg"],
        }
        assert upgraded.payload["policy_ids"] == ["poc-default", "poc-extreme"]
        async with db.sessions() as session:
            story = await explain(session, first)
        assert any(
            line.endswith(
                "to extreme/immediate; now following poc-default, poc-extreme; paged: grace.dsrsg"
            )
            for line in story
        ), story

        # Whom the higher severity added may act on the alert like anyone on its chain.
        ack = await client.post(f"/v1/alerts/{first}/acknowledge", headers=bearer("grace.dsrsg"))
        assert ack.status_code == 200, ack.text
        assert ack.json()["status"] == "acknowledged"

        # A less serious duplicate lowers nothing and pages nobody.
        paged = len(client.pump.staged(NOTIFICATION_REQUESTED))
        third = await raise_alert(
            client, "jo.operator", severity="minor", urgency="future", dedup_key=KEY
        )
        assert (await view(client, "jo.operator", third)).json()["merged_into"] == first
        after = (await view(client, "jo.operator", first)).json()
        assert (after["severity"], after["urgency"], after["dedup_count"]) == (
            "extreme",
            "immediate",
            3,
        )
        assert len(client.pump.staged(NOTIFICATION_REQUESTED)) == paged
        assert len(of_alert(client, ALERT_UPGRADED, first)) == 1
        record = await router_alert(db, first)
        assert (record.severity, record.summary["urgency"]) == ("extreme", "immediate")


# --------------------------------------------------------------------------- migration 0012

# The table as revision 0011 has it: one open alert per key, whatever its scope.
_OLD_KEYS = sa.table("router_open_dedup_keys", sa.column("dedup_key"), sa.column("alert_id"))


async def test_open_keys_keep_their_alert_through_the_upgrade_to_scopes(
    database_url: str,
) -> None:
    await asyncio.to_thread(upgrade, database_url, "0011")
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    now = utc_now()
    try:
        async with sessions() as session, session.begin():
            for number, (sector, summary) in enumerate(
                [("beni", {"classification": "confidential"}), ("north", {})], start=1
            ):
                alert_id = f"00000000-0000-0000-0000-00000000000{number}"
                await session.execute(
                    AlertRecord.__table__.insert().values(  # type: ignore[attr-defined]
                        alert_id=alert_id,
                        status="triggered",
                        level=1,
                        targets=[],
                        sector=sector,
                        category="abduction",
                        severity="severe",
                        raised_by="jo.operator",
                        raised_at=now,
                        triggered_at=now,
                        snapshot={},
                        summary=summary,
                        cycle=1,
                        loop=0,
                        exhausted=False,
                        acknowledgements=[],
                        dedup_key=f"key-{number}",
                        dedup_count=1,
                        version=1,
                    )
                )
                await session.execute(
                    _OLD_KEYS.insert().values(dedup_key=f"key-{number}", alert_id=alert_id)
                )
        await asyncio.to_thread(upgrade, database_url, "0012")
        async with sessions() as session:
            rows = (await session.scalars(select(OpenDedupKey))).all()
        assert sorted(
            (r.dedup_key, r.sector, r.category, r.classification, r.alert_id) for r in rows
        ) == [
            ("key-1", "beni", "abduction", "confidential", "00000000-0000-0000-0000-000000000001"),
            ("key-2", "north", "abduction", "unclassified", "00000000-0000-0000-0000-000000000002"),
        ]
        await asyncio.to_thread(command.downgrade, alembic_config(database_url), "0011")
        async with engine.connect() as connection:
            old = (await connection.execute(_OLD_KEYS.select())).all()
        assert sorted(tuple(r) for r in old) == [
            ("key-1", "00000000-0000-0000-0000-000000000001"),
            ("key-2", "00000000-0000-0000-0000-000000000002"),
        ]
    finally:
        await engine.dispose()
