"""Payload models: the contract between the services.

``EVENT_TYPES`` maps an envelope's ``(type, schema_version)`` to its payload
model, so a consumer can validate any payload it receives.
"""

from __future__ import annotations

from pydantic import BaseModel

from shared.contracts.alerts import (
    AlertRaisedV1,
    AlertRaisedV2,
    AlertTriggeredV1,
    AlertUnroutedV1,
    AlertUpgradedV1,
    TargetUnreachableV1,
)
from shared.contracts.audit import AuditAccessedV1
from shared.contracts.decisions import RouterDecisionsV1
from shared.contracts.escalation import (
    AcknowledgeAlertV1,
    AcknowledgementRecordedV1,
    ActionLinkUsedV1,
    AddNoteV1,
    AlertAcknowledgedV1,
    AlertDeduplicatedV1,
    AlertEscalatedV1,
    AlertMergedV1,
    AlertReleasedV1,
    AlertResolvedV1,
    AlertRetriggeredV1,
    AlertStateV1,
    CommandRejectedV1,
    EscalationExhaustedV1,
    NoteAddedV1,
    ReleaseAlertV1,
    ResolveAlertV1,
    SmsReceivedV1,
    SmsTriagedV1,
)
from shared.contracts.messages import (
    AcknowledgeMessageV1,
    MarkReadV1,
    MessageAcknowledgedV1,
    MessageAddressedV1,
    MessageCommandRejectedV1,
    MessageEscalatedV1,
    MessageReadV1,
    MessageSentV1,
    MessageStateV1,
)
from shared.contracts.notifications import (
    ChannelFailedV1,
    ChannelFailedV2,
    NotificationDeliveredV1,
    NotificationDeliveredV2,
    NotificationFailedV1,
    NotificationFailedV2,
    NotificationRequestedV1,
    NotificationRequestedV2,
)
from shared.contracts.outbox import OutboxParkedV1, OutboxRowHandledV1
from shared.contracts.recommendations import (
    AcknowledgeRecommendationV1,
    RecommendationAcknowledgedV1,
    RecommendationCommandRejectedV1,
    RecommendationEscalatedV1,
    RecommendationIssuedV1,
    RecommendationRespondedV1,
    RecommendationStateV1,
    RecommendationSubmittedV1,
    RecommendationUndeliverableV1,
    RespondRecommendationV1,
)

ALERT_RAISED = "alert.raised"
ALERT_TRIGGERED = "alert.triggered"
ALERT_TARGET_UNREACHABLE = "alert.target_unreachable"
ALERT_UNROUTED = "alert.unrouted"
ALERT_ACKNOWLEDGE = "alert.acknowledge"
ALERT_RESOLVE = "alert.resolve"
ALERT_ADD_NOTE = "alert.add_note"
ALERT_RELEASE = "alert.release"
ALERT_ESCALATED = "alert.escalated"
ALERT_ACK_RECORDED = "alert.acknowledgement_recorded"
ALERT_ACKNOWLEDGED = "alert.acknowledged"
ALERT_RETRIGGERED = "alert.retriggered"
ALERT_EXHAUSTED = "alert.escalation_exhausted"
ALERT_RESOLVED = "alert.resolved"
ALERT_NOTE_ADDED = "alert.note_added"
ALERT_RELEASED = "alert.released"
ALERT_MERGED = "alert.merged"
ALERT_DEDUPLICATED = "alert.deduplicated"
ALERT_UPGRADED = "alert.upgraded"
ALERT_COMMAND_REJECTED = "alert.command_rejected"
ALERT_STATE_CHANGED = "alert.state_changed"
ALERT_LINK_USED = "alert.link_used"
SMS_RECEIVED = "sms.received"
SMS_TRIAGED = "sms.triaged"
NOTIFICATION_REQUESTED = "notification.requested"
NOTIFICATION_DELIVERED = "notification.delivered"
NOTIFICATION_FAILED = "notification.failed"
NOTIFICATION_CHANNEL_FAILED = "notification.channel_failed"
MESSAGE_SENT = "message.sent"
MESSAGE_MARK_READ = "message.mark_read"
MESSAGE_ACKNOWLEDGE = "message.acknowledge"
MESSAGE_ADDRESSED = "message.addressed"
MESSAGE_READ = "message.read"
MESSAGE_ACKNOWLEDGED = "message.acknowledged"
MESSAGE_ESCALATED = "message.escalated"
MESSAGE_COMMAND_REJECTED = "message.command_rejected"
MESSAGE_STATE_CHANGED = "message.state_changed"
RECOMMENDATION_SUBMITTED = "recommendation.submitted"
RECOMMENDATION_ACKNOWLEDGE = "recommendation.acknowledge"
RECOMMENDATION_RESPOND = "recommendation.respond"
RECOMMENDATION_ISSUED = "recommendation.issued"
RECOMMENDATION_UNDELIVERABLE = "recommendation.undeliverable"
RECOMMENDATION_ACKNOWLEDGED = "recommendation.acknowledged"
RECOMMENDATION_RESPONDED = "recommendation.responded"
RECOMMENDATION_ESCALATED = "recommendation.escalated"
RECOMMENDATION_COMMAND_REJECTED = "recommendation.command_rejected"
RECOMMENDATION_STATE_CHANGED = "recommendation.state_changed"
AUDIT_ACCESSED = "audit.accessed"
OUTBOX_PARKED = "outbox.parked"
OUTBOX_RETRIED = "outbox.retried"
OUTBOX_DROPPED = "outbox.dropped"
ROUTER_DECISIONS = "router.decisions"

EVENT_TYPES: dict[tuple[str, int], type[BaseModel]] = {
    (ALERT_RAISED, 1): AlertRaisedV1,
    (ALERT_RAISED, 2): AlertRaisedV2,
    (ALERT_TRIGGERED, 1): AlertTriggeredV1,
    (ALERT_TARGET_UNREACHABLE, 1): TargetUnreachableV1,
    (ALERT_UNROUTED, 1): AlertUnroutedV1,
    (ALERT_ACKNOWLEDGE, 1): AcknowledgeAlertV1,
    (ALERT_RESOLVE, 1): ResolveAlertV1,
    (ALERT_ADD_NOTE, 1): AddNoteV1,
    (ALERT_RELEASE, 1): ReleaseAlertV1,
    (ALERT_ESCALATED, 1): AlertEscalatedV1,
    (ALERT_ACK_RECORDED, 1): AcknowledgementRecordedV1,
    (ALERT_ACKNOWLEDGED, 1): AlertAcknowledgedV1,
    (ALERT_RETRIGGERED, 1): AlertRetriggeredV1,
    (ALERT_EXHAUSTED, 1): EscalationExhaustedV1,
    (ALERT_RESOLVED, 1): AlertResolvedV1,
    (ALERT_NOTE_ADDED, 1): NoteAddedV1,
    (ALERT_RELEASED, 1): AlertReleasedV1,
    (ALERT_MERGED, 1): AlertMergedV1,
    (ALERT_DEDUPLICATED, 1): AlertDeduplicatedV1,
    (ALERT_UPGRADED, 1): AlertUpgradedV1,
    (ALERT_COMMAND_REJECTED, 1): CommandRejectedV1,
    (ALERT_STATE_CHANGED, 1): AlertStateV1,
    (ALERT_LINK_USED, 1): ActionLinkUsedV1,
    (SMS_RECEIVED, 1): SmsReceivedV1,
    (SMS_TRIAGED, 1): SmsTriagedV1,
    (NOTIFICATION_REQUESTED, 1): NotificationRequestedV1,
    (NOTIFICATION_DELIVERED, 1): NotificationDeliveredV1,
    (NOTIFICATION_FAILED, 1): NotificationFailedV1,
    (NOTIFICATION_CHANNEL_FAILED, 1): ChannelFailedV1,
    (NOTIFICATION_REQUESTED, 2): NotificationRequestedV2,
    (NOTIFICATION_DELIVERED, 2): NotificationDeliveredV2,
    (NOTIFICATION_FAILED, 2): NotificationFailedV2,
    (NOTIFICATION_CHANNEL_FAILED, 2): ChannelFailedV2,
    (MESSAGE_SENT, 1): MessageSentV1,
    (MESSAGE_MARK_READ, 1): MarkReadV1,
    (MESSAGE_ACKNOWLEDGE, 1): AcknowledgeMessageV1,
    (MESSAGE_ADDRESSED, 1): MessageAddressedV1,
    (MESSAGE_READ, 1): MessageReadV1,
    (MESSAGE_ACKNOWLEDGED, 1): MessageAcknowledgedV1,
    (MESSAGE_ESCALATED, 1): MessageEscalatedV1,
    (MESSAGE_COMMAND_REJECTED, 1): MessageCommandRejectedV1,
    (MESSAGE_STATE_CHANGED, 1): MessageStateV1,
    (RECOMMENDATION_SUBMITTED, 1): RecommendationSubmittedV1,
    (RECOMMENDATION_ACKNOWLEDGE, 1): AcknowledgeRecommendationV1,
    (RECOMMENDATION_RESPOND, 1): RespondRecommendationV1,
    (RECOMMENDATION_ISSUED, 1): RecommendationIssuedV1,
    (RECOMMENDATION_UNDELIVERABLE, 1): RecommendationUndeliverableV1,
    (RECOMMENDATION_ACKNOWLEDGED, 1): RecommendationAcknowledgedV1,
    (RECOMMENDATION_RESPONDED, 1): RecommendationRespondedV1,
    (RECOMMENDATION_ESCALATED, 1): RecommendationEscalatedV1,
    (RECOMMENDATION_COMMAND_REJECTED, 1): RecommendationCommandRejectedV1,
    (RECOMMENDATION_STATE_CHANGED, 1): RecommendationStateV1,
    (AUDIT_ACCESSED, 1): AuditAccessedV1,
    (OUTBOX_PARKED, 1): OutboxParkedV1,
    (OUTBOX_RETRIED, 1): OutboxRowHandledV1,
    (OUTBOX_DROPPED, 1): OutboxRowHandledV1,
    (ROUTER_DECISIONS, 1): RouterDecisionsV1,
}


class UnknownEventType(ValueError):
    """An envelope names a type/version this code does not know."""


def payload_model(type_: str, version: int) -> type[BaseModel]:
    """The payload model of an event type and schema version."""
    try:
        return EVENT_TYPES[(type_, version)]
    except KeyError:
        raise UnknownEventType(f"unknown event type {type_!r} version {version}") from None
