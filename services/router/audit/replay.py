"""Replay for auditors: rebuild every alert, message and recommendation from the log alone.

Two independent readings of the log are compared with the live rows:

- the state events (``*.state_changed``), which carry an entity's whole state
  after each change: the newest one per entity is its state as of that record;
- for alerts, the domain events (triggered, escalated, acknowledged, resolved,
  merged...), folded into status, level, loop and who acknowledged: they must
  agree with the state events, or the log contradicts itself.

``as_of`` replays only the records logged up to that time (a time-travel view,
for comparing with a snapshot taken then); without it the result is compared
with the live tables, and any difference is reported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.router.alerts.tables import AlertRecord
from services.router.alerts.transitions import EventFactory, state_event
from services.router.messages import service as messages
from services.router.messages.tables import MessageRecord
from services.router.recommendations import service as recommendations
from services.router.recommendations.tables import RecommendationRecord
from shared.contracts import (
    ALERT_ACKNOWLEDGED,
    ALERT_DEDUPLICATED,
    ALERT_ESCALATED,
    ALERT_EXHAUSTED,
    ALERT_RESOLVED,
    ALERT_RETRIGGERED,
    ALERT_STATE_CHANGED,
    ALERT_TRIGGERED,
    MESSAGE_STATE_CHANGED,
    RECOMMENDATION_STATE_CHANGED,
)
from shared.event_log import LogRecord, records

# Kinds of entity, and the event that carries each one's whole state.
STATE_EVENTS = {
    ALERT_STATE_CHANGED: ("alert", "alert_id"),
    MESSAGE_STATE_CHANGED: ("message", "message_id"),
    RECOMMENDATION_STATE_CHANGED: ("recommendation", "recommendation_id"),
}
# Timer times may be cleared without an event (a timer the state moved past): not compared.
_NOT_COMPARED = frozenset({"next_escalation_at"})

Key = tuple[str, str]  # (kind, id)


@dataclass
class AlertStory:
    """What the domain events say about one alert."""

    status: str | None = None
    level: int | None = None
    loop: int = 0
    exhausted: bool = False
    acknowledged_by: list[str] = field(default_factory=list)


@dataclass
class Replay:
    """The rebuilt states, the alerts' stories, and any difference found."""

    states: dict[Key, dict[str, Any]] = field(default_factory=dict)
    stories: dict[str, AlertStory] = field(default_factory=dict)
    records: int = 0
    differences: list[str] = field(default_factory=list)


def _fold_alert(story: AlertStory, record: LogRecord) -> None:
    payload = record.payload
    if record.type == ALERT_TRIGGERED:
        story.status, story.level = "triggered", payload["level"]
    elif record.type == ALERT_ESCALATED:
        story.level, story.loop = payload["level"], payload["loop"]
    elif record.type == ALERT_EXHAUSTED:
        story.exhausted = True
    elif record.type == ALERT_RETRIGGERED:
        story.status, story.level, story.loop = "triggered", payload["level"], 0
        story.exhausted, story.acknowledged_by = False, []
    elif record.type == ALERT_ACKNOWLEDGED:
        story.status, story.acknowledged_by = "acknowledged", list(payload["acknowledged_by"])
    elif record.type == ALERT_RESOLVED:
        story.status = "resolved"
    elif record.type == ALERT_DEDUPLICATED:
        story.status = "merged"


async def rebuild(
    session: AsyncSession,
    as_of: datetime | None = None,
    on_record: Callable[[LogRecord], None] | None = None,
) -> Replay:
    """Every entity's state from the log (up to ``as_of``), and the alerts' stories."""
    replay = Replay()
    async for record in records(session):
        if on_record is not None:
            on_record(record)
        if as_of is not None and record.recorded_at > as_of:
            continue
        replay.records += 1
        if record.type in STATE_EVENTS:
            kind, id_field = STATE_EVENTS[record.type]
            key = (kind, str(record.payload.get(id_field) or record.correlation_id))
            state = replay.states.get(key, {"version": 0})
            if record.payload["version"] >= state["version"]:
                replay.states[key] = dict(record.payload)
        elif record.type.startswith("alert."):
            story = replay.stories.setdefault(record.correlation_id, AlertStory())
            _fold_alert(story, record)
    _cross_check(replay)
    return replay


def _cross_check(replay: Replay) -> None:
    """The domain events must tell the same story as the state events."""
    for alert_id, story in replay.stories.items():
        state = replay.states.get(("alert", alert_id))
        if state is None or story.status is None:
            continue
        told = {
            "status": story.status,
            "exhausted": story.exhausted,
            "acknowledged_by": sorted(story.acknowledged_by),
        }
        recorded = {
            "status": state["status"],
            "exhausted": state["exhausted"],
            "acknowledged_by": sorted(a["person_id"] for a in state["acknowledgements"])
            if state["status"] == "acknowledged"
            else sorted(story.acknowledged_by),
        }
        if story.status != "merged" and state["level"] is not None and story.level is not None:
            told["level"], recorded["level"] = story.level, state["level"]
            told["loop"], recorded["loop"] = story.loop, state["loop"]
        for name, value in told.items():
            if recorded[name] != value:
                replay.differences.append(
                    f"alert {alert_id}: the events say {name}={value!r}, "
                    f"its state event says {recorded[name]!r}"
                )


async def live_states(session: AsyncSession) -> dict[Key, dict[str, Any]]:
    """The live rows, in the form of their state events."""
    live: dict[Key, dict[str, Any]] = {}
    for alert in (await session.scalars(select(AlertRecord))).all():
        live[("alert", alert.alert_id)] = state_event(alert, EventFactory(alert, None)).payload
    for message in (await session.scalars(select(MessageRecord))).all():
        live[("message", message.message_id)] = messages.live_state(message)
    for rec in (await session.scalars(select(RecommendationRecord))).all():
        live[("recommendation", rec.recommendation_id)] = recommendations.live_state(rec)
    return live


def compare(rebuilt: dict[Key, dict[str, Any]], live: dict[Key, dict[str, Any]]) -> list[str]:
    """Every difference between rebuilt and live states, one line each."""
    differences = []
    for key in sorted(rebuilt.keys() | live.keys()):
        kind, id_ = key
        if key not in live:
            differences.append(f"{kind} {id_}: on the log but not in the live state")
            continue
        if key not in rebuilt:
            differences.append(f"{kind} {id_}: in the live state but never on the log")
            continue
        for name in sorted((rebuilt[key].keys() | live[key].keys()) - _NOT_COMPARED):
            logged, now = rebuilt[key].get(name), live[key].get(name)
            if logged != now:
                differences.append(f"{kind} {id_}: {name} is {now!r} live, {logged!r} replayed")
    return differences
