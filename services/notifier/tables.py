"""Tables the notifier owns."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, UTCDateTime
from shared.outbox import outbox_table
from shared.outbox_parking import parked_table

OUTBOX = outbox_table("notifier")
OUTBOX_PARKED = parked_table(OUTBOX)  # rows the broker refused for good


class DeliveryRecord(Base):
    """One notification's delivery: claimed by one worker at a time, then final.

    This is the notifier's idempotent inbox: keyed by notification id, it makes
    a duplicate request (the router's outbox may publish twice) a no-op.
    """

    __tablename__ = "notifier_deliveries"

    notification_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # The id of the notification's subject (an alert, message or recommendation): named
    # alert_id from when only alerts were notified; renaming it would need a migration.
    alert_id: Mapped[str] = mapped_column(String(36), index=True)
    person_id: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(30))
    state: Mapped[str] = mapped_column(String(20))  # in_progress | delivered | failed
    claimed_until: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SmsRecord(Base):
    """One SMS handed to the gateway, and what its delivery reports said.

    Written just before the SMS is handed to Kannel (its reports may come back before
    Kannel's answer does), deleted if Kannel never takes it. A worker taking over a
    crashed delivery finds it and waits for its report instead of sending it again.
    """

    __tablename__ = "notifier_sms"

    sms_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    notification_id: Mapped[str] = mapped_column(String(36), index=True)
    address: Mapped[str] = mapped_column(String(80))  # E.164, or "community:<contact id>"
    segments: Mapped[int] = mapped_column(Integer)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[int | None] = mapped_column(Integer)  # Kannel's last report: 1, 2, 4, 8, 16
    final: Mapped[bool] = mapped_column(Boolean, default=False)
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
