"""Recommendation contracts, version 1 (docs/design.md#kinds-of-content).

A recommendation asks one addressee (a role in a sector, or a person, in any
component) for an action by a due time. Ingest publishes
``recommendation.submitted``; the router resolves the addressee and answers
``recommendation.issued``. The addressee acknowledges, then responds accepted,
declined (with a reason) or done. Unanswered by the due time, it escalates to
the author's superior and the addressee's superior.
"""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.contracts.commands import Refusal
from shared.contracts.scalars import Flag, Integer
from shared.envelope import Classification, Moment


class _Contract(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Response(StrEnum):
    """How an addressee answers."""

    ACCEPTED = "accepted"
    DECLINED = "declined"
    DONE = "done"


class RecommendationStatus(StrEnum):
    """Where a recommendation is in its life."""

    SUBMITTED = "submitted"  # ingest accepted it; the router has not yet issued it
    ISSUED = "issued"
    ACKNOWLEDGED = "acknowledged"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    DONE = "done"
    UNDELIVERABLE = "undeliverable"  # nobody holds the addressee role / nobody cleared


class RecommendationAddressee(_Contract):
    """A role (in the recommendation's sector) or a person."""

    role: str | None = None
    person: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> RecommendationAddressee:
        if (self.role is None) == (self.person is None):
            raise ValueError("an addressee is exactly one of role or person")
        return self


class RecommendationSubmittedV1(_Contract):
    """Event ``recommendation.submitted`` (ingest accepted it)."""

    recommendation_id: UUID
    author: str
    addressee: RecommendationAddressee
    sector: str
    action: str = Field(min_length=1, max_length=2000)
    rationale: str = Field(min_length=1, max_length=10_000)
    due_by: Moment
    alert_id: UUID | None = None
    classification: Classification = Classification.UNCLASSIFIED


class AcknowledgeRecommendationV1(_Contract):
    """Command ``recommendation.acknowledge``."""

    recommendation_id: UUID
    person_id: str


class RespondRecommendationV1(_Contract):
    """Command ``recommendation.respond``: declined needs a reason."""

    recommendation_id: UUID
    person_id: str
    response: Response
    reason: str | None = Field(default=None, max_length=5000)

    @model_validator(mode="after")
    def _declined_needs_reason(self) -> RespondRecommendationV1:
        if self.response is Response.DECLINED and not (self.reason or "").strip():
            raise ValueError("a declined recommendation needs a reason")
        return self


class RecommendationIssuedV1(_Contract):
    """Event ``recommendation.issued``: the addressee resolved to these people."""

    recommendation_id: UUID
    addressees: list[str]
    addressee_component: str | None
    due_by: Moment


class RecommendationUndeliverableV1(_Contract):
    """Event ``recommendation.undeliverable``: nobody can receive it; the JOC is told."""

    recommendation_id: UUID
    reason: str


class RecommendationAcknowledgedV1(_Contract):
    """Event ``recommendation.acknowledged``."""

    recommendation_id: UUID
    person_id: str
    in_time: Flag


class RecommendationRespondedV1(_Contract):
    """Event ``recommendation.responded``."""

    recommendation_id: UUID
    person_id: str
    response: Response
    reason: str | None
    in_time: Flag


class RecommendationEscalatedV1(_Contract):
    """Event ``recommendation.escalated``: unanswered by the due time."""

    recommendation_id: UUID
    to: list[str] = Field(description="The author's and the addressee's superiors told")


class RecommendationCommandRejectedV1(_Contract):
    """Event ``recommendation.command_rejected``."""

    recommendation_id: UUID
    command: str
    person_id: str
    reason: str
    refusal: Refusal = Refusal.WRONG_STATE


class RecommendationStateV1(_Contract):
    """Event ``recommendation.state_changed``: the whole state, ``version`` ordered."""

    recommendation_id: UUID
    version: Integer = Field(ge=1)
    status: RecommendationStatus
    addressees: list[str]
    addressee_component: str | None
    acknowledged_by: str | None
    acknowledged_at: Moment | None
    response: Response | None
    reason: str | None
    responded_by: str | None
    responded_at: Moment | None
    escalated_at: Moment | None
    escalated_to: list[str]
