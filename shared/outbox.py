"""Transactional outbox: what a service publishes is staged in its own transaction.

A service adds the envelopes it wants to publish to its outbox table in the
same transaction as the state change that caused them: no event without its
committed change. The relay (``shared.outbox_relay``) then publishes pending
rows with confirms and deletes them, so an event survives a crash between
commit and publish (it is published again on restart, possibly twice;
consumers are idempotent).
"""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy import (
    Column,
    Integer,
    LargeBinary,
    String,
    Table,
    event,
    insert,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from shared.bus import to_outgoing
from shared.contracts.registry import is_published
from shared.db import Base, UTCDateTime
from shared.decisions import pack
from shared.envelope import Envelope, utc_now
from shared.event_log import refuse_savepoint

log = structlog.get_logger(__name__)

PENDING_KEY = "coord.outbox.pending"  # session.info: outboxes written by a commit
_STAGED_KEY = "coord.outbox.staged"  # session.info: envelopes staged, written before commit


class UnpublishableType(ValueError):
    """A type no queue takes was staged: it would be returned as unroutable, never delivered."""


def outbox_table(service: str) -> Table:
    """The outbox table owned by ``service``."""
    return Table(
        f"{service}_outbox",
        Base.metadata,
        Column("position", Integer, primary_key=True, autoincrement=True),
        Column("message_id", String(36), nullable=False, unique=True),
        Column("routing_key", String(100), nullable=False),
        Column("body", LargeBinary, nullable=False),
        Column("created_at", UTCDateTime(), nullable=False),
    )


async def add_to_outbox(session: AsyncSession, outbox: Table, *envelopes: Envelope) -> None:
    """Stage envelopes for publication when ``session``'s transaction commits.

    The rows are written just before the commit, every envelope the transaction staged
    in one statement (a batch of messages handled in one transaction stages many).
    Raises ``UnpublishableType`` for a type ``shared.contracts.registry`` routes to no
    queue: a programming error, refused here rather than jamming the outbox in production.
    """
    for envelope in envelopes:
        if not is_published(envelope.type):
            raise UnpublishableType(
                f"{envelope.type!r} is routed to no queue (shared/contracts/registry.py): "
                "register it with the queue that handles it, or only append it to the event log"
            )
    refuse_savepoint(session, "the outbox")
    if envelopes:
        staged: dict[Table, list[Envelope]] = session.sync_session.info.setdefault(_STAGED_KEY, {})
        staged.setdefault(outbox, []).extend(envelopes)


def _write_staged(session: Session) -> None:
    # Runs inside the async session's greenlet, so the sync calls below await the driver.
    if session.in_nested_transaction():
        return  # a savepoint released: the rows wait for the commit
    staged: dict[Table, list[Envelope]] = session.info.pop(_STAGED_KEY, {})
    now = utc_now()
    for outbox, envelopes in staged.items():
        rows: list[dict[str, Any]] = []
        for envelope in pack(envelopes):  # the router's events for the views go as one
            message = to_outgoing(envelope)
            rows.append(
                {
                    "message_id": message.message_id,
                    "routing_key": message.routing_key,
                    "body": message.body,
                    "created_at": now,
                }
            )
        session.execute(insert(outbox), rows)
        session.info.setdefault(PENDING_KEY, set()).add(outbox.name)


def _forget_staged(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # a rolled-back transaction stages nothing for the next
        session.info.pop(_STAGED_KEY, None)


# insert=True: before the event log's own writer, which takes the log's lock last.
event.listen(Session, "before_commit", _write_staged, insert=True)
event.listen(Session, "after_transaction_end", _forget_staged)
