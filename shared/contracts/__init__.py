"""Payload models: the contract between the services.

``EVENT_TYPES`` maps an envelope's ``(type, schema_version)`` to its payload
model, so a consumer can validate any payload it receives.
"""

from __future__ import annotations

from pydantic import BaseModel

from shared.contracts.alerts import (
    AlertRaisedV1,
    AlertTriggeredV1,
    AlertUnroutedV1,
    TargetUnreachableV1,
)
from shared.contracts.notifications import (
    NotificationDeliveredV1,
    NotificationFailedV1,
    NotificationRequestedV1,
)

ALERT_RAISED = "alert.raised"
ALERT_TRIGGERED = "alert.triggered"
ALERT_TARGET_UNREACHABLE = "alert.target_unreachable"
ALERT_UNROUTED = "alert.unrouted"
NOTIFICATION_REQUESTED = "notification.requested"
NOTIFICATION_DELIVERED = "notification.delivered"
NOTIFICATION_FAILED = "notification.failed"

EVENT_TYPES: dict[tuple[str, int], type[BaseModel]] = {
    (ALERT_RAISED, 1): AlertRaisedV1,
    (ALERT_TRIGGERED, 1): AlertTriggeredV1,
    (ALERT_TARGET_UNREACHABLE, 1): TargetUnreachableV1,
    (ALERT_UNROUTED, 1): AlertUnroutedV1,
    (NOTIFICATION_REQUESTED, 1): NotificationRequestedV1,
    (NOTIFICATION_DELIVERED, 1): NotificationDeliveredV1,
    (NOTIFICATION_FAILED, 1): NotificationFailedV1,
}


class UnknownEventType(ValueError):
    """An envelope names a type/version this code does not know."""


def payload_model(type_: str, version: int) -> type[BaseModel]:
    """The payload model of an event type and schema version."""
    try:
        return EVENT_TYPES[(type_, version)]
    except KeyError:
        raise UnknownEventType(f"unknown event type {type_!r} version {version}") from None
