"""Tables every domain of the router shares: its outbox, inbox and the event log.

Each domain declares its own state table (``alerts.tables``, ``messages.tables``,
``recommendations.tables``); the router alone writes all of them.
"""

from __future__ import annotations

from shared.event_log import EventRecord  # the router is the log's only writer
from shared.inbox import inbox_table
from shared.outbox import outbox_table
from shared.outbox_parking import parked_table

OUTBOX = outbox_table("router")
OUTBOX_PARKED = parked_table(OUTBOX)  # rows the broker refused for good
INBOX = inbox_table("router")

__all__ = [
    "INBOX",
    "OUTBOX",
    "OUTBOX_PARKED",
    "EventRecord",
]
