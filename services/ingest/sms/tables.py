"""Ingest's SMS table: what unknown numbers sent, waiting for a CLA's triage."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, UTCDateTime


class TriageRecord(Base):
    """An SMS from a number coord does not know (services.ingest.sms.triage).

    The sender's number is sealed like an alert's source (bound to the triage id), with a
    keyed digest to count repeats; the text is kept for the CLA who reads it.
    """

    __tablename__ = "ingest_sms_triage"

    triage_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    gateway_id: Mapped[str] = mapped_column(String(100), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    sender: Mapped[dict[str, Any]] = mapped_column(JSON)  # a SealedSource
    sender_digest: Mapped[str] = mapped_column(String(64), index=True)
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), index=True)  # open|promoted|dismissed
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reason: Mapped[str | None] = mapped_column(Text)
    alert_id: Mapped[str | None] = mapped_column(String(36))
