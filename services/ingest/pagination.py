"""Cursor pagination of every list: opaque cursors, and the one error for a forged one.

A cursor is the position of the last item of a page: in a newest-first list, the
item's time and id (ties broken by id); in the audit log, a sequence number. It is
opaque to clients (base64url) and carries no credential: the next page is read with
the caller's own rights.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from uuid import UUID

from services.ingest.errors import InvalidRequest

_SEQUENCE_PREFIX = "seq:"
_INVALID = "cursor is not valid; pass back next_cursor unchanged"


class BadCursor(InvalidRequest):
    """The cursor was not made by this API (a 422 naming ``query.cursor``)."""

    def __init__(self) -> None:
        super().__init__([(("cursor",), _INVALID)], part="query")


def encode_position(at: datetime, item_id: str) -> str:
    """The cursor after the item of time ``at`` and id ``item_id``."""
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{item_id}".encode()).decode()


def decode_position(cursor: str) -> tuple[datetime, str]:
    """The time and id a cursor of ``encode_position`` stands for; BadCursor otherwise."""
    try:
        at, item_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        position = datetime.fromisoformat(at)
        identifier = str(UUID(item_id))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        position = None
    if position is None or position.tzinfo is None:  # not one this API made
        raise BadCursor()
    return position, identifier


def encode_sequence(seq: int) -> str:
    """The cursor after the log record numbered ``seq``."""
    return base64.urlsafe_b64encode(f"{_SEQUENCE_PREFIX}{seq}".encode()).decode()


def decode_sequence(cursor: str) -> int:
    """The sequence number a cursor of ``encode_sequence`` stands for; BadCursor otherwise."""
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError):
        text = ""
    number = text.removeprefix(_SEQUENCE_PREFIX)
    if not text.startswith(_SEQUENCE_PREFIX) or not number.isascii() or not number.isdigit():
        raise BadCursor()
    return int(number)
