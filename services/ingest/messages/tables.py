"""Tables of ingest's read side of coordination messages.

One row per message (what was sent, and the version of the router's state
applied), and one row per resolved addressee, so an inbox is an indexed query
by person. Only ingest writes them: the message row when it accepts the
message, the addressee rows from ``message.state_changed``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, UTCDateTime


class MessageViewRecord(Base):
    """A coordination message as ingest accepted it, with the router's state version."""

    __tablename__ = "ingest_message_views"
    __table_args__ = (Index("ix_ingest_message_views_sender_sent_at", "sender", "sent_at"),)

    message_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    thread_id: Mapped[str] = mapped_column(String(36), index=True)
    in_reply_to: Mapped[str | None] = mapped_column(String(36))
    sender: Mapped[str] = mapped_column(String(200))
    to: Mapped[dict[str, Any]] = mapped_column(JSON)  # the Addressees as sent
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    classification: Mapped[str] = mapped_column(String(30))
    requires_ack: Mapped[bool] = mapped_column(Boolean)
    ack_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    version: Mapped[int] = mapped_column(Integer, default=0)  # of the router's state applied
    next_escalation_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class MessageAddresseeRecord(Base):
    """One resolved addressee of a message and their status (from the router's state)."""

    __tablename__ = "ingest_message_addressees"
    __table_args__ = (
        Index("ix_ingest_message_addressees_person_id_delivered", "person_id", "delivered"),
    )

    message_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    person_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)  # in the router's list
    delivered: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(Text)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    escalated_to: Mapped[list[str]] = mapped_column(JSON, default=list)
