"""Notification contracts, version 1: what the router asks and the notifier reports."""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


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
    """Event ``notification.requested``: deliver one page to one person on one channel."""

    model_config = ConfigDict(extra="forbid")

    notification_id: UUID
    alert_id: UUID
    person_id: str
    channel: str
    address: str
    policy_id: str | None
    level: int = Field(ge=1)
    alert: AlertSummary


class NotificationDeliveredV1(BaseModel):
    """Event ``notification.delivered``."""

    model_config = ConfigDict(extra="forbid")

    notification_id: UUID
    alert_id: UUID
    person_id: str
    channel: str
    attempts: int = Field(ge=1)


class NotificationFailedV1(NotificationDeliveredV1):
    """Event ``notification.failed``: every attempt failed; ``error`` says why."""

    error: str
