"""Tables ingest owns: idempotency keys and the alert read side."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, String, Text
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
