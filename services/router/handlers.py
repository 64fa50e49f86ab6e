"""Bus handler of the router: dispatches each message to a service function, once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.router import directory_versions, outcomes
from services.router.alerts import commands
from services.router.alerts import service as alerts
from services.router.messages import service as messages
from services.router.recommendations import service as recommendations
from services.router.tables import INBOX
from shared.contracts import (
    ALERT_ACKNOWLEDGE,
    ALERT_ADD_NOTE,
    ALERT_LINK_USED,
    ALERT_RAISED,
    ALERT_RELEASE,
    ALERT_RESOLVE,
    AUDIT_ACCESSED,
    MESSAGE_ACKNOWLEDGE,
    MESSAGE_MARK_READ,
    MESSAGE_SENT,
    NOTIFICATION_CHANNEL_FAILED,
    NOTIFICATION_DELIVERED,
    NOTIFICATION_FAILED,
    OUTBOX_DROPPED,
    OUTBOX_PARKED,
    OUTBOX_RETRIED,
    RECOMMENDATION_ACKNOWLEDGE,
    RECOMMENDATION_RESPOND,
    RECOMMENDATION_SUBMITTED,
    SMS_RECEIVED,
    SMS_TRIAGED,
)
from shared.directory import Directory
from shared.directory_store import DIRECTORY_LOAD
from shared.envelope import Envelope
from shared.inbox import process_each_once

log = structlog.get_logger(__name__)

Effect = Callable[[AsyncSession, Directory, Envelope], Awaitable[None]]

EFFECTS: dict[str, Effect] = {
    ALERT_RAISED: alerts.trigger_alert,
    ALERT_ACKNOWLEDGE: commands.acknowledge_alert,
    ALERT_RESOLVE: commands.resolve_alert,
    ALERT_RELEASE: commands.release_alert,
    ALERT_ADD_NOTE: commands.add_note,
    NOTIFICATION_DELIVERED: outcomes.record_outcome,
    NOTIFICATION_CHANNEL_FAILED: outcomes.record_outcome,
    NOTIFICATION_FAILED: outcomes.record_failure,
    DIRECTORY_LOAD: directory_versions.on_directory_load,
    MESSAGE_SENT: messages.address_message,
    MESSAGE_MARK_READ: messages.mark_read,
    MESSAGE_ACKNOWLEDGE: messages.acknowledge_message,
    RECOMMENDATION_SUBMITTED: recommendations.issue,
    RECOMMENDATION_ACKNOWLEDGE: recommendations.acknowledge,
    RECOMMENDATION_RESPOND: recommendations.respond,
    AUDIT_ACCESSED: outcomes.record_outcome,  # reading the log is itself on the log
    ALERT_LINK_USED: outcomes.record_outcome,  # a page's one-time link, confirmed
    SMS_RECEIVED: outcomes.record_outcome,  # an SMS to coord, and what it did
    SMS_TRIAGED: outcomes.record_outcome,  # a CLA's decision on an unknown number's SMS
    # An outbox row the broker refused for good, and what an operator did with it.
    OUTBOX_PARKED: outcomes.record_outcome,
    OUTBOX_RETRIED: outcomes.record_outcome,
    OUTBOX_DROPPED: outcomes.record_outcome,
}


class RouterHandler:
    """Consumes ``router.inbox``, in batches (``batch`` for ``MessageBus.consume_batches``)."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], directory: Callable[[], Directory]
    ) -> None:
        self._sessions = sessions
        self._directory = directory

    async def __call__(self, envelope: Envelope) -> None:
        """Handle one message; a redelivered one has no second effect."""
        await self.batch((envelope,))

    async def batch(self, envelopes: Sequence[Envelope]) -> None:
        """Handle a batch in one transaction, in order; a redelivered message has no second effect.

        One transaction for what arrived together: one inbox statement, one append to the
        log (one take of its lock) and one outbox statement for the whole batch.
        """
        effects = {envelope.type: _effect_of(envelope) for envelope in envelopes}
        directory = self._directory()

        async def run(session: AsyncSession, envelope: Envelope) -> None:
            await effects[envelope.type](session, directory, envelope)

        done = await process_each_once(self._sessions, INBOX, envelopes, run)
        if len(done) < len(envelopes):
            log.info("message.duplicate_ignored", duplicates=len(envelopes) - len(done))


def _effect_of(envelope: Envelope) -> Effect:
    effect = EFFECTS.get(envelope.type)
    if effect is None:
        raise ValueError(f"router cannot handle {envelope.type!r}")
    return effect
