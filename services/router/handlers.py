"""Bus handler of the router: dispatches each message to a service function, once."""

from __future__ import annotations

from functools import partial

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.router import alerts
from services.router.tables import INBOX
from shared.contracts import ALERT_RAISED, NOTIFICATION_DELIVERED, NOTIFICATION_FAILED
from shared.directory import Directory
from shared.envelope import Envelope
from shared.inbox import process_once

log = structlog.get_logger(__name__)


class RouterHandler:
    """Consumes ``router.inbox``."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], directory: Directory) -> None:
        self._sessions = sessions
        self._directory = directory

    async def __call__(self, envelope: Envelope) -> None:
        """Handle one message; a redelivered one has no second effect."""
        if envelope.type == ALERT_RAISED:
            effect = partial(alerts.trigger_alert, directory=self._directory, raised=envelope)
        elif envelope.type in (NOTIFICATION_DELIVERED, NOTIFICATION_FAILED):
            effect = partial(alerts.record_event, envelope=envelope)
        else:
            raise ValueError(f"router cannot handle {envelope.type!r}")
        if not await process_once(self._sessions, INBOX, envelope, effect):
            log.info("message.duplicate_ignored")
