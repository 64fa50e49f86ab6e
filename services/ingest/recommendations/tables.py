"""Tables of ingest's read side of recommendations.

One row per recommendation (what was submitted, and the router's state of the
newest version applied), one row per resolved addressee (so "addressed to me"
is an indexed query), and the timeline of its events keyed by event id (so a
redelivered event is a no-op). Only ingest writes them: the view row when it
accepts the recommendation, the rest from the ``recommendation.*`` events.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, UTCDateTime


class RecommendationViewRecord(Base):
    """A recommendation as ingest accepted it, with the router's newest state."""

    __tablename__ = "ingest_recommendation_views"
    __table_args__ = (
        Index("ix_ingest_recommendation_views_author_submitted_at", "author", "submitted_at"),
    )

    recommendation_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    author: Mapped[str] = mapped_column(String(200))
    addressee: Mapped[dict[str, Any]] = mapped_column(JSON)  # {"role": ...} or {"person": ...}
    sector: Mapped[str] = mapped_column(String(100), index=True)
    action: Mapped[str] = mapped_column(Text)
    rationale: Mapped[str] = mapped_column(Text)
    due_by: Mapped[datetime] = mapped_column(UTCDateTime())
    alert_id: Mapped[str | None] = mapped_column(String(36))
    classification: Mapped[str] = mapped_column(String(30))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
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
    version: Mapped[int] = mapped_column(Integer, default=0)  # of the router's state applied


class RecommendationAddresseeRecord(Base):
    """One person a recommendation was issued to (from ``recommendation.state_changed``)."""

    __tablename__ = "ingest_recommendation_addressees"

    recommendation_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    person_id: Mapped[str] = mapped_column(String(200), primary_key=True, index=True)


class RecommendationTimelineRecord(Base):
    """One event of a recommendation's history (keyed by event id: replays are no-ops)."""

    __tablename__ = "ingest_recommendation_timeline"

    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    recommendation_id: Mapped[str] = mapped_column(String(36), index=True)
    type: Mapped[str] = mapped_column(String(100))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
