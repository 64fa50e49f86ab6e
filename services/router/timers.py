"""Durable timers: due alerts, messages and recommendations are claimed and fired.

A timer is a column of its row (two on the alert row), so it survives any
restart of the router or the broker. Replicas on PostgreSQL claim due rows with
SKIP LOCKED and fire each once; a timer the state has moved past is a no-op.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.router.alerts.escalation import TimerKind, on_timer
from services.router.alerts.store import snapshot_from_json, state_of
from services.router.alerts.tables import AlertRecord
from services.router.alerts.transitions import EventFactory, apply_transition
from services.router.messages.service import fire_due_messages
from services.router.messages.tables import MessageRecord
from services.router.recommendations.service import fire_due_recommendations
from services.router.recommendations.tables import RecommendationRecord
from services.router.tables import claim_due
from shared.directory import Directory
from shared.envelope import utc_now
from shared.metrics import TIMER_LATENESS

log = structlog.get_logger(__name__)


async def fire_due_timers(
    sessions: async_sessionmaker[AsyncSession], directory: Directory, now: datetime, batch: int
) -> int:
    """Fire every timer due by ``now`` (up to ``batch``); the number fired."""
    async with sessions() as session, session.begin():
        records = await claim_due(session, AlertRecord, AlertRecord.timer_due_at, now, batch)
        for record in records:
            due_at = record.timer_due_at
            kind = TimerKind(record.timer_kind) if record.timer_kind else None
            if due_at is None or kind is None or not record.snapshot:
                record.timer_due_at = record.timer_kind = None  # inconsistent: never fire again
                continue
            TIMER_LATENESS.observe((now - due_at).total_seconds())
            # Schedule from the due time, not from now: lateness does not accumulate.
            transition = on_timer(
                state_of(record), snapshot_from_json(record.snapshot), kind, due_at
            )
            if not transition.changed:
                record.timer_due_at = record.timer_kind = None
                continue
            await apply_transition(
                session, record, transition, directory, EventFactory(record, None)
            )
    return len(records)


async def fire_due_deadlines(
    sessions: async_sessionmaker[AsyncSession], directory: Directory, now: datetime, batch: int
) -> int:
    """Escalate overdue message acknowledgements and recommendations; the number fired."""
    async with sessions() as session, session.begin():
        fired = await fire_due_messages(session, directory, now, batch)
        fired += await fire_due_recommendations(session, directory, now, batch)
    return fired


async def next_due_at(sessions: async_sessionmaker[AsyncSession]) -> datetime | None:
    """When the earliest pending timer is due."""
    columns = (
        AlertRecord.timer_due_at,
        MessageRecord.timer_due_at,
        RecommendationRecord.timer_due_at,
    )
    dues: list[datetime] = []
    async with sessions() as session:
        for column in columns:
            due: datetime | None = await session.scalar(select(func.min(column)))
            if due is not None:
                # aggregate results skip the column type
                dues.append(due if due.tzinfo else due.replace(tzinfo=UTC))
    return min(dues, default=None)


class TimerLoop:
    """Fires due timers until cancelled, looking at least every ``poll_interval`` seconds."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        directory: Callable[[], Directory],
        *,
        poll_interval: float,
        batch: int = 200,
    ) -> None:
        self._sessions = sessions
        self._directory = directory
        self._poll_interval = poll_interval
        self._batch = batch

    async def run(self) -> None:
        """The loop; a failing round (database down) is logged and retried."""
        while True:
            try:
                directory, now = self._directory(), utc_now()
                fired = await fire_due_timers(self._sessions, directory, now, self._batch)
                fired = max(
                    fired, await fire_due_deadlines(self._sessions, directory, now, self._batch)
                )
                if fired >= self._batch:
                    continue  # more are due right now
                due = await next_due_at(self._sessions)
            except asyncio.CancelledError:
                raise
            except Exception:  # the timers stay in the database: log and retry
                log.warning("timers.round_failed", exc_info=True)
                due = None
            wait = self._poll_interval
            if due is not None:
                wait = min(wait, max((due - utc_now()).total_seconds(), 0.0))
            await asyncio.sleep(wait)
