"""A log written before alerts moved to version-2 notifications still verifies and replays.

``tests/data/logs/alert_notifications_v1.jsonl`` is a router's event log recorded at
commit c179125, when an alert's pages were ``notification.requested`` version 1 (with
``alert_id`` and ``alert``) and the notifier answered in version 1: two alerts, one paged
and delivered, one whose page failed on every channel (so the JOC was told), then an
acknowledgement and a resolution. ``alert_notifications_v1.states.json`` holds the live
state of the router when the log was recorded.

Auditors keep such logs for years: ``coord audit verify``, ``replay`` and ``explain``
must read them as they were written.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert

from services.router.audit.explain import explain
from services.router.audit.replay import compare, rebuild
from shared.event_log import EventRecord, verify
from tests.support.database import Database

pytestmark = pytest.mark.integration

LOG = Path(__file__).parents[2] / "data" / "logs" / "alert_notifications_v1.jsonl"
STATES = LOG.with_suffix(".states.json")
_TIMES = ("occurred_at", "recorded_at")


def _rows() -> list[dict[str, Any]]:
    rows = []
    for line in LOG.read_text().splitlines():
        row = json.loads(line)
        rows.append({k: datetime.fromisoformat(v) if k in _TIMES else v for k, v in row.items()})
    return rows


async def _load(db: Database) -> list[dict[str, Any]]:
    rows = _rows()
    async with db.sessions() as session, session.begin():
        await session.execute(insert(EventRecord), rows)
    return rows


def test_the_fixture_is_a_version_1_notification_log() -> None:
    """Guard: the fixture must keep exercising what it is for."""
    rows = _rows()
    notifications = {
        (r["type"], r["schema_version"]) for r in rows if r["type"].startswith("notification.")
    }
    assert notifications == {
        ("notification.requested", 1),
        ("notification.delivered", 1),
        ("notification.channel_failed", 1),
        ("notification.failed", 1),
    }
    requested = next(r["payload"] for r in rows if r["type"] == "notification.requested")
    assert {"alert_id", "alert"} <= requested.keys()


async def test_an_old_log_verifies(db: Database) -> None:
    rows = await _load(db)
    async with db.sessions() as session:
        check = await verify(session)
    assert check.problem is None
    assert check.checked == len(rows)


async def test_an_old_log_replays_to_the_state_it_was_recorded_with(db: Database) -> None:
    await _load(db)
    recorded = {
        tuple(key.split(":", 1)): state for key, state in json.loads(STATES.read_text()).items()
    }
    async with db.sessions() as session:
        replay = await rebuild(session)
    assert len(recorded) == 2
    assert compare(replay.states, recorded) == []


async def test_an_old_log_explains_who_was_paged_and_what_became_of_it(db: Database) -> None:
    rows = await _load(db)
    delivered, failed = (r["correlation_id"] for r in rows if r["type"] == "alert.raised")
    async with db.sessions() as session:
        story = "\n".join(await explain(session, delivered))
    assert "notify awa.hfo (page, level 1) via webhook" in story
    assert "delivered to awa.hfo by webhook after 1 attempt(s)" in story
    assert "resolved by awa.hfo: families moved to Oicha" in story
    async with db.sessions() as session:
        other = "\n".join(await explain(session, failed))
    assert "NOT delivered to awa.hfo: webhook: connection refused" in other
    assert "jo.operator cannot be reached" in other
