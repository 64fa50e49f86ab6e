"""Feedback to the community: what an officer releases to whoever reported an alert.

An alert raised by a community contact's SMS names them as its ``reporter``. When an
officer acknowledges or resolves it with a ``community_message``, the router asks the
notifier to send exactly that text to the reporter (``community_sms``). Nothing is ever
sent without such a message: what a mission tells a village can endanger it, so a
person always chooses it (docs/sms.md#the-community-loop).
"""

from __future__ import annotations

from services.router.alerts.tables import AlertRecord
from services.router.alerts.transitions import EventFactory
from shared.community_contacts import community_reference
from shared.contracts import ALERT_TARGET_UNREACHABLE
from shared.contracts.notifications import NotificationKind
from shared.directory import Directory
from shared.envelope import Envelope


def community_feedback(
    record: AlertRecord, directory: Directory, text: str | None, events: EventFactory
) -> list[Envelope]:
    """The feedback request for ``text`` (none without a text or a reporter).

    A reporter no longer in the directory is ``alert.target_unreachable``: the officer
    sees on the timeline that the village was not told.
    """
    if text is None or record.reporter is None:
        return []
    contact = directory.community_contact(record.reporter)
    if contact is None:
        return [
            events.make(
                ALERT_TARGET_UNREACHABLE,
                {
                    "person_id": record.reporter,
                    "reason": "no longer among the directory's community contacts",
                    "kind": NotificationKind.COMMUNITY_FEEDBACK.value,
                },
            )
        ]
    summary: dict[str, object] = {"reference": community_reference(events.alert_id)}
    return [events.subject.community_feedback(contact, text, summary)]
