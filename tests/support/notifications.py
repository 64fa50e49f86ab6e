"""``notification.requested`` payloads as the router sends them (version 1 and 2).

Shared by the unit tests of the notifier's channels (webhook, email) and of the
request's upcast; no I/O.
"""

from __future__ import annotations

from uuid import UUID, uuid4

from shared.contracts.notifications import (
    AlertSummary,
    ContactPoint,
    NotificationKind,
    NotificationRequestedV1,
    NotificationRequestedV2,
    SubjectType,
    upcast_requested,
)

URL = "http://receiver.test/awa?token=private"


def v1_request(**overrides: object) -> NotificationRequestedV1:
    """A version-1 (alert) request, as the router sends it."""
    fields: dict[str, object] = {
        "notification_id": uuid4(),
        "alert_id": uuid4(),
        "person_id": "awa.hfo",
        "contacts": [ContactPoint(channel="webhook", address=URL)],
        "policy_id": "poc-urgent",
        "level": 1,
        "alert": AlertSummary(
            title="Abduction reported near Mavivi",
            category="abduction",
            severity="severe",
            urgency="immediate",
            certainty="observed",
            sector="beni",
            location={"name": "Mavivi", "lat": 0.55, "lon": 29.47},
            origin="community",
            classification="confidential",
            raised_at="2026-11-23T10:00:00+00:00",
        ),
    }
    fields.update(overrides)
    return NotificationRequestedV1.model_validate(fields)


def request(**overrides: object) -> NotificationRequestedV2:
    """A version-1 alert request as the notifier delivers it: upcast to version 2."""
    return upcast_requested(v1_request(**overrides))


MESSAGE_ID = UUID("6d3c1c1e-5b4a-4f7e-9a53-0d8f3e2b7a10")
RECOMMENDATION_ID = UUID("0b6f4c2d-8e1a-4c3b-b7d5-2a9e6f1c4d80")
LINKED_ALERT = "9f1e2d3c-4b5a-4678-9a0b-1c2d3e4f5a6b"
MESSAGE_SUMMARY: dict[str, object] = {
    "title": "Convoy to Eringeti postponed",
    "classification": "confidential",
    "sender": "lucas.ho",
    "sent_at": "2026-11-23T10:00:00+00:00",
}
RECOMMENDATION_SUMMARY: dict[str, object] = {
    "title": "Reinforce patrols on the Mavivi road",
    "classification": "unclassified",
    "sector": "beni",
    "due_by": "2026-11-24T10:00:00+00:00",
    "alert_id": LINKED_ALERT,
}


def subject_request(
    subject_type: SubjectType,
    kind: NotificationKind,
    summary: dict[str, object],
    **overrides: object,
) -> NotificationRequestedV2:
    """A version-2 request about a message or a recommendation."""
    fields: dict[str, object] = {
        "notification_id": UUID("3a7e9c51-2f6d-4b8e-a1c4-5d7f9e0b2c36"),
        "subject_type": subject_type,
        "subject_id": MESSAGE_ID if subject_type is SubjectType.MESSAGE else RECOMMENDATION_ID,
        "person_id": "awa.hfo",
        "kind": kind,
        "contacts": [ContactPoint(channel="webhook", address=URL)],
        "message": "",
        "summary": summary,
    }
    fields.update(overrides)
    return NotificationRequestedV2.model_validate(fields)
