"""Request and response models of the coordination-message API (version 1)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from shared.contracts.messages import Addressees
from shared.contracts.scalars import Flag
from shared.envelope import Classification, Moment, utc_now

MessageStatus = Literal["sending", "delivered", "acknowledged", "undelivered"]

_SEND_EXAMPLE: dict[str, Any] = {
    "to": {"components": ["military"], "sectors": ["beni"], "persons": ["awa.hfo"]},
    "subject": "Patrol to Mavivi at 14:00",
    "body": "Joint patrol leaves Beni base at 14:00; confirm escort availability.",
    "classification": "confidential",
    "requires_ack": True,
    "ack_due_at": "2026-11-23T13:00:00Z",
}


class SendMessageBody(BaseModel):
    """The body of ``POST /v1/messages``."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_SEND_EXAMPLE]})

    to: Addressees
    subject: str = Field(min_length=1, max_length=300)
    body: str = Field(min_length=1, max_length=20_000)
    classification: Classification = Classification.UNCLASSIFIED
    in_reply_to: UUID | None = Field(
        default=None, description="A message the sender can see; the reply joins its thread"
    )
    requires_ack: Flag = False
    ack_due_at: Moment | None = Field(
        default=None,
        validate_default=True,
        description="Required, and in the future, when requires_ack is true",
    )

    @field_validator("ack_due_at")
    @classmethod
    def _due_time_with_ack(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        requires_ack = info.data.get("requires_ack")
        if requires_ack is True:
            if value is None:
                raise ValueError("ack_due_at is required when requires_ack is true")
            if value <= utc_now():
                raise ValueError("ack_due_at must be in the future")
        elif requires_ack is False and value is not None:
            raise ValueError("ack_due_at is only for a message with requires_ack: true")
        return value


class AddresseeView(BaseModel):
    """One resolved addressee and where they stand."""

    person_id: str
    delivered: bool
    reason: str | None = Field(
        default=None, description="Why it was not delivered (shown to the sender only)"
    )
    read_at: datetime | None
    acknowledged_at: datetime | None
    escalation_level: int
    escalated_to: list[str]


class MessageView(BaseModel):
    """A message as one reader sees it (need-to-know: sender and delivered addressees)."""

    id: UUID
    thread_id: UUID
    in_reply_to: UUID | None
    sender: str
    to: Addressees | None = Field(description="The addressing as sent (shown to the sender only)")
    subject: str
    body: str
    classification: Classification
    requires_ack: bool
    ack_due_at: datetime | None
    sent_at: datetime
    status: MessageStatus = Field(
        description="sending until the router has addressed it; then delivered when someone "
        "got it, else undelivered; acknowledged once every addressee it was delivered to "
        "acknowledged a message that asks for it"
    )
    next_escalation_at: datetime | None
    addressees: list[AddresseeView] = Field(
        description="Everyone resolved; undelivered ones are shown to the sender only"
    )

    @classmethod
    def example(cls) -> dict[str, Any]:
        """An example for the OpenAPI document."""
        return {
            "id": "5f0c1a8e-7d2b-4c1e-9a43-1c2d3e4f5a6b",
            "thread_id": "5f0c1a8e-7d2b-4c1e-9a43-1c2d3e4f5a6b",
            "in_reply_to": None,
            "sender": "jo.operator",
            "to": {"components": ["military"], "roles": [], "persons": [], "sectors": ["beni"]},
            "subject": "Patrol to Mavivi at 14:00",
            "body": "Joint patrol leaves Beni base at 14:00; confirm escort availability.",
            "classification": "confidential",
            "requires_ack": True,
            "ack_due_at": "2026-11-23T13:00:00Z",
            "sent_at": "2026-11-23T12:00:00Z",
            "status": "delivered",
            "next_escalation_at": "2026-11-23T13:00:00Z",
            "addressees": [
                {
                    "person_id": "col.okafor",
                    "delivered": True,
                    "reason": None,
                    "read_at": "2026-11-23T12:05:00Z",
                    "acknowledged_at": None,
                    "escalation_level": 0,
                    "escalated_to": [],
                }
            ],
        }


class MessageListItem(BaseModel):
    """One message in a list; ``read_at``/``acknowledged_at`` are the caller's own (inbox)."""

    id: UUID
    thread_id: UUID
    in_reply_to: UUID | None
    sender: str
    subject: str
    classification: Classification
    requires_ack: bool
    ack_due_at: datetime | None
    sent_at: datetime
    status: MessageStatus
    read_at: datetime | None
    acknowledged_at: datetime | None


class MessagePage(BaseModel):
    """A page of messages, newest first; pass ``next_cursor`` back for the next page."""

    items: list[MessageListItem]
    next_cursor: str | None


class ThreadView(BaseModel):
    """The messages of a thread the caller can see, oldest first."""

    thread_id: UUID
    messages: list[MessageView]
