"""Tables ingest owns: idempotency keys and the alert read side."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, UTCDateTime
from shared.outbox import outbox_table
from shared.outbox_parking import parked_table

OUTBOX = outbox_table("ingest")
OUTBOX_PARKED = parked_table(OUTBOX)  # rows the broker refused for good


class IdempotencyKeyRecord(Base):
    """A person's ``Idempotency-Key``: what it was first used for (``services.ingest.idempotency``).

    One key per person, whatever it created: ``kind`` says what (alert, message,
    recommendation) and ``subject_id`` which; ``request_hash`` is a keyed digest of the
    request, never the request.
    """

    __tablename__ = "ingest_idempotency_keys"

    person_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    request_hash: Mapped[str] = mapped_column(String(64))
    subject_id: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AlertViewRecord(Base):
    """The alert as the API shows it, kept up to date from the events."""

    __tablename__ = "ingest_alert_views"

    alert_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    status: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(50))
    severity: Mapped[str] = mapped_column(String(20))
    urgency: Mapped[str] = mapped_column(String(20))
    certainty: Mapped[str] = mapped_column(String(20))
    sector: Mapped[str] = mapped_column(String(100), index=True)
    location: Mapped[dict[str, Any]] = mapped_column(JSON)
    origin: Mapped[str] = mapped_column(String(20))
    classification: Mapped[str] = mapped_column(String(30))
    raised_by: Mapped[str] = mapped_column(String(200))
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    policy_id: Mapped[str | None] = mapped_column(String(100))
    level: Mapped[int | None] = mapped_column(Integer)
    targets: Mapped[list[str]] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=0)  # of the router's state applied
    loop: Mapped[int] = mapped_column(Integer, default=0)
    exhausted: Mapped[bool] = mapped_column(Boolean, default=False)
    next_escalation_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledgements: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    chain: Mapped[list[str]] = mapped_column(JSON, default=list)
    dedup_count: Mapped[int] = mapped_column(Integer, default=1)
    merged_into: Mapped[str | None] = mapped_column(String(36))


class AlertPersonRecord(Base):
    """Someone an alert concerns by name: paged or on its chain (need-to-know in SQL).

    Rows are only added: having been paged for an alert keeps it visible to you.
    """

    __tablename__ = "ingest_alert_people"

    alert_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    person_id: Mapped[str] = mapped_column(String(200), primary_key=True, index=True)


class TimelineRecord(Base):
    """One event of an alert's timeline (keyed by event id, so replays are no-ops)."""

    __tablename__ = "ingest_alert_timeline"

    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    alert_id: Mapped[str] = mapped_column(String(36), index=True)
    type: Mapped[str] = mapped_column(String(100))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


class CommandVerdictRecord(Base):
    """The router's verdict on a command ingest staged, taken from its events.

    Written in the transaction that applies the verdict's state to the views, so a
    person answered with an accepted verdict reads its effect right after.
    """

    __tablename__ = "ingest_command_verdicts"

    command_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    accepted: Mapped[bool] = mapped_column(Boolean)
    refusal: Mapped[str | None] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
