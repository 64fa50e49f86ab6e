"""Notification contracts, version 1: what the router asks and the notifier reports."""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class NotificationKind(StrEnum):
    """Why a person is told something."""

    PAGE = "page"  # you are paged: acknowledge
    ACKNOWLEDGED = "acknowledged"  # someone acknowledged an alert you were paged for
    RESOLVED = "resolved"  # an alert you were paged for is resolved
    ESCALATION_EXHAUSTED = "escalation_exhausted"  # to the JOC: nobody acknowledged
    TARGET_UNREACHABLE = "target_unreachable"  # to the JOC: a target has no working channel
    UNROUTED = "unrouted"  # to the JOC: nobody could be paged at all


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


class NotificationRequestedV1(BaseModel):
    """Event ``notification.requested``: tell one person, trying their channels in order."""

    model_config = ConfigDict(extra="forbid")

    notification_id: UUID
    alert_id: UUID
    person_id: str
    kind: NotificationKind = NotificationKind.PAGE
    contacts: list[ContactPoint] = Field(min_length=1)
    policy_id: str | None
    level: int = Field(ge=1)
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
    attempts: int = Field(ge=1)


class NotificationFailedV1(BaseModel):
    """Event ``notification.failed``: every channel failed; ``error`` says why."""

    model_config = ConfigDict(extra="forbid")

    notification_id: UUID
    alert_id: UUID
    person_id: str
    kind: NotificationKind = NotificationKind.PAGE
    channel: str = Field(description="The last channel tried")
    attempts: int = Field(ge=1)
    error: str


class ChannelFailedV1(BaseModel):
    """Event ``notification.channel_failed``: one channel failed; the next is tried."""

    model_config = ConfigDict(extra="forbid")

    notification_id: UUID
    alert_id: UUID
    person_id: str
    channel: str
    attempts: int = Field(ge=1)
    error: str
    next_channel: str | None
