"""Protection-alert contracts, version 1 (DESIGN section 3).

Vocabularies follow CAP 1.2 (severity, urgency, certainty), lower-cased as in
the directory file's routes.
"""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.envelope import Classification


class Category(StrEnum):
    """What kind of threat to civilians an alert reports."""

    ATTACK_ON_CIVILIANS = "attack_on_civilians"
    THREAT_OF_ATTACK = "threat_of_attack"
    ABDUCTION = "abduction"
    SEXUAL_VIOLENCE = "sexual_violence"
    DISPLACEMENT = "displacement"
    ARMED_GROUP_MOVEMENT = "armed_group_movement"
    LOOTING = "looting"
    OTHER = "other"


class Severity(StrEnum):
    """CAP 1.2 severity."""

    EXTREME = "extreme"
    SEVERE = "severe"
    MODERATE = "moderate"
    MINOR = "minor"
    UNKNOWN = "unknown"


class Urgency(StrEnum):
    """CAP 1.2 urgency."""

    IMMEDIATE = "immediate"
    EXPECTED = "expected"
    FUTURE = "future"
    PAST = "past"
    UNKNOWN = "unknown"


class Certainty(StrEnum):
    """CAP 1.2 certainty."""

    OBSERVED = "observed"
    LIKELY = "likely"
    POSSIBLE = "possible"
    UNLIKELY = "unlikely"
    UNKNOWN = "unknown"


class Component(StrEnum):
    """Mission components; ``community`` only as an alert's origin."""

    CIVILIAN = "civilian"
    MILITARY = "military"
    POLICE = "police"
    COMMUNITY = "community"


class Location(BaseModel):
    """Where it happens: a place name, optionally a WGS 84 point."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)


class Source(BaseModel):
    """Who reported the alert: STRICTLY CONFIDENTIAL (DESIGN section 8)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    contact: str | None = Field(default=None, max_length=200)


class RaiseAlertV1(BaseModel):
    """The body of ``POST /v1/alerts``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "title": "Armed men seen near Mavivi",
                    "description": "CAN member reports 20 armed men moving toward the IDP site.",
                    "category": "abduction",
                    "severity": "severe",
                    "urgency": "immediate",
                    "certainty": "observed",
                    "sector": "beni",
                    "location": {"name": "Mavivi", "lat": 0.55, "lon": 29.47},
                    "origin": "community",
                    "classification": "confidential",
                }
            ]
        },
    )

    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    category: Category
    severity: Severity
    urgency: Urgency
    certainty: Certainty
    sector: str = Field(min_length=1, max_length=100)
    location: Location
    origin: Component
    classification: Classification = Classification.UNCLASSIFIED
    dedup_key: str | None = Field(default=None, min_length=1, max_length=200)
    source: Source | None = None


class AlertRaisedV1(RaiseAlertV1):
    """Event ``alert.raised``: an alert accepted by ingest."""

    alert_id: UUID
    raised_by: str
    raised_at: AwareDatetime


class AlertTriggeredV1(BaseModel):
    """Event ``alert.triggered``: the router chose a policy and paged a level."""

    model_config = ConfigDict(extra="forbid")

    alert_id: UUID
    policy_id: str | None = Field(description="The first selected policy")
    policy_ids: list[str] = Field(default_factory=list, description="Every selected policy")
    level: int = Field(ge=1)
    targets: list[str]
    snapshot: dict[str, object] | None = Field(
        default=None,
        description="The policy as snapshotted on the alert (levels, people, delays), for audit",
    )


class AlertUnroutedV1(BaseModel):
    """Event ``alert.unrouted``: nobody could be paged; the JOC must act by hand."""

    model_config = ConfigDict(extra="forbid")

    alert_id: UUID
    reason: str


class TargetUnreachableV1(BaseModel):
    """Event ``alert.target_unreachable``: a target has no channel we can use."""

    model_config = ConfigDict(extra="forbid")

    alert_id: UUID
    person_id: str
    reason: str
    kind: str = Field(default="page", description="What the person was to be told")
