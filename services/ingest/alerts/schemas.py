"""Response models of the public HTTP API (version 1)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.alerts import Location
from shared.contracts.escalation import COMMUNITY_MESSAGE_MAX, AcknowledgementView


class TimelineEntry(BaseModel):
    """One event in an alert's history."""

    model_config = ConfigDict(extra="allow")

    type: str
    at: datetime


class Delivery(BaseModel):
    """How a page to one person ended."""

    notification_id: UUID | None
    person_id: str
    channel: str | None
    status: Literal["delivered", "failed", "unreachable"]
    at: datetime
    error: str | None = None


class AlertView(BaseModel):
    """An alert as its readers see it (the reporting source is never shown here)."""

    id: UUID
    status: str
    title: str
    description: str
    category: str
    severity: str
    urgency: str
    certainty: str
    sector: str
    location: Location
    origin: str
    classification: str
    raised_by: str
    raised_at: datetime
    policy_id: str | None
    level: int | None = Field(description="The highest level paged so far")
    current_level: int | None = Field(description="Same as level (kept for clients)")
    loop: int
    exhausted: bool
    next_escalation_at: datetime | None
    targets: list[str] = Field(description="Everyone paged so far")
    chain: list[str] = Field(description="Everyone who may acknowledge")
    acknowledgements: list[AcknowledgementView]
    dedup_count: int
    merged_into: UUID | None
    code: str | None = Field(
        default=None, description="Its short code: what an SMS reply names it by (ACK 4821)"
    )
    reporter: str | None = Field(
        default=None,
        description="The community contact (id) whose SMS raised it: acknowledging or "
        "resolving may release a community_message to them",
    )
    receipt_at: datetime | None = Field(
        default=None, description="When the reporter was sent their receipt by SMS"
    )
    feedback_at: datetime | None = Field(
        default=None, description="When feedback an officer released first reached them"
    )
    released_at: datetime | None = Field(
        default=None,
        description="When it was released to partners: their CAP feed carries it (docs/cap.md)",
    )
    notified: list[str]
    deliveries: list[Delivery]
    timeline: list[TimelineEntry]

    @classmethod
    def example(cls) -> dict[str, Any]:
        """An example for the OpenAPI document."""
        return {
            "id": "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
            "status": "triggered",
            "title": "Armed men seen near Mavivi",
            "description": "",
            "category": "abduction",
            "severity": "severe",
            "urgency": "immediate",
            "certainty": "observed",
            "sector": "beni",
            "location": {"name": "Mavivi", "lat": None, "lon": None},
            "origin": "community",
            "classification": "confidential",
            "raised_by": "jo.operator",
            "raised_at": "2026-11-23T10:00:00Z",
            "policy_id": "poc-urgent",
            "level": 1,
            "current_level": 1,
            "loop": 0,
            "exhausted": False,
            "next_escalation_at": "2026-11-23T10:10:00Z",
            "targets": ["awa.hfo"],
            "chain": ["awa.hfo", "lucas.ho", "grace.dsrsg"],
            "acknowledgements": [],
            "dedup_count": 1,
            "merged_into": None,
            "code": "4821",
            "notified": ["awa.hfo"],
            "deliveries": [],
            "timeline": [{"type": "alert.raised", "at": "2026-11-23T10:00:00Z"}],
        }


class AlertListItem(BaseModel):
    """One alert in a list: enough for a board row (who is paged, what comes next)."""

    id: UUID
    status: str
    title: str
    category: str
    severity: str
    urgency: str
    sector: str
    location: Location
    origin: str
    raised_by: str
    raised_at: datetime
    policy_id: str | None
    level: int | None
    exhausted: bool
    next_escalation_at: datetime | None
    targets: list[str] = Field(description="Everyone paged so far")
    acknowledgements: list[AcknowledgementView]
    dedup_count: int
    code: str | None = Field(
        default=None, description="Its short code: what an SMS reply names it by (ACK 4821)"
    )


class AlertPage(BaseModel):
    """A page of alerts, newest first; pass ``next_cursor`` back for the next page."""

    items: list[AlertListItem]
    next_cursor: str | None


class NoteBody(BaseModel):
    """The body of ``POST /v1/alerts/{id}/notes``."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"text": "Patrol sent"}]}
    )

    text: str = Field(min_length=1, max_length=5000)


_COMMUNITY_MESSAGE = Field(
    default=None,
    min_length=1,
    max_length=COMMUNITY_MESSAGE_MAX,
    description="Sent by SMS to the community contact who reported the alert (alerts "
    "raised by a community contact's SMS only; ignored on others). Never sent unless given.",
)


class AcknowledgeBody(BaseModel):
    """The body of ``POST /v1/alerts/{id}/acknowledge`` (optional)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"community_message": "La mission a reçu votre alerte et la suit."}]
        },
    )

    community_message: str | None = _COMMUNITY_MESSAGE


class ResolveBody(BaseModel):
    """The body of ``POST /v1/alerts/{id}/resolve`` (optional)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"note": "Abductees released"}]}
    )

    note: str = Field(default="", max_length=5000)
    community_message: str | None = _COMMUNITY_MESSAGE
