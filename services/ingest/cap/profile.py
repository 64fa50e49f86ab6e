"""Who the mission is in CAP: its sender id and name, and the language of its alerts."""

from __future__ import annotations

from dataclasses import dataclass

from shared.settings import Settings


@dataclass(frozen=True)
class CapProfile:
    """Who the mission is to partners, and the language its alerts are written in.

    CAP ``sender`` and ``senderName`` (``COORD_CAP_SENDER``, ``COORD_CAP_SENDER_NAME``,
    ``COORD_CAP_LANGUAGE``), and where partners reach ingest (``COORD_PUBLIC_URL``: the
    partner feed's links are absolute).
    """

    sender: str = "coord@mission.example"
    sender_name: str = "Peacekeeping mission JOC"
    language: str = "en"
    public_url: str = "http://127.0.0.1:8000"
    development: bool = False  # COORD_ENV=development: the demo partner token is accepted

    @classmethod
    def from_settings(cls, settings: Settings) -> CapProfile:
        """The profile the settings configure."""
        return cls(
            settings.cap_sender,
            settings.cap_sender_name,
            settings.cap_language,
            settings.public_url.rstrip("/"),
            development=settings.env == "development",
        )
