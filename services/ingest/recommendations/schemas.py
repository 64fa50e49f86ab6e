"""Request and response models of the recommendation API (version 1)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from shared.contracts.recommendations import (
    RecommendationAddressee,
    RecommendationStatus,
    Response,
)
from shared.envelope import Classification, Moment, utc_now

_SUBMIT_EXAMPLE: dict[str, Any] = {
    "addressee": {"role": "sector_commander"},
    "sector": "beni",
    "action": "Deploy a patrol to Mavivi before nightfall",
    "rationale": "Two abductions on the Mavivi road in 48 hours; the CAN reports armed men.",
    "due_by": "2026-11-23T16:00:00Z",
    "alert_id": "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
    "classification": "confidential",
}


class SubmitRecommendationBody(BaseModel):
    """The body of ``POST /v1/recommendations``."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_SUBMIT_EXAMPLE]})

    addressee: RecommendationAddressee = Field(
        description="Exactly one of a role (held in the sector) or a person"
    )
    sector: str = Field(min_length=1, max_length=100)
    action: str = Field(min_length=1, max_length=2000)
    rationale: str = Field(min_length=1, max_length=10_000)
    due_by: Moment = Field(description="When an answer is due; in the future")
    alert_id: UUID | None = Field(default=None, description="An alert this recommendation follows")
    classification: Classification = Classification.UNCLASSIFIED

    @field_validator("due_by")
    @classmethod
    def _in_the_future(cls, value: datetime) -> datetime:
        if value <= utc_now():
            raise ValueError("due_by must be in the future")
        return value


class RespondBody(BaseModel):
    """The body of ``POST /v1/recommendations/{id}/respond``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"response": "accepted"},
                {"response": "declined", "reason": "No troops free before Thursday"},
            ]
        },
    )

    response: Response
    reason: str | None = Field(
        default=None,
        max_length=5000,
        validate_default=True,
        description="Required when the response is declined",
    )

    @field_validator("reason")
    @classmethod
    def _declined_needs_reason(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("response") is Response.DECLINED and not (value or "").strip():
            raise ValueError("reason is required when the response is declined")
        return value


class HistoryEntry(BaseModel):
    """One event in a recommendation's history (its payload fields besides these)."""

    model_config = ConfigDict(extra="allow")

    type: str
    at: datetime
    actor: str


class RecommendationView(BaseModel):
    """A recommendation as its author and addressees see it."""

    id: UUID
    author: str
    addressee: RecommendationAddressee
    sector: str
    action: str
    rationale: str
    due_by: datetime
    alert_id: UUID | None
    classification: Classification
    submitted_at: datetime
    status: RecommendationStatus = Field(
        description="submitted until the router has issued it to the addressees"
    )
    addressees: list[str] = Field(description="The people it was issued to")
    addressee_component: str | None
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    response: Response | None
    reason: str | None
    responded_by: str | None
    responded_at: datetime | None
    escalated_at: datetime | None
    escalated_to: list[str]
    overdue: bool = Field(description="Unanswered past due_by, or escalated")
    version: int = Field(description="Version of the router's state shown (0: none yet)")
    history: list[HistoryEntry] = Field(description="Its events, oldest first")

    @classmethod
    def example(cls) -> dict[str, Any]:
        """An example for the OpenAPI document."""
        return {
            "id": "7d3f0c1a-2b4e-4c1e-9a43-1c2d3e4f5a6b",
            **{k: v for k, v in _SUBMIT_EXAMPLE.items() if k != "due_by"},
            "author": "jo.operator",
            "due_by": "2026-11-23T16:00:00Z",
            "submitted_at": "2026-11-23T12:00:00Z",
            "status": "acknowledged",
            "addressees": ["col.okafor"],
            "addressee_component": "military",
            "acknowledged_by": "col.okafor",
            "acknowledged_at": "2026-11-23T12:20:00Z",
            "response": None,
            "reason": None,
            "responded_by": None,
            "responded_at": None,
            "escalated_at": None,
            "escalated_to": [],
            "overdue": False,
            "version": 2,
            "history": [
                {"type": "recommendation.submitted", "at": "2026-11-23T12:00:00Z",
                 "actor": "jo.operator"},
                {"type": "recommendation.issued", "at": "2026-11-23T12:00:01Z", "actor": "router",
                 "addressees": ["col.okafor"]},
                {"type": "recommendation.acknowledged", "at": "2026-11-23T12:20:00Z",
                 "actor": "col.okafor", "person_id": "col.okafor", "in_time": True},
            ],
        }  # fmt: skip


class RecommendationListItem(BaseModel):
    """One recommendation in a list."""

    id: UUID
    author: str
    addressee: RecommendationAddressee
    sector: str
    action: str
    due_by: datetime
    classification: Classification
    submitted_at: datetime
    status: RecommendationStatus
    addressees: list[str]
    response: Response | None
    overdue: bool


class RecommendationPage(BaseModel):
    """A page of recommendations, newest first; pass ``next_cursor`` back for the next page."""

    items: list[RecommendationListItem]
    next_cursor: str | None
