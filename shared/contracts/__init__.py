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
from shared.contracts.escalation import (
    AcknowledgeAlertV1,
    AcknowledgementRecordedV1,
    AddNoteV1,
    AlertAcknowledgedV1,
    AlertDeduplicatedV1,
    AlertEscalatedV1,
    AlertMergedV1,
    AlertResolvedV1,
    AlertRetriggeredV1,
    AlertStateV1,
    CommandRejectedV1,
    EscalationExhaustedV1,
    NoteAddedV1,
    ResolveAlertV1,
)
from shared.contracts.notifications import (
    ChannelFailedV1,
    NotificationDeliveredV1,
    NotificationFailedV1,
    NotificationRequestedV1,
)

ALERT_RAISED = "alert.raised"
ALERT_TRIGGERED = "alert.triggered"
ALERT_TARGET_UNREACHABLE = "alert.target_unreachable"
ALERT_UNROUTED = "alert.unrouted"
ALERT_ACKNOWLEDGE = "alert.acknowledge"
ALERT_RESOLVE = "alert.resolve"
ALERT_ADD_NOTE = "alert.add_note"
ALERT_ESCALATED = "alert.escalated"
ALERT_ACK_RECORDED = "alert.acknowledgement_recorded"
ALERT_ACKNOWLEDGED = "alert.acknowledged"
ALERT_RETRIGGERED = "alert.retriggered"
ALERT_EXHAUSTED = "alert.escalation_exhausted"
ALERT_RESOLVED = "alert.resolved"
ALERT_NOTE_ADDED = "alert.note_added"
ALERT_MERGED = "alert.merged"
ALERT_DEDUPLICATED = "alert.deduplicated"
ALERT_COMMAND_REJECTED = "alert.command_rejected"
ALERT_STATE_CHANGED = "alert.state_changed"
NOTIFICATION_REQUESTED = "notification.requested"
NOTIFICATION_DELIVERED = "notification.delivered"
NOTIFICATION_FAILED = "notification.failed"
NOTIFICATION_CHANNEL_FAILED = "notification.channel_failed"

EVENT_TYPES: dict[tuple[str, int], type[BaseModel]] = {
    (ALERT_RAISED, 1): AlertRaisedV1,
    (ALERT_TRIGGERED, 1): AlertTriggeredV1,
    (ALERT_TARGET_UNREACHABLE, 1): TargetUnreachableV1,
    (ALERT_UNROUTED, 1): AlertUnroutedV1,
    (ALERT_ACKNOWLEDGE, 1): AcknowledgeAlertV1,
    (ALERT_RESOLVE, 1): ResolveAlertV1,
    (ALERT_ADD_NOTE, 1): AddNoteV1,
    (ALERT_ESCALATED, 1): AlertEscalatedV1,
    (ALERT_ACK_RECORDED, 1): AcknowledgementRecordedV1,
    (ALERT_ACKNOWLEDGED, 1): AlertAcknowledgedV1,
    (ALERT_RETRIGGERED, 1): AlertRetriggeredV1,
    (ALERT_EXHAUSTED, 1): EscalationExhaustedV1,
    (ALERT_RESOLVED, 1): AlertResolvedV1,
    (ALERT_NOTE_ADDED, 1): NoteAddedV1,
    (ALERT_MERGED, 1): AlertMergedV1,
    (ALERT_DEDUPLICATED, 1): AlertDeduplicatedV1,
    (ALERT_COMMAND_REJECTED, 1): CommandRejectedV1,
    (ALERT_STATE_CHANGED, 1): AlertStateV1,
    (NOTIFICATION_REQUESTED, 1): NotificationRequestedV1,
    (NOTIFICATION_DELIVERED, 1): NotificationDeliveredV1,
    (NOTIFICATION_FAILED, 1): NotificationFailedV1,
    (NOTIFICATION_CHANNEL_FAILED, 1): ChannelFailedV1,
}


class UnknownEventType(ValueError):
    """An envelope names a type/version this code does not know."""


def payload_model(type_: str, version: int) -> type[BaseModel]:
    """The payload model of an event type and schema version."""
    try:
        return EVENT_TYPES[(type_, version)]
    except KeyError:
        raise UnknownEventType(f"unknown event type {type_!r} version {version}") from None
