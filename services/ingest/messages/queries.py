"""Reading coordination messages under need-to-know.

Only the sender and the delivered addressees see a message; to everyone else
it does not exist (the routes answer 404, never 403).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, and_, exists, null, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from services.ingest.messages.schemas import (
    AddresseeView,
    MessageListItem,
    MessagePage,
    MessageStatus,
    MessageView,
    ThreadView,
)
from services.ingest.messages.tables import MessageAddresseeRecord, MessageViewRecord
from services.ingest.pagination import decode_position, encode_position
from shared.addressing import cleared_classifications
from shared.directory import Person
from shared.envelope import Classification
from shared.permissions import Action, allowed, may_see_message
from shared.state_rows import state_from

_View = MessageViewRecord
_Addressee = MessageAddresseeRecord


@dataclass(frozen=True)
class MessageFilter:
    """What ``GET /v1/messages`` may filter on; ``box`` is ``inbox`` or ``sent``."""

    box: str = "inbox"
    thread_id: UUID | None = None
    unread: bool | None = None
    requires_ack: bool | None = None
    since: datetime | None = None


def _delivered_to(person_id: str) -> ColumnElement[bool]:
    return exists().where(
        _Addressee.message_id == _View.message_id,
        _Addressee.person_id == person_id,
        _Addressee.delivered == true(),
    )


def _cleared(person: Person) -> ColumnElement[bool]:
    return _View.classification.in_([c.value for c in cleared_classifications(person)])


def visible_to(person: Person) -> ColumnElement[bool]:
    """SQL twin of ``may_see``: cleared and the sender or a delivered addressee; auditors all."""
    if allowed(person, Action.AUDIT):
        return true()
    return and_(_cleared(person), or_(_View.sender == person.id, _delivered_to(person.id)))


def may_see(
    view: MessageViewRecord, addressees: Sequence[MessageAddresseeRecord], person: Person
) -> bool:
    """Cleared, and the sender or a delivered addressee; auditors see every message."""
    delivered = [a.person_id for a in addressees if a.delivered]
    return may_see_message(person, view.sender, delivered, Classification(view.classification))


def _status(view: MessageViewRecord, any_delivered: bool, awaiting_ack: bool) -> MessageStatus:
    """The message's status: it follows delivery, then the acknowledgements it asks for."""
    if view.version == 0:
        return "sending"
    if not any_delivered:
        return "undelivered"
    return "acknowledged" if view.requires_ack and not awaiting_ack else "delivered"


def to_view(
    view: MessageViewRecord, addressees: Sequence[MessageAddresseeRecord], person_id: str
) -> MessageView:
    """The message as ``person_id`` sees it: the sender sees the undelivered and why."""
    is_sender = view.sender == person_id
    return state_from(
        MessageView,
        view,
        id=view.message_id,
        # Only the sender sees whom they addressed, and who was not delivered and why.
        to=view.to if is_sender else None,
        status=_status(
            view,
            any(a.delivered for a in addressees),
            any(a.delivered and a.acknowledged_at is None for a in addressees),
        ),
        addressees=[state_from(AddresseeView, a) for a in addressees if is_sender or a.delivered],
    )


async def addressees_of(
    session: AsyncSession, message_ids: Sequence[str]
) -> dict[str, list[MessageAddresseeRecord]]:
    """The addressee rows of each message, in the order the router gave them."""
    if not message_ids:
        return {}
    rows = await session.scalars(
        select(_Addressee)
        .where(_Addressee.message_id.in_(message_ids))
        .order_by(_Addressee.position)
    )
    found: dict[str, list[MessageAddresseeRecord]] = defaultdict(list)
    for row in rows:
        found[row.message_id].append(row)
    return found


async def get_message(
    session: AsyncSession, message_id: UUID, person: Person
) -> MessageView | None:
    """The message as ``person`` sees it; None when unknown or not theirs to see."""
    view = await session.get(_View, str(message_id))
    if view is None:
        return None
    addressees = (await addressees_of(session, [view.message_id])).get(view.message_id, [])
    if not may_see(view, addressees, person):
        return None
    return to_view(view, addressees, person.id)


async def get_thread(session: AsyncSession, thread_id: UUID, person: Person) -> ThreadView | None:
    """The thread's messages ``person`` can see, oldest first; None when there are none."""
    person_id = person.id
    views = (
        await session.scalars(
            select(_View)
            .where(_View.thread_id == str(thread_id), visible_to(person))
            .order_by(_View.sent_at, _View.message_id)
        )
    ).all()
    if not views:
        return None
    addressees = await addressees_of(session, [v.message_id for v in views])
    return ThreadView(
        thread_id=thread_id,
        messages=[to_view(v, addressees.get(v.message_id, []), person_id) for v in views],
    )


async def list_messages(
    session: AsyncSession, person: Person, where: MessageFilter, limit: int, cursor: str | None
) -> MessagePage:
    """The caller's inbox (or sent box) matching ``where``, newest first, ``limit`` at a time."""
    person_id = person.id
    anyone = aliased(_Addressee)  # the inbox joins _Addressee itself: keep them apart
    any_delivered = (
        exists()
        .where(anyone.message_id == _View.message_id, anyone.delivered == true())
        .label("any_delivered")
    )
    silent = aliased(_Addressee)
    awaiting_ack = (
        exists()
        .where(
            silent.message_id == _View.message_id,
            silent.delivered == true(),
            silent.acknowledged_at.is_(None),
        )
        .label("awaiting_ack")
    )
    query: Any
    if where.box == "sent":
        query = select(
            _View,
            any_delivered,
            awaiting_ack,
            null().label("read_at"),
            null().label("acknowledged_at"),
        ).where(_View.sender == person_id)
    else:
        query = select(
            _View, any_delivered, awaiting_ack, _Addressee.read_at, _Addressee.acknowledged_at
        ).join(
            _Addressee,
            and_(
                _Addressee.message_id == _View.message_id,
                _Addressee.person_id == person_id,
                _Addressee.delivered == true(),
            ),
        )
        if where.unread is not None:
            query = query.where(
                _Addressee.read_at.is_(None) if where.unread else _Addressee.read_at.is_not(None)
            )
    query = query.where(_cleared(person))
    if where.thread_id is not None:
        query = query.where(_View.thread_id == str(where.thread_id))
    if where.requires_ack is not None:
        query = query.where(_View.requires_ack == where.requires_ack)
    if where.since is not None:
        query = query.where(_View.sent_at >= where.since)
    if cursor:
        sent_at, message_id = decode_position(cursor)
        query = query.where(
            or_(
                _View.sent_at < sent_at,
                and_(_View.sent_at == sent_at, _View.message_id < message_id),
            )
        )
    query = query.order_by(_View.sent_at.desc(), _View.message_id.desc()).limit(limit + 1)
    rows = (await session.execute(query)).all()
    page, more = rows[:limit], len(rows) > limit
    items = [
        state_from(
            MessageListItem,
            view,
            id=view.message_id,
            status=_status(view, bool(delivered), bool(awaiting)),
            read_at=read_at,
            acknowledged_at=acknowledged_at,
        )
        for view, delivered, awaiting, read_at, acknowledged_at in page
    ]
    last = page[-1][0] if page else None
    return MessagePage(
        items=items,
        next_cursor=encode_position(last.sent_at, last.message_id) if more and last else None,
    )
