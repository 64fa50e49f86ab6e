"""Notification contracts: what the router asks and the notifier reports.

Version 2 names its subject (an alert, a coordination message, a recommendation)
with ``subject_type``/``subject_id`` and a ``summary``; the router asks in version 2
for every subject, and the notifier reports an outcome in the version of its request.

Version 1 was about alerts only (``alert_id``, ``alert``). It is no longer written,
but logs and queues still hold it: readers take any version through ``upcast_*``, which
read a version-1 event as version 2, so they are written against version 2 alone.
"""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.scalars import Integer


class NotificationKind(StrEnum):
    """Why a person is told something."""

    PAGE = "page"  # you are paged: acknowledge
    ACKNOWLEDGED = "acknowledged"  # someone acknowledged an alert you were paged for
    RESOLVED = "resolved"  # an alert you were paged for is resolved
    ESCALATION_EXHAUSTED = "escalation_exhausted"  # to the JOC: nobody acknowledged
    TARGET_UNREACHABLE = "target_unreachable"  # to the JOC: a target has no working channel
    UNROUTED = "unrouted"  # to the JOC: nobody could be paged at all
    MESSAGE = "message"  # a coordination message for you
    MESSAGE_UNDELIVERED = "message_undelivered"  # to the sender: some addressees not cleared
    MESSAGE_UNACKNOWLEDGED = "message_unacknowledged"  # to a superior: not acknowledged in time
    RECOMMENDATION = "recommendation"  # a recommendation for you: acknowledge, then respond
    RECOMMENDATION_ANSWERED = "recommendation_answered"  # to the author: acked or responded
    RECOMMENDATION_OVERDUE = "recommendation_overdue"  # to superiors: unanswered by due time
    NOBODY_TO_ESCALATE_TO = "nobody_to_escalate_to"  # to the JOC: no superior to tell
    # To a community contact who reported the alert: what an officer chose to release.
    COMMUNITY_FEEDBACK = "community_feedback"


class SubjectType(StrEnum):
    """What a version-2 notification is about."""

    ALERT = "alert"
    MESSAGE = "message"
    RECOMMENDATION = "recommendation"


#: The channels the notifier delivers on (its ``services.notifier.channels.CHANNELS``): the
#: router pages only contacts on these, and ``coord directory check`` warns of the others.
SUPPORTED_CHANNELS = ("webhook", "email", "sms")
# The channel of feedback to a community contact: the address is the contact's id, and
# the notifier opens their sealed number itself. Not a channel a person of the directory
# may list: it carries no address of its own.
COMMUNITY_SMS = "community_sms"


class ContactPoint(BaseModel):
    """One channel and address to try, in order of preference."""

    model_config = ConfigDict(extra="forbid")

    channel: str
    address: str


class AlertSummary(BaseModel):
    """What a notification may tell about an alert (never its source)."""

    model_config = ConfigDict(extra="forbid")

    title: str
    category: str
    severity: str
    urgency: str
    certainty: str
    sector: str
    location: dict[str, object]
    origin: str
    classification: str
    raised_at: str
    # The alert's short code (four digits, unique among open alerts): what an SMS reply
    # names it by. None on alerts triggered before codes existed.
    code: str | None = None


class NotificationRequestedV1(BaseModel):
    """Event ``notification.requested``: tell one person, trying their channels in order."""

    model_config = ConfigDict(extra="forbid")

    notification_id: UUID
    alert_id: UUID
    person_id: str
    kind: NotificationKind = NotificationKind.PAGE
    contacts: list[ContactPoint] = Field(min_length=1)
    policy_id: str | None
    level: Integer = Field(ge=1)
    message: str = Field(default="", description="A line for the person, e.g. who acknowledged")
    alert: AlertSummary


class NotificationDeliveredV1(BaseModel):
    """Event ``notification.delivered``: one channel took it."""

    model_config = ConfigDict(extra="forbid")

    notification_id: UUID
    alert_id: UUID
    person_id: str
    kind: NotificationKind = NotificationKind.PAGE
    channel: str
    attempts: Integer = Field(ge=1)


class NotificationFailedV1(BaseModel):
    """Event ``notification.failed``: every channel failed; ``error`` says why."""

    model_config = ConfigDict(extra="forbid")

    notification_id: UUID
    alert_id: UUID
    person_id: str
    kind: NotificationKind = NotificationKind.PAGE
    channel: str = Field(description="The last channel tried")
    attempts: Integer = Field(ge=1)
    error: str


class ChannelFailedV1(BaseModel):
    """Event ``notification.channel_failed``: one channel failed; the next is tried."""

    model_config = ConfigDict(extra="forbid")

    notification_id: UUID
    alert_id: UUID
    person_id: str
    channel: str
    attempts: Integer = Field(ge=1)
    error: str
    next_channel: str | None


class NotificationRequestedV2(BaseModel):
    """Event ``notification.requested`` version 2: about any subject."""

    model_config = ConfigDict(extra="forbid")

    notification_id: UUID
    subject_type: SubjectType
    subject_id: UUID
    person_id: str
    kind: NotificationKind
    contacts: list[ContactPoint] = Field(min_length=1)
    policy_id: str | None = None
    level: Integer = Field(default=1, ge=1)
    message: str = Field(default="", description="A line for the person")
    summary: dict[str, object] = Field(
        description="What the receiver is shown: a title and the subject's public fields"
    )
    language: str = Field(
        default="en", description="The person's language (the directory's): en | fr"
    )


class NotificationDeliveredV2(BaseModel):
    """Event ``notification.delivered`` version 2."""

    model_config = ConfigDict(extra="forbid")

    notification_id: UUID
    subject_type: SubjectType
    subject_id: UUID
    person_id: str
    kind: NotificationKind
    channel: str
    attempts: Integer = Field(ge=1)


class NotificationFailedV2(BaseModel):
    """Event ``notification.failed`` version 2."""

    model_config = ConfigDict(extra="forbid")

    notification_id: UUID
    subject_type: SubjectType
    subject_id: UUID
    person_id: str
    kind: NotificationKind
    channel: str = Field(description="The last channel tried")
    attempts: Integer = Field(ge=1)
    error: str


class ChannelFailedV2(BaseModel):
    """Event ``notification.channel_failed`` version 2."""

    model_config = ConfigDict(extra="forbid")

    notification_id: UUID
    subject_type: SubjectType
    subject_id: UUID
    person_id: str
    channel: str
    attempts: Integer = Field(ge=1)
    error: str
    next_channel: str | None


def _subject_of(v1: BaseModel) -> dict[str, object]:
    """A version-1 event's fields with ``alert_id`` renamed to the version-2 subject."""
    fields = v1.model_dump()
    fields["subject_type"] = SubjectType.ALERT
    fields["subject_id"] = fields.pop("alert_id")
    return fields


def upcast_requested(request: NotificationRequestedV1) -> NotificationRequestedV2:
    """A version-1 (alert) request as version 2; the alert summary becomes ``summary``."""
    fields = _subject_of(request)
    # Only what version 1 carried: a version-1 alert had no short code.
    fields["summary"] = request.alert.model_dump(mode="json", exclude={"code"})
    del fields["alert"]
    return NotificationRequestedV2.model_validate(fields)


def upcast_failed(failed: BaseModel) -> NotificationFailedV2:
    """A failed notification (``notification.failed`` of any version) in version 2."""
    if isinstance(failed, NotificationFailedV2):
        return failed
    if isinstance(failed, NotificationFailedV1):
        return NotificationFailedV2.model_validate(_subject_of(failed))
    raise TypeError(f"{type(failed).__name__} is not a failed notification")
