"""The router's recommendation table: the system of record of recommendations."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, UTCDateTime


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
