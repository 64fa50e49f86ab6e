"""Realistic event-log content, recorded by the router's own code.

A few dozen alerts of the demo directory are driven through the router's real handler
and timer functions on a scratch SQLite database: raised by ingest (``alert.raised``
v2, half of them with a sealed source), routed and paged, each page delivered by the
notifier (some after a failed channel), some escalated by their timer, acknowledged,
resolved, a few merged as duplicates. Their log records, in log order, are the
template that bench/logload.py clones (fresh ids, shifted times) into a large log.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import select

from coord.migrate import upgrade
from services.router.alerts.tables import AlertRecord
from services.router.handlers import RouterHandler
from services.router.timers import fire_due_timers
from shared.contracts import (
    ALERT_ACKNOWLEDGE,
    ALERT_RAISED,
    ALERT_RESOLVE,
    NOTIFICATION_CHANNEL_FAILED,
    NOTIFICATION_DELIVERED,
    NOTIFICATION_REQUESTED,
)
from shared.contracts.alerts import AlertRaisedV2, RaiseAlertV1, Source
from shared.db import create_engine, session_factory
from shared.directory import Directory, load_directory
from shared.envelope import Classification, Envelope, utc_now
from shared.event_log import EventRecord, LogRecord, records
from shared.settings import Settings
from shared.source_protection import SourceKeyRing
from tests.support.builders import alert_request
from tests.support.directories import DEMO_DIRECTORY

CATEGORIES = ("abduction", "attack_on_civilians", "armed_group_movement", "looting", "displacement")
SECTORS = ("beni", "north", "south")


@dataclass(frozen=True)
class LoggedRow:
    """One log record of the template (without its chain links)."""

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


def raised_envelope(rng: random.Random, keys: SourceKeyRing, dedup: str | None) -> Envelope:
    """An ``alert.raised`` v2 as ingest sends it: random category, severity and sector."""
    body = alert_request(
        category=rng.choice(CATEGORIES),
        severity=rng.choice(("extreme", "severe", "moderate", "minor")),
        sector=rng.choice(SECTORS),
        dedup_key=dedup,
    )
    request = RaiseAlertV1.model_validate(body)
    alert_id = uuid4()
    source = Source(name="CAN focal point", contact="+243999000111") if rng.random() < 0.5 else None
    raised = AlertRaisedV2(
        **request.model_dump(exclude={"source"}),
        source=keys.seal(source, alert_id) if source else None,
        alert_id=alert_id,
        raised_by="jo.operator",
        raised_at=utc_now(),
    )
    return Envelope(
        type=ALERT_RAISED,
        schema_version=2,
        producer="ingest",
        actor="jo.operator",
        correlation_id=alert_id,
        classification=request.classification,
        payload=raised.model_dump(mode="json"),
    )


def _outcomes(rng: random.Random, requested: LogRecord) -> list[Envelope]:
    """What the notifier reports for one page: delivered, sometimes after a failed channel."""
    payload = requested.payload
    cause = Envelope(
        id=UUID(requested.event_id),
        type=requested.type,
        producer=requested.producer,
        actor=requested.actor,
        correlation_id=UUID(requested.correlation_id),
        classification=Classification(requested.classification),
        schema_version=requested.schema_version,
        payload=payload,
    )
    # The outcome speaks the request's version (services/notifier/outcomes.py): v2 names
    # its subject, v1 its alert.
    subject = ("subject_type", "subject_id") if requested.schema_version >= 2 else ("alert_id",)
    common = {k: payload[k] for k in ("notification_id", *subject, "person_id")}
    channels = [c["channel"] for c in payload["contacts"]]
    out = []
    if len(channels) > 1 and rng.random() < 0.15:
        failed = {
            **common,
            "channel": channels[0],
            "attempts": 5,
            "error": "HTTP 503",
            "next_channel": channels[1],
        }
        out.append(_caused(cause, NOTIFICATION_CHANNEL_FAILED, failed))
        channels = channels[1:]
    delivered = {**common, "kind": payload["kind"], "channel": channels[0], "attempts": 1}
    out.append(_caused(cause, NOTIFICATION_DELIVERED, delivered))
    return out


def _caused(cause: Envelope, type_: str, payload: dict[str, Any]) -> Envelope:
    return Envelope(
        type=type_,
        schema_version=cause.schema_version,
        producer="notifier",
        actor="notifier",
        correlation_id=cause.correlation_id,
        causation_id=cause.id,
        classification=cause.classification,
        payload=payload,
    )


def _command(type_: str, alert_id: str, person_id: str, classification: str) -> Envelope:
    return Envelope(
        type=type_,
        producer="ingest",
        actor=person_id,
        correlation_id=UUID(alert_id),
        classification=Classification(classification),
        payload={"alert_id": alert_id, "person_id": person_id},
    )


class _Driver:
    def __init__(self, database_url: str, directory: Directory, seed: int) -> None:
        self.engine = create_engine(database_url)
        self.sessions = session_factory(self.engine)
        self.directory = directory
        self.handler = RouterHandler(self.sessions, lambda: directory)
        self.rng = random.Random(seed)
        self.keys = SourceKeyRing.from_settings(Settings())
        self.seen = 0

    async def deliver_pages(self) -> None:
        """The notifier's outcome for every page logged since the last call."""
        async with self.sessions() as session:
            new = [r async for r in records(session, after_seq=self.seen)]
        if new:
            self.seen = new[-1].seq
        for record in new:
            if record.type == NOTIFICATION_REQUESTED:
                for envelope in _outcomes(self.rng, record):
                    await self.handler(envelope)

    async def alert(self, index: int) -> None:
        raised = raised_envelope(self.rng, self.keys, f"incident-{index}")
        await self.handler(raised)
        if self.rng.random() < 0.08:
            await self.handler(raised_envelope(self.rng, self.keys, f"incident-{index}"))
        await self.deliver_pages()
        alert_id = str(raised.correlation_id)
        roll = self.rng.random()
        for _ in range(1 if roll < 0.3 else 2 if roll < 0.4 else 0):  # escalations
            async with self.sessions() as session:
                record = await session.get(AlertRecord, alert_id)
            if record is None or record.timer_due_at is None:
                break
            await fire_due_timers(self.sessions, self.directory, record.timer_due_at, 500)
            await self.deliver_pages()
        async with self.sessions() as session:
            record = await session.get(AlertRecord, alert_id)
        if record is None or record.status == "merged" or roll > 0.85:
            return  # left open
        person, level = record.targets[-1], record.summary["classification"]
        await self.handler(_command(ALERT_ACKNOWLEDGE, alert_id, person, level))
        await self.deliver_pages()
        if roll < 0.75:
            await self.handler(_command(ALERT_RESOLVE, alert_id, person, level))
            await self.deliver_pages()


async def record_template(workdir: Path, alerts: int = 60, seed: int = 20261124) -> list[LoggedRow]:
    """Drive ``alerts`` alerts through the router; their log records, in log order."""
    database_url = f"sqlite+aiosqlite:///{workdir / 'template.db'}"
    await asyncio.to_thread(upgrade, database_url)
    driver = _Driver(database_url, load_directory(DEMO_DIRECTORY), seed)
    try:
        for index in range(alerts):
            await driver.alert(index)
        # Time passes: the alerts left open escalate to the end of their policy.
        await fire_due_timers(driver.sessions, driver.directory, utc_now() + timedelta(days=1), 500)
        await driver.deliver_pages()
        async with driver.sessions() as session:
            rows = (await session.scalars(select(EventRecord).order_by(EventRecord.seq))).all()
    finally:
        await driver.engine.dispose()
    return [
        LoggedRow(
            event_id=r.event_id,
            type=r.type,
            schema_version=r.schema_version,
            occurred_at=r.occurred_at,
            recorded_at=r.recorded_at,
            producer=r.producer,
            actor=r.actor,
            correlation_id=r.correlation_id,
            causation_id=r.causation_id,
            classification=r.classification,
            payload=r.payload,
        )
        for r in rows
    ]
