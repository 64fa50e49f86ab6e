"""Response models of the public HTTP API (version 1)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from shared.contracts.alerts import Location


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
    level: int | None
    targets: list[str]
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
            "targets": ["awa.hfo"],
            "notified": ["awa.hfo"],
            "deliveries": [],
            "timeline": [{"type": "alert.raised", "at": "2026-11-23T10:00:00Z"}],
        }
