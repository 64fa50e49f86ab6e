"""Replay: the log alone rebuilds the live state, now and as of any earlier time.

A randomised scenario (seeded, so a failure reproduces) drives the router's own
handler and timer functions on a real database: alerts raised in every category
and sector, acknowledged by someone on their chain (or refused), annotated,
resolved, escalated by timers fired at advancing times, and duplicates merged;
plus messages and recommendations. Half-way, the live state is snapshotted; at
the end, a replay as of that time must equal the snapshot, and a replay of the
whole log must equal the live state.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from services.router.alerts.tables import AlertRecord
from services.router.audit.replay import compare, live_states, rebuild
from services.router.handlers import RouterHandler
from services.router.timers import fire_due_deadlines, fire_due_timers
from shared.contracts import (
    ALERT_ACKNOWLEDGE,
    ALERT_ADD_NOTE,
    ALERT_RESOLVE,
    MESSAGE_ACKNOWLEDGE,
    MESSAGE_SENT,
    RECOMMENDATION_ACKNOWLEDGE,
    RECOMMENDATION_RESPOND,
    RECOMMENDATION_SUBMITTED,
)
from shared.directory import Directory
from shared.envelope import Envelope, utc_now
from tests.support.builders import raised_envelope
from tests.support.database import Database
from tests.support.directories import directory_for

pytestmark = pytest.mark.integration

DIRECTORY = Directory.model_validate(directory_for("http://127.0.0.1:9/hooks"))
CATEGORIES = ("abduction", "armed_group_movement", "looting", "attack_on_civilians")
SECTORS = ("beni", "north", "south")
PEOPLE = [p.id for p in DIRECTORY.people]


def command(type_: str, actor: str, correlation: str, **payload: Any) -> Envelope:
    return Envelope(
        type=type_,
        producer="ingest",
        actor=actor,
        correlation_id=UUID(correlation),
        payload=payload,
    )


class Scenario:
    """Drives the router with random but reproducible steps."""

    def __init__(self, db: Database, seed: int) -> None:
        self.db = db
        self.rng = random.Random(seed)
        self.handler = RouterHandler(db.sessions, lambda: DIRECTORY)
        self.alerts: list[str] = []
        self.clock = utc_now()

    async def raise_alert(self) -> None:
        dedup = f"key-{self.rng.randrange(40)}" if self.rng.random() < 0.1 else None
        envelope = raised_envelope(
            category=self.rng.choice(CATEGORIES),
            severity=self.rng.choice(("severe", "moderate")),
            sector=self.rng.choice(SECTORS),
            dedup_key=dedup,
        )
        await self.handler(envelope)
        self.alerts.append(str(envelope.correlation_id))

    async def act(self) -> None:
        alert_id = self.rng.choice(self.alerts)
        async with self.db.sessions() as session:
            record = await session.get(AlertRecord, alert_id)
        assert record is not None
        chain = [t for level in record.snapshot.get("levels", []) for t in level["targets"]]
        person = self.rng.choice(chain + PEOPLE[:2]) if chain else self.rng.choice(PEOPLE)
        roll = self.rng.random()
        if roll < 0.4:
            await self.handler(
                command(ALERT_ACKNOWLEDGE, person, alert_id, alert_id=alert_id, person_id=person)
            )
        elif roll < 0.6:
            note = {"alert_id": alert_id, "person_id": person, "text": "patrol sent"}
            await self.handler(command(ALERT_ADD_NOTE, person, alert_id, **note))
        else:
            await self.handler(
                command(ALERT_RESOLVE, person, alert_id, alert_id=alert_id, person_id=person)
            )

    async def tick(self) -> None:
        """Time passes: every timer due by then fires (escalations, ack timeouts)."""
        self.clock += timedelta(minutes=self.rng.choice((5, 12, 20, 40)))
        while await fire_due_timers(self.db.sessions, DIRECTORY, self.clock, batch=500) == 500:
            pass
        await fire_due_deadlines(self.db.sessions, DIRECTORY, self.clock, batch=500)

    async def coordinate(self) -> None:
        message_id = uuid4()
        await self.handler(
            command(
                MESSAGE_SENT,
                "awa.hfo",
                str(message_id),
                message_id=str(message_id),
                sender="awa.hfo",
                to={"components": ["military"]},
                subject="Patrol",
                body="Night patrol please",
                classification=self.rng.choice(("unclassified", "confidential")),
                thread_id=str(message_id),
                requires_ack=True,
                ack_due_at=(utc_now() + timedelta(minutes=10)).isoformat(),
            )
        )
        if self.rng.random() < 0.5:
            ack = {"message_id": str(message_id), "person_id": "col.okafor"}
            await self.handler(command(MESSAGE_ACKNOWLEDGE, "col.okafor", str(message_id), **ack))
        rec_id = str(uuid4())
        await self.handler(
            command(
                RECOMMENDATION_SUBMITTED,
                "awa.hfo",
                rec_id,
                recommendation_id=rec_id,
                author="awa.hfo",
                addressee={"role": "sector_commander"},
                sector="beni",
                action="Patrol",
                rationale="Alerts",
                due_by=(utc_now() + timedelta(minutes=30)).isoformat(),
            )
        )
        ids = {"recommendation_id": rec_id, "person_id": "col.okafor"}
        if self.rng.random() < 0.6:
            await self.handler(command(RECOMMENDATION_ACKNOWLEDGE, "col.okafor", rec_id, **ids))
            answer = self.rng.choice(("accepted", "declined", "done"))
            await self.handler(
                command(
                    RECOMMENDATION_RESPOND, "col.okafor", rec_id, **ids, response=answer, reason="x"
                )
            )

    async def run(self, alerts: int) -> None:
        for _ in range(alerts):
            await self.raise_alert()
            for _ in range(self.rng.choice((0, 1, 1, 2))):
                await self.act()
            if self.rng.random() < 0.1:
                await self.tick()
            if self.rng.random() < 0.03:
                await self.coordinate()


@pytest.mark.timeout(600)
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_replay_of_1000_alerts_equals_the_live_state_now_and_half_way(
    db: Database,
) -> None:
    scenario = Scenario(db, seed=20261123)
    await scenario.run(alerts=500)
    async with db.sessions() as session:
        half_way = await live_states(session)
    middle = utc_now()
    await scenario.run(alerts=500)
    await scenario.tick()

    async with db.sessions() as session:
        now = await rebuild(session)
        live = await live_states(session)
        then = await rebuild(session, as_of=middle)
    assert len([k for k in live if k[0] == "alert"]) == 1000
    statuses = {s["status"] for k, s in live.items() if k[0] == "alert"}
    assert {"triggered", "acknowledged", "resolved", "merged"} <= statuses  # it did things
    assert any((s["level"] or 1) > 1 for k, s in live.items() if k[0] == "alert")  # escalated
    assert any(k[0] == "recommendation" for k in live)
    assert any(k[0] == "message" for k in live)
    assert now.differences == []
    assert compare(now.states, live) == []
    assert compare(then.states, half_way) == []
    assert then.differences == []


async def test_replay_reports_a_state_the_log_does_not_explain(db: Database) -> None:
    scenario = Scenario(db, seed=7)
    await scenario.run(alerts=20)
    async with db.sessions() as session, session.begin():
        record = await session.get(AlertRecord, scenario.alerts[3])
        assert record is not None
        record.status = "resolved" if record.status != "resolved" else "triggered"  # by hand
    async with db.sessions() as session:
        differences = compare((await rebuild(session)).states, await live_states(session))
    assert differences
    assert all(scenario.alerts[3] in line for line in differences)
    assert any("status" in line for line in differences)
