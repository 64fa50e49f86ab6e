"""The router's alert tables: the alert's state (the system of record) and open dedup scopes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, UTCDateTime


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
    # The community contact who reported it by SMS: whom an officer's feedback goes to.
    reporter: Mapped[str | None] = mapped_column(String(64))
    # When an authorised person released it to partners' CAP feed (``alert.release``).
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OpenDedupKey(Base):
    """The dedup scope of an open alert (``services.router.alerts.dedup.DedupScope``).

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


class OpenAlertCode(Base):
    """The short code of an open alert (``services.router.alerts.codes``).

    The code is the primary key: two alerts racing for one code cannot both take it.
    Deleted when the alert is resolved, so the code serves another alert later.
    """

    __tablename__ = "router_open_alert_codes"

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    alert_id: Mapped[str] = mapped_column(String(36), unique=True)
