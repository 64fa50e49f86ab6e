"""An alert's story for auditors, told from the event log alone.

Which routes and policy applied (the snapshot the alert carried), who was paged
at each level and on which channels, how each delivery ended, who acknowledged,
and why each escalation happened. Never the alert's source.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.contracts import (
    ALERT_ACK_RECORDED,
    ALERT_ACKNOWLEDGED,
    ALERT_COMMAND_REJECTED,
    ALERT_DEDUPLICATED,
    ALERT_ESCALATED,
    ALERT_EXHAUSTED,
    ALERT_MERGED,
    ALERT_NOTE_ADDED,
    ALERT_RAISED,
    ALERT_RELEASED,
    ALERT_RESOLVED,
    ALERT_RETRIGGERED,
    ALERT_TARGET_UNREACHABLE,
    ALERT_TRIGGERED,
    ALERT_UNROUTED,
    ALERT_UPGRADED,
    NOTIFICATION_CHANNEL_FAILED,
    NOTIFICATION_DELIVERED,
    NOTIFICATION_FAILED,
    NOTIFICATION_REQUESTED,
)
from shared.event_log import EventRecord


def _duration(seconds: float) -> str:
    text = str(timedelta(seconds=round(seconds)))
    return text.removeprefix("0:") if seconds < 3600 else text  # noqa: PLR2004 - an hour


def _levels(snapshot: dict[str, Any] | None) -> list[dict[str, Any]]:
    return list((snapshot or {}).get("levels", []))


class _Story:
    """Turns the alert's records into lines, remembering the policy it carried."""

    def __init__(self) -> None:
        self.snapshot: dict[str, Any] | None = None
        self.lines: list[str] = []

    def delay_of(self, level: int) -> str:
        levels = _levels(self.snapshot)
        if 1 <= level <= len(levels):
            return _duration(float(levels[level - 1]["delay_seconds"]))
        return "its delay"

    def tell(self, record: EventRecord) -> str | None:
        """The line for one record; None for records that repeat what is told already."""
        if record.type == ALERT_TRIGGERED:
            return self._routed(record.payload)
        if record.type == ALERT_ESCALATED:
            p = record.payload
            previous = p["level"] - 1 if p["level"] > 1 else len(_levels(self.snapshot))
            return (
                f"escalated: nobody acknowledged level {previous} within "
                f"{self.delay_of(previous)}; level {p['level']} (loop {p['loop']}) paged: "
                f"{', '.join(p['targets'])}"
            )
        teller = _TELLERS.get(record.type)
        return teller(record.payload) if teller else None

    def _routed(self, p: dict[str, Any]) -> str:
        self.snapshot = p.get("snapshot")
        routes = ", ".join(p.get("policy_ids") or []) or "none"
        lines = [f"routed: matching routes selected policies [{routes}]; policy {p['policy_id']}"]
        for number, level in enumerate(_levels(self.snapshot), start=1):
            quorum = ", one ack per component" if level.get("quorum") else ""
            lines.append(
                f"  level {number}: {', '.join(level['targets']) or 'nobody'} "
                f"(escalates after {_duration(float(level['delay_seconds']))}{quorum})"
            )
        if self.snapshot and self.snapshot.get("repeat"):
            lines.append(f"  repeats {self.snapshot['repeat']} more time(s)")
        lines.append(f"level 1 paged: {', '.join(p['targets']) or 'nobody'}")
        return "\n".join(lines)


def _raised(p: dict[str, Any]) -> str:
    return (
        f"raised by {p['raised_by']}: {p['severity']} {p['category']} in sector "
        f"{p['sector']} ({p['classification']}), origin {p['origin']}"
    )


def _requested(p: dict[str, Any]) -> str:
    channels = " -> ".join(c["channel"] for c in p.get("contacts", []))
    return (
        f"notify {p['person_id']} ({p.get('kind', 'page')}, level {p.get('level')}) via {channels}"
    )


def _channel_failed(p: dict[str, Any]) -> str:
    return f"{p['channel']} failed for {p['person_id']}: {p['error']}; next: {p['next_channel']}"


def _resolved(p: dict[str, Any]) -> str:
    return f"resolved by {p['person_id']}" + (f": {p['note']}" if p.get("note") else "")


_TELLERS: dict[str, Callable[[dict[str, Any]], str]] = {
    ALERT_RAISED: _raised,
    NOTIFICATION_REQUESTED: _requested,
    NOTIFICATION_DELIVERED: lambda p: (
        f"delivered to {p['person_id']} by {p['channel']} after {p['attempts']} attempt(s)"
    ),
    NOTIFICATION_CHANNEL_FAILED: _channel_failed,
    NOTIFICATION_FAILED: lambda p: f"NOT delivered to {p['person_id']}: {p['error']}",
    ALERT_ACK_RECORDED: lambda p: (
        f"acknowledged by {p['person_id']} ({p['component']}); still needed: "
        f"{', '.join(p['missing_components'])}"
    ),
    ALERT_ACKNOWLEDGED: lambda p: (
        f"acknowledged by {', '.join(p['acknowledged_by'])}: escalation stops"
    ),
    ALERT_RETRIGGERED: lambda _: "re-triggered: acknowledged but not resolved in the ack timeout",
    ALERT_EXHAUSTED: lambda p: f"escalation exhausted after {p['loops']} loop(s): JOC told",
    ALERT_RESOLVED: _resolved,
    ALERT_NOTE_ADDED: lambda p: f"note by {p['person_id']}: {p['text']}",
    ALERT_RELEASED: lambda p: f"released to partners by {p['person_id']}: on their CAP feed",
    ALERT_COMMAND_REJECTED: lambda p: f"refused {p['command']} by {p['person_id']}: {p['reason']}",
    ALERT_UNROUTED: lambda p: f"nobody could be paged: {p['reason']}",
    ALERT_TARGET_UNREACHABLE: lambda p: f"{p['person_id']} cannot be reached: {p['reason']}",
    ALERT_MERGED: lambda p: f"duplicate {p['duplicate_alert_id']} merged in (count {p['count']})",
    ALERT_DEDUPLICATED: lambda p: f"a duplicate: merged into {p['merged_into']}",
    ALERT_UPGRADED: lambda p: (
        f"raised by duplicate {p['duplicate_alert_id']} from {p['previous_severity']}/"
        f"{p['previous_urgency']} to {p['severity']}/{p['urgency']}; now following "
        f"{', '.join(p['policy_ids']) or 'no policy'}; paged: {', '.join(p['targets']) or 'nobody'}"
    ),
}


async def explain(session: AsyncSession, alert_id: str) -> list[str]:
    """The alert's story, one line per step (``T+offset  time  what``); empty if unknown."""
    found = (
        await session.scalars(
            select(EventRecord)
            .where(EventRecord.correlation_id == alert_id)
            .order_by(EventRecord.seq)
        )
    ).all()
    story = _Story()
    start: datetime | None = None
    for record in found:
        text = story.tell(record)
        if text is None:
            continue
        start = start or record.occurred_at
        offset = _duration((record.occurred_at - start).total_seconds())
        head = f"T+{offset:>8}  {record.occurred_at:%Y-%m-%d %H:%M:%S}  #{record.seq:<6} "
        story.lines.append(head + text.replace("\n", "\n" + " " * len(head)))
    return story.lines
