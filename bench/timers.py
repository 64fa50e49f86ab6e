"""Escalation timer lateness: the router's own timer machinery, in process, no HTTP.

A fresh database (``coord db upgrade``) gets ``timers`` alert rows as the router
writes them when it pages level 1 (``plan_trigger`` of the demo directory on random
alerts: real snapshots and summaries), each with an escalation timer due in the
window [lead, lead + window] from now. The due times are uniform random in it, i.e.
the alerts' raise times form a Poisson process (independent reporters) and every
one has the same level-1 delay (bench/run.py runs a steady and a burst spread).
Then the router runs as ``coord run router`` runs it (``RouterService.start``:
database, broker on a fresh vhost, outbox relay, directory source, consumer,
``TimerLoop``), without its HTTP server.

Lateness of each timer is measured twice, without touching the router's code:

- committed: when the transaction that escalated it committed (a SQLAlchemy
  ``after_commit`` listener, the outbox relay's own hook, reads the escalated rows);
  before that commit, nothing of the escalation exists for anyone;
- published: when its ``alert.escalated`` reached a queue of ours bound on the broker
  (the outbox relay published it with confirms), i.e. when the page left the router.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import statistics
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import aio_pika
from sqlalchemy import event, func, insert, select
from sqlalchemy.orm import Session

from bench.infra import database, vhost
from bench.templates import raised_envelope
from coord.migrate import upgrade
from services.router.alerts.service import plan_trigger, raised_alert, summarise
from services.router.alerts.store import snapshot_to_json
from services.router.alerts.tables import AlertRecord
from services.router.service import RouterService
from services.router.tables import EventRecord
from shared.bus import EVENTS_EXCHANGE
from shared.contracts import ALERT_ESCALATED, ROUTER_DECISIONS
from shared.db import create_engine, session_factory
from shared.decisions import unpack
from shared.directory import load_directory
from shared.envelope import Envelope
from shared.settings import Settings
from shared.source_protection import SourceKeyRing
from tests.support.directories import DEMO_DIRECTORY


@dataclass(frozen=True)
class Lateness:
    """Milliseconds after the due time, over the timers due in the measured span.

    A timer not yet fired when the run stops counts with its lateness so far (a lower
    bound) and in ``missed``.
    """

    fired: int
    missed: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


@dataclass(frozen=True)
class TimerResult:
    """One run: ``timers`` pending, due uniformly over ``window_s`` (after a 5 s lead).

    Only the timers due in the first ``measured_s`` seconds count (all of them when it
    equals the window); the run stops when they are all published, or 30 s after the
    last one was due.
    """

    timers: int
    window_s: float
    due_per_s: float
    measured_s: float
    committed: Lateness
    published: Lateness
    logged_escalations: int
    escalations_per_s: float  # committed, over the first to the last commit


def _lateness(due: dict[str, datetime], at: dict[str, datetime], stopped: datetime) -> Lateness:
    values = [((at.get(a) or stopped) - d).total_seconds() * 1000 for a, d in due.items()]
    missed = sum(1 for a in due if a not in at)
    if len(values) < 2:
        return Lateness(len(values) - missed, missed, *([values[0] if values else 0.0] * 4))
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return Lateness(len(values) - missed, missed, cuts[49], cuts[94], cuts[98], max(values))


def alert_rows(
    count: int, first_due: datetime, window: float, seed: int = 7
) -> list[dict[str, Any]]:
    """``count`` triggered alerts paged at level 1, their escalation due in the window."""
    rng = random.Random(seed)
    directory = load_directory(DEMO_DIRECTORY)
    keys = SourceKeyRing.from_settings(Settings())
    kinds = []
    for _ in range(24):  # a variety of policies, sectors and summaries, planned for real
        alert = raised_alert(raised_envelope(rng, keys, None))
        snapshot, transition = plan_trigger(directory, alert)
        if snapshot is not None and len(snapshot.levels) > 1:
            kinds.append((alert, snapshot, transition.state))
    dues = sorted(first_due + timedelta(seconds=rng.uniform(0, window)) for _ in range(count))
    rows = []
    for due in dues:
        alert, snapshot, state = rng.choice(kinds)
        rows.append(
            {
                "alert_id": str(uuid4()),
                "status": state.status,
                "policy_id": snapshot.policy_id,
                "level": 1,
                "targets": list(state.paged),
                "sector": alert.sector,
                "category": alert.category.value,
                "severity": alert.severity.value,
                "raised_by": alert.raised_by,
                "raised_at": alert.raised_at,
                "triggered_at": alert.raised_at,
                "snapshot": snapshot_to_json(snapshot),
                "summary": summarise(alert).model_dump(mode="json"),
                "cycle": 1,
                "loop": 0,
                "exhausted": False,
                "acknowledgements": [],
                "timer_kind": "escalate",
                "timer_due_at": due,
                "dedup_count": 1,
                "version": 1,
            }
        )
    return rows


async def _insert(database_url: str, rows: list[dict[str, Any]]) -> None:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            for first in range(0, len(rows), 1000):
                await session.execute(insert(AlertRecord), rows[first : first + 1000])
    finally:
        await engine.dispose()


async def _logged_escalations(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            query = select(func.count()).where(EventRecord.type == ALERT_ESCALATED)
            return int((await connection.execute(query)).scalar_one())
    finally:
        await engine.dispose()


async def timer_lateness(
    kind: str,
    timers: int = 10_000,
    window: float = 20.0,
    measured: float | None = None,
    lead: float = 5.0,
) -> TimerResult:
    """Run the router over ``timers`` timers due in ``window`` s from ``lead`` s on."""
    measured = min(measured or window, window)
    committed: dict[str, datetime] = {}
    published: dict[str, datetime] = {}

    def on_commit(session: Session) -> None:
        now = datetime.now(UTC)
        for obj in list(session.identity_map.values()):
            if isinstance(obj, AlertRecord) and obj.level > 1 and obj.alert_id not in committed:
                committed[obj.alert_id] = now

    remaining: set[str] = set()
    done = asyncio.Event()

    async def on_escalated(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        # alert.escalated travels in the router.decisions of its transaction (or alone,
        # if a later registry routes it so): either way, unpacked here.
        now = datetime.now(UTC)
        for envelope in unpack(Envelope.model_validate_json(message.body)):
            if envelope.type == ALERT_ESCALATED:
                alert_id = str(envelope.payload["alert_id"])
                published.setdefault(alert_id, now)
                remaining.discard(alert_id)
        if not remaining:
            done.set()

    with tempfile.TemporaryDirectory(prefix=f"coord-bench-timers-{kind}-") as tmp:
        async with vhost() as amqp_url, database(kind, Path(tmp)) as database_url:
            await asyncio.to_thread(upgrade, database_url)
            first_due = datetime.now(UTC) + timedelta(seconds=lead)
            rows = alert_rows(timers, first_due, window)
            horizon = first_due + timedelta(seconds=measured)
            due = {r["alert_id"]: r["timer_due_at"] for r in rows if r["timer_due_at"] <= horizon}
            remaining.update(due)
            await _insert(database_url, rows)
            settings = Settings(
                database_url=database_url, amqp_url=amqp_url, directory=DEMO_DIRECTORY
            )
            router = RouterService(settings)
            event.listen(Session, "after_commit", on_commit)
            watcher = await aio_pika.connect(amqp_url)
            try:
                await router.start()  # declares the exchange
                channel = await watcher.channel()
                queue = await channel.declare_queue(exclusive=True)
                for routing_key in (ALERT_ESCALATED, ROUTER_DECISIONS):
                    await queue.bind(EVENTS_EXCHANGE, routing_key=routing_key)
                await queue.consume(on_escalated, no_ack=True)
                # Bounded: at most 30 s past the last timer measured.
                bound = (horizon - datetime.now(UTC)).total_seconds() + 30
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(done.wait(), timeout=bound)
                stopped = datetime.now(UTC)
            finally:
                event.remove(Session, "after_commit", on_commit)
                await router.stop()
                await watcher.close()
            logged = await _logged_escalations(database_url)
    commits = sorted(committed.values())
    span = (commits[-1] - commits[0]).total_seconds() if len(commits) > 1 else 0.0
    return TimerResult(
        timers=timers,
        window_s=window,
        due_per_s=timers / window,
        measured_s=measured,
        committed=_lateness(due, committed, stopped),
        published=_lateness(due, published, stopped),
        logged_escalations=logged,
        escalations_per_s=len(commits) / span if span else 0.0,
    )


def as_json(result: TimerResult) -> dict[str, Any]:
    """The result as JSON-ready data."""
    return asdict(result)


def table_rows(kind: str, runs: dict[str, dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    """Rows of the printed table: per run, lateness to the commit and to the broker."""
    out = []
    for name, run in runs.items():
        for stage, verb in (("committed", "fired"), ("published", "published")):
            lat = run[stage]
            missed = f", {lat['missed']:,} not {verb}" if lat["missed"] else ""
            out.append(
                (
                    f"{kind}: timer lateness ms, {name} ({run['timers']:,} pending, "
                    f"{run['due_per_s']:,.1f}/s due), {stage} (p50/p95/p99/max)",
                    f"{lat['p50_ms']:,.0f} / {lat['p95_ms']:,.0f} / {lat['p99_ms']:,.0f} / "
                    f"{lat['max_ms']:,.0f}",
                    f"{lat['fired'] + lat['missed']:,} due in {run['measured_s']:.0f} s{missed}; "
                    f"{run['escalations_per_s']:.0f} escalations/s",
                    "p99 <= 100" if (name, stage) == ("steady", "committed") else "",
                )
            )
    return out
