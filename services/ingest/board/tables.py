"""The board's one table: which one-time links have been spent."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, UTCDateTime


class ActionLinkUseRecord(Base):
    """A page's one-time link, spent: its nonce is the key, so it is spent once only."""

    __tablename__ = "ingest_action_link_uses"

    nonce: Mapped[str] = mapped_column(String(32), primary_key=True)
    alert_id: Mapped[str] = mapped_column(String(36))
    person_id: Mapped[str] = mapped_column(String(200))
    used_at: Mapped[datetime] = mapped_column(UTCDateTime())
