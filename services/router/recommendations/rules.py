"""The recommendation state machine: pure rules, no I/O.

    issued -> acknowledged -> accepted -> done
                           -> declined (with a reason)
                           -> done

Only an addressee acknowledges or responds, and only after acknowledging.
Declined and done are final. At the due time a recommendation still issued or
acknowledged (not answered) escalates once; answering late is allowed and
recorded as late.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from shared.contracts.recommendations import RecommendationStatus, Response

Status = RecommendationStatus

_FINAL = frozenset({Status.DECLINED, Status.DONE, Status.UNDELIVERABLE})
_UNANSWERED = frozenset({Status.ISSUED, Status.ACKNOWLEDGED})


@dataclass(frozen=True)
class RecommendationState:
    """What the rules look at and change."""

    status: Status
    addressees: tuple[str, ...]
    due_by: datetime
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    response: Response | None = None
    reason: str | None = None
    responded_by: str | None = None
    responded_at: datetime | None = None
    escalated_at: datetime | None = None


@dataclass(frozen=True)
class Decision:
    """The new state, or why the command was refused (``rejected``)."""

    state: RecommendationState
    rejected: str | None = None
    in_time: bool = True

    @property
    def changed(self) -> bool:
        """True when the state moved."""
        return self.rejected is None


def _refuse(state: RecommendationState, reason: str) -> Decision:
    return Decision(state=state, rejected=reason)


def acknowledge(state: RecommendationState, person_id: str, now: datetime) -> Decision:
    """An addressee acknowledges an issued recommendation."""
    if person_id not in state.addressees:
        return _refuse(state, f"{person_id} is not an addressee of this recommendation")
    if state.status is not Status.ISSUED:
        by = f" by {state.acknowledged_by}" if state.acknowledged_by else ""
        return _refuse(state, f"already {state.status.value}{by}")
    acknowledged = replace(
        state, status=Status.ACKNOWLEDGED, acknowledged_by=person_id, acknowledged_at=now
    )
    return Decision(state=acknowledged, in_time=now <= state.due_by)


def respond(
    state: RecommendationState,
    person_id: str,
    response: Response,
    reason: str | None,
    now: datetime,
) -> Decision:
    """An addressee answers: accepted, declined (with a reason) or done."""
    if person_id not in state.addressees:
        return _refuse(state, f"{person_id} is not an addressee of this recommendation")
    if state.status in {Status.SUBMITTED, Status.ISSUED}:
        return _refuse(state, "acknowledge the recommendation before responding")
    if state.status in _FINAL:
        return _refuse(state, f"already {state.status.value}")
    if state.status is Status.ACCEPTED and response is not Response.DONE:
        return _refuse(state, "already accepted: the only answer left is done")
    if response is Response.DECLINED and not (reason or "").strip():
        return _refuse(state, "a declined recommendation needs a reason")
    answered = replace(
        state,
        status=Status(response.value),
        response=response,
        reason=reason,
        responded_by=person_id,
        responded_at=now,
    )
    return Decision(state=answered, in_time=now <= state.due_by)


def on_due(state: RecommendationState, now: datetime) -> Decision:
    """The due time passed: escalate once if nobody answered yet."""
    if state.status not in _UNANSWERED or state.escalated_at is not None:
        return _refuse(state, "answered or already escalated")
    return Decision(state=replace(state, escalated_at=now), in_time=False)
