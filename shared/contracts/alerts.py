"""Protection-alert contracts (docs/design.md#kinds-of-content).

Vocabularies follow CAP 1.2 (severity, urgency, certainty), lower-cased as in
the directory file's routes.

``alert.raised`` has two versions: v1 carried the reporting source in plaintext
(still read on logs written before sealing); v2, which ingest produces, carries
it sealed (``SealedSource``, see ``shared.source_protection``). The HTTP body
``RaiseAlertV1`` keeps the plaintext source: it never leaves ingest unsealed.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, TypeAlias
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.scalars import Integer, Number
from shared.envelope import Classification, Moment


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


#: Most serious first (CAP 1.2's order); ``unknown`` last: any known value says more.
SEVERITY_ORDER = tuple(Severity)
URGENCY_ORDER = tuple(Urgency)


def more_serious(order: tuple[StrEnum, ...], first: str, second: str) -> str:
    """The more serious of two values of ``order`` (a value ``order`` lacks counts least)."""

    def rank(value: str) -> int:
        return next((i for i, known in enumerate(order) if known.value == value), len(order))

    return first if rank(first) <= rank(second) else second


class Certainty(StrEnum):
    """CAP 1.2 certainty."""

    OBSERVED = "observed"
    LIKELY = "likely"
    POSSIBLE = "possible"
    UNLIKELY = "unlikely"
    UNKNOWN = "unknown"


class Component(StrEnum):
    """Mission components; ``community`` and ``partner`` only as an alert's origin."""

    CIVILIAN = "civilian"
    MILITARY = "military"
    POLICE = "police"
    COMMUNITY = "community"
    PARTNER = "partner"  # imported from a partner's CAP message (docs/cap.md)


#: Components no person belongs to: where an alert may come from, never an addressee.
ORIGINS_ONLY = frozenset({Component.COMMUNITY, Component.PARTNER})


#: Lengths the contract allows; what shortens text it did not write (a partner's CAP
#: message, services/ingest/alerts/cap_import.py) cuts to these.
TITLE_MAX = 200
DESCRIPTION_MAX = 5000
PLACE_NAME_MAX = 200
DEDUP_KEY_MAX = 200


class Location(BaseModel):
    """Where it happens: a place name, optionally a WGS 84 point."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=PLACE_NAME_MAX)
    lat: Number | None = Field(default=None, ge=-90, le=90)
    lon: Number | None = Field(default=None, ge=-180, le=180)


class Source(BaseModel):
    """Who reported the alert: STRICTLY CONFIDENTIAL (docs/design.md#source-protection)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    contact: str | None = Field(default=None, max_length=200)


# A key id of the source key ring: short and safe in "kid:key,kid:key" and in a payload.
KEY_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_BASE64URL_PATTERN = r"^[A-Za-z0-9_-]+={0,2}$"


class SealedSource(BaseModel):
    """A ``Source`` encrypted by ingest (AES-256-GCM), bound to its alert's id.

    Only a holder of the key ring opens it (``shared.source_protection``); everyone
    else, the broker and every table included, sees only these opaque strings.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    alg: Literal["A256GCM"] = "A256GCM"
    kid: str = Field(pattern=KEY_ID_PATTERN, description="Which key of the ring sealed it")
    nonce: str = Field(
        pattern=_BASE64URL_PATTERN, max_length=32, description="96-bit nonce, base64url"
    )
    ciphertext: str = Field(
        pattern=_BASE64URL_PATTERN,
        max_length=8192,
        description="The padded source JSON encrypted, with its tag; base64url",
    )


class AlertContent(BaseModel):
    """What an alert says, the same in every version: all but who reported it."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=TITLE_MAX)
    description: str = Field(default="", max_length=DESCRIPTION_MAX)
    category: Category
    severity: Severity
    urgency: Urgency
    certainty: Certainty
    sector: str = Field(min_length=1, max_length=100)
    location: Location
    origin: Component
    classification: Classification = Classification.UNCLASSIFIED
    dedup_key: str | None = Field(default=None, min_length=1, max_length=DEDUP_KEY_MAX)


class RaiseAlertV1(AlertContent):
    """The body of ``POST /v1/alerts`` (the source in plaintext: ingest seals it at once)."""

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

    source: Source | None = None


class AlertRaisedV1(RaiseAlertV1):
    """Event ``alert.raised`` v1: its source in plaintext (only on logs from before v2)."""

    alert_id: UUID
    raised_by: str
    raised_at: Moment


class AlertRaisedV2(AlertContent):
    """Event ``alert.raised`` v2: an alert accepted by ingest, its source sealed."""

    source: SealedSource | None = None
    alert_id: UUID
    raised_by: str
    raised_at: Moment
    # The community contact whose SMS raised it (shared.community_contacts): whom an
    # officer's feedback goes to. Never their name or number.
    reporter: str | None = None


# ``alert.raised`` in any version: what the router needs is the same in both.
AlertRaised: TypeAlias = AlertRaisedV1 | AlertRaisedV2


class AlertTriggeredV1(BaseModel):
    """Event ``alert.triggered``: the router chose a policy and paged a level."""

    model_config = ConfigDict(extra="forbid")

    alert_id: UUID
    policy_id: str | None = Field(description="The first selected policy")
    policy_ids: list[str] = Field(default_factory=list, description="Every selected policy")
    level: Integer = Field(ge=1)
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


class AlertUpgradedV1(BaseModel):
    """Event ``alert.upgraded``: a duplicate merged into the open alert raised it.

    The alert now carries the more serious severity and urgency of the two reports, and
    escalates under both reports' policies together (``snapshot``, see
    ``services.router.alerts.escalation.combine``); ``targets`` are the people paged now because
    of it (whom the duplicate's routing adds at the levels the alert has reached).
    """

    model_config = ConfigDict(extra="forbid")

    alert_id: UUID
    duplicate_alert_id: UUID
    severity: Severity
    urgency: Urgency
    previous_severity: Severity
    previous_urgency: Urgency
    policy_ids: list[str] = Field(default_factory=list, description="Every policy it follows")
    targets: list[str] = Field(description="Paged now, because of the duplicate")
    snapshot: dict[str, object] | None = Field(
        default=None, description="The policy snapshot it escalates under from now, for audit"
    )
