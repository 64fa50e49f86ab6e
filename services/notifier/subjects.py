"""What a notification is about: its request read as version 2, and names for receivers.

The notifier reads ``notification.requested`` in version 1 (alerts only) and 2
(any subject); version 1 is upcast, so everything after ``read_request`` works
on ``NotificationRequestedV2`` alone. The request's version is still on its
envelope: the outcome events are reported in it (see ``outcomes``).
"""

from __future__ import annotations

from typing import Any

from shared.contracts import NOTIFICATION_REQUESTED, UnknownEventType, payload_model
from shared.contracts.notifications import (
    NotificationRequestedV1,
    NotificationRequestedV2,
    upcast_requested,
)
from shared.envelope import Envelope


def read_request(requested: Envelope) -> NotificationRequestedV2:
    """The request ``requested`` carries, as version 2 whatever its schema version.

    Raises ``UnknownEventType`` for another type or a version this code does not
    know, and pydantic's ``ValidationError`` for a payload that is not its version's.
    """
    if requested.type != NOTIFICATION_REQUESTED:
        raise UnknownEventType(f"the notifier does not handle {requested.type!r}")
    model = payload_model(NOTIFICATION_REQUESTED, requested.schema_version)
    request = model.model_validate(requested.payload)
    if isinstance(request, NotificationRequestedV1):
        return upcast_requested(request)
    if isinstance(request, NotificationRequestedV2):
        return request
    # Only if EVENT_TYPES named some other model for a new version: refuse, do not guess.
    raise UnknownEventType(
        f"{NOTIFICATION_REQUESTED!r} version {requested.schema_version} is not deliverable"
    )


def event_name(request: NotificationRequestedV2) -> str:
    """``<subject_type>.<kind>``, e.g. ``alert.page`` or ``message.message`` (X-Coord-Event)."""
    return f"{request.subject_type.value}.{request.kind.value}"


def subject_id_field(request: NotificationRequestedV2) -> str:
    """The name receivers know the subject's id by: ``alert_id``, ``message_id``, ..."""
    return f"{request.subject_type.value}_id"


def public_summary(request: NotificationRequestedV2) -> dict[str, Any]:
    """The summary as JSON values (a request built in code may hold UUIDs or datetimes)."""
    dumped: dict[str, Any] = request.model_dump(mode="json", include={"summary"})["summary"]
    return dumped
