"""Tables of ingest's read side of alerts: the view, who it concerns, its timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, UTCDateTime


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
    code: Mapped[str | None] = mapped_column(String(8), index=True)  # while open: SMS replies
    # The community loop (services.ingest.sms.community): the community contact who
    # reported it by SMS, when they got their receipt, when feedback first reached them.
    reporter: Mapped[str | None] = mapped_column(String(64))
    receipt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    feedback_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # On partners' CAP feed since (the router's ``released_at``); indexed for the feed.
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)


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


class CapImportRecord(Base):
    """An alert a partner's CAP message became (``services.ingest.alerts.cap_import``).

    Keyed by the message's ``sender`` and ``identifier`` (CAP's identity of a message)
    and the alert's place among those it became: the same message again finds its
    alerts here instead of raising new ones.
    """

    __tablename__ = "ingest_cap_imports"

    sender: Mapped[str] = mapped_column(String(200), primary_key=True)
    identifier: Mapped[str] = mapped_column(String(200), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[str] = mapped_column(String(36))
    msg_type: Mapped[str] = mapped_column(String(10))
    imported_by: Mapped[str] = mapped_column(String(200))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime())
