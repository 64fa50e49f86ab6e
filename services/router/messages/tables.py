"""The router's message table: the system of record of coordination messages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, UTCDateTime


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
