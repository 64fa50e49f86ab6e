"""Tables the router owns (and alone writes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, UTCDateTime
from shared.event_log import EventRecord  # the router is the log's only writer
from shared.inbox import inbox_table
from shared.outbox import outbox_table
from shared.outbox_parking import parked_table

OUTBOX = outbox_table("router")
OUTBOX_PARKED = parked_table(OUTBOX)  # rows the broker refused for good
INBOX = inbox_table("router")

__all__ = [
    "INBOX",
    "OUTBOX",
    "OUTBOX_PARKED",
    "AlertRecord",
    "EventRecord",
    "MessageRecord",
    "OpenDedupKey",
    "RecommendationRecord",
]


class AlertRecord(Base):
    """The router's state of an alert: the system of record.

    The escalation timer lives on the row (``timer_kind``, ``timer_due_at``): an
    alert has at most one pending timer, replaced on every transition, so a
    timer can never outlive the state it was set for.
    """

    __tablename__ = "router_alerts"

    alert_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    status: Mapped[str] = mapped_column(String(20))
    policy_id: Mapped[str | None] = mapped_column(String(100))
    level: Mapped[int] = mapped_column(Integer)
    targets: Mapped[list[str]] = mapped_column(JSON)  # everyone paged so far
    sector: Mapped[str] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(50))
    severity: Mapped[str] = mapped_column(String(20))
    raised_by: Mapped[str] = mapped_column(String(200))
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime())
    triggered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    cycle: Mapped[int] = mapped_column(Integer, default=1)
    loop: Mapped[int] = mapped_column(Integer, default=0)
    exhausted: Mapped[bool] = mapped_column(Boolean, default=False)
    acknowledgements: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    timer_kind: Mapped[str | None] = mapped_column(String(20))
    timer_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    dedup_key: Mapped[str | None] = mapped_column(String(200))
    dedup_count: Mapped[int] = mapped_column(Integer, default=1)
    merged_into: Mapped[str | None] = mapped_column(String(36))
    version: Mapped[int] = mapped_column(Integer, default=1)


class OpenDedupKey(Base):
    """The dedup scope of an open alert (``services.router.alerts.DedupScope``).

    A key is a duplicate only within one sector, category and classification, so the
    scope is the primary key: two racing duplicates of a scope cannot both open, and a
    key never reaches another sector's, kind of threat's or classification's alert.
    """

    __tablename__ = "router_open_dedup_keys"

    dedup_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    sector: Mapped[str] = mapped_column(String(100), primary_key=True)
    category: Mapped[str] = mapped_column(String(50), primary_key=True)
    classification: Mapped[str] = mapped_column(String(30), primary_key=True)
    alert_id: Mapped[str] = mapped_column(String(36))


class MessageRecord(Base):
    """The router's state of a coordination message: per-addressee delivery, reads, acks.

    ``timer_due_at`` is when the next unacknowledged ``requires_ack`` addressee
    escalates (one pending timer per message, like an alert's).
    """

    __tablename__ = "router_messages"

    message_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    sender: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(300))
    classification: Mapped[str] = mapped_column(String(30))
    thread_id: Mapped[str] = mapped_column(String(36), index=True)
    requires_ack: Mapped[bool] = mapped_column(Boolean, default=False)
    ack_window_seconds: Mapped[float | None] = mapped_column(Float)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())
    addressees: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    timer_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)


class RecommendationRecord(Base):
    """The router's state of a recommendation (the state machine's fields, and its timer)."""

    __tablename__ = "router_recommendations"

    recommendation_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    author: Mapped[str] = mapped_column(String(200))
    sector: Mapped[str] = mapped_column(String(100))
    classification: Mapped[str] = mapped_column(String(30))
    action: Mapped[str] = mapped_column(Text)
    alert_id: Mapped[str | None] = mapped_column(String(36))
    due_by: Mapped[datetime] = mapped_column(UTCDateTime())
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(20))
    addressees: Mapped[list[str]] = mapped_column(JSON, default=list)
    addressee_component: Mapped[str | None] = mapped_column(String(30))
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    response: Mapped[str | None] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    responded_by: Mapped[str | None] = mapped_column(String(200))
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    escalated_to: Mapped[list[str]] = mapped_column(JSON, default=list)
    timer_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
