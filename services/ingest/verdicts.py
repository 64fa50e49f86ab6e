"""The router's verdicts on commands, and waiting for them.

A command (acknowledge, resolve, note, mark read, respond...) is staged by the
API and decided by the router, which answers with the subject's state after
it (``*.state_changed`` caused by the command) or a ``*.command_rejected``. The
views consumer records that verdict in the same transaction that applies the
state to the views; the API waits for it (``COORD_COMMAND_WAIT``) and answers
the person with it, so nobody is refused because a view lags behind.

Waiting is woken in-process by the consumer right after its commit, and polls
the table as well: on a replica whose consumer did not take the verdict.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.ingest.tables import CommandVerdictRecord
from shared.contracts import (
    ALERT_COMMAND_REJECTED,
    ALERT_STATE_CHANGED,
    MESSAGE_COMMAND_REJECTED,
    MESSAGE_STATE_CHANGED,
    RECOMMENDATION_COMMAND_REJECTED,
    RECOMMENDATION_STATE_CHANGED,
)
from shared.contracts.commands import Refusal
from shared.db import insert_ignoring_duplicates
from shared.envelope import Envelope, utc_now

# The events that carry a verdict on the command that caused them.
_ACCEPTED = frozenset({ALERT_STATE_CHANGED, MESSAGE_STATE_CHANGED, RECOMMENDATION_STATE_CHANGED})
_REJECTED = frozenset(
    {ALERT_COMMAND_REJECTED, MESSAGE_COMMAND_REJECTED, RECOMMENDATION_COMMAND_REJECTED}
)

# A verdict is read within seconds of its command; an hour covers any client retry.
KEEP_VERDICTS = timedelta(hours=1)


@dataclass(frozen=True)
class Verdict:
    """The router's decision on one command."""

    accepted: bool
    refusal: Refusal | None = None
    reason: str | None = None


def decides(envelope: Envelope) -> bool:
    """True when ``envelope`` is the router's verdict on the command that caused it."""
    return envelope.causation_id is not None and (
        envelope.type in _ACCEPTED or envelope.type in _REJECTED
    )


async def record_verdict(session: AsyncSession, envelope: Envelope) -> None:
    """Record the verdict ``envelope`` carries, if any, in the caller's transaction.

    The first verdict on a command stands (a redelivered event changes nothing).
    """
    if not decides(envelope):
        return
    rejected = envelope.type in _REJECTED
    refusal = envelope.payload.get("refusal", Refusal.WRONG_STATE.value) if rejected else None
    await insert_ignoring_duplicates(
        session,
        CommandVerdictRecord.__table__,  # type: ignore[arg-type]
        {
            "command_id": str(envelope.causation_id),
            "accepted": not rejected,
            "refusal": refusal,
            "reason": envelope.payload.get("reason") if rejected else None,
            "decided_at": utc_now(),
        },
    )


async def forget_older_than(session: AsyncSession, moment: datetime) -> None:
    """Delete verdicts decided before ``moment`` (nobody waits for them any more)."""
    await session.execute(
        delete(CommandVerdictRecord).where(CommandVerdictRecord.decided_at < moment)
    )


class VerdictWaiters:
    """Requests waiting for the router's verdict on their command, in this process."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, poll_interval: float = 0.25
    ) -> None:
        self._sessions = sessions
        self._poll_interval = poll_interval
        self._waiting: dict[str, asyncio.Event] = {}

    def wake(self, command_id: UUID | None) -> None:
        """A verdict on ``command_id`` was committed: wake whoever waits for it here."""
        if command_id is None:
            return
        event = self._waiting.get(str(command_id))
        if event is not None:
            event.set()

    async def wait(self, command_id: UUID, timeout: float) -> Verdict | None:  # noqa: ASYNC109 - the bound is the API's answer time, not a cancellation scope
        """The verdict on ``command_id``, or None if the router has not decided in ``timeout``."""
        key = str(command_id)
        event = self._waiting.setdefault(key, asyncio.Event())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while True:
                event.clear()
                verdict = await self._read(key)
                remaining = deadline - loop.time()
                if verdict is not None or remaining <= 0:
                    return verdict
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), min(remaining, self._poll_interval))
        finally:
            self._waiting.pop(key, None)

    async def _read(self, command_id: str) -> Verdict | None:
        async with self._sessions() as session:
            row = await session.get(CommandVerdictRecord, command_id)
        if row is None:
            return None
        refusal = Refusal(row.refusal) if row.refusal else None
        return Verdict(accepted=row.accepted, refusal=refusal, reason=row.reason)
