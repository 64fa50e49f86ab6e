"""Request bodies and envelopes shared by the suites (no fixtures, no I/O)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from shared.contracts import (
    ALERT_RAISED,
    ALERT_STATE_CHANGED,
    RECOMMENDATION_STATE_CHANGED,
    payload_model,
)
from shared.envelope import Envelope


def alert_request(**overrides: Any) -> dict[str, Any]:
    """A valid ``POST /v1/alerts`` body (JSON-ready)."""
    body: dict[str, Any] = {
        "title": "Abduction reported near Mavivi",
        "description": "Two farmers taken by armed men on the road to Mavivi",
        "category": "abduction",
        "severity": "severe",
        "urgency": "immediate",
        "certainty": "observed",
        "sector": "beni",
        "location": {"name": "Mavivi", "lat": 0.55, "lon": 29.47},
        "origin": "community",
        "classification": "confidential",
    }
    body.update(overrides)
    return body


SOURCE = {"name": "Kambale Mumbere (CAN focal point)", "contact": "+243999000111"}


def raised_envelope(
    *, alert_id: UUID | None = None, raised_by: str = "jo.operator", **overrides: Any
) -> Envelope:
    """An ``alert.raised`` envelope as ingest produces it."""
    alert_id = alert_id or uuid4()
    raised_at = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    payload = {
        **alert_request(**overrides),
        "alert_id": str(alert_id),
        "raised_by": raised_by,
        "raised_at": raised_at.isoformat(),
    }
    return Envelope(
        type=ALERT_RAISED,
        producer="ingest",
        actor=raised_by,
        correlation_id=alert_id,
        classification=payload["classification"],
        occurred_at=raised_at,
        payload=payload,
    )


def raised_envelopes(n: int, prefix: str = "alert") -> list[Envelope]:
    """``n`` distinct ``alert.raised`` envelopes, titled ``<prefix> <i>``."""
    return [raised_envelope(title=f"{prefix} {i}") for i in range(n)]


def ids(envelopes: Iterable[Envelope]) -> list[str]:
    """The envelopes' ids, as strings, in order."""
    return [str(envelope.id) for envelope in envelopes]


def contains_key(value: Any, key: str) -> bool:
    """True when ``key`` is a key of any mapping nested in ``value``."""
    if isinstance(value, dict):
        return key in value or any(contains_key(v, key) for v in value.values())
    if isinstance(value, list | tuple):
        return any(contains_key(v, key) for v in value)
    return False


def state_changed(alert_id: UUID | str, **overrides: Any) -> Envelope:
    """An ``alert.state_changed`` of the router: poc-urgent in beni, level 1 paged."""
    payload: dict[str, Any] = {
        "alert_id": str(alert_id),
        "version": 1,
        "status": "triggered",
        "policy_id": "poc-urgent",
        "level": 1,
        "loop": 0,
        "cycle": 1,
        "exhausted": False,
        "next_escalation_at": "2026-11-23T10:10:00+00:00",
        "targets": ["awa.hfo"],
        "chain": ["awa.hfo", "lucas.ho", "grace.dsrsg"],
        "acknowledgements": [],
        "dedup_count": 1,
        "merged_into": None,
    }
    payload.update(overrides)
    state = payload_model(ALERT_STATE_CHANGED, 1).model_validate(payload)
    return Envelope(
        type=ALERT_STATE_CHANGED,
        producer="router",
        actor="router",
        correlation_id=UUID(str(alert_id)),
        payload=state.model_dump(mode="json"),
    )


def recommendation_state_changed(recommendation_id: str, **overrides: Any) -> Envelope:
    """A ``recommendation.state_changed`` of the router: version 1, issued to col.okafor."""
    payload: dict[str, Any] = {
        "recommendation_id": recommendation_id,
        "version": 1,
        "status": "issued",
        "addressees": ["col.okafor"],
        "addressee_component": "military",
        "acknowledged_by": None,
        "acknowledged_at": None,
        "response": None,
        "reason": None,
        "responded_by": None,
        "responded_at": None,
        "escalated_at": None,
        "escalated_to": [],
    }
    payload.update(overrides)
    state = payload_model(RECOMMENDATION_STATE_CHANGED, 1).model_validate(payload)
    return Envelope(
        type=RECOMMENDATION_STATE_CHANGED,
        producer="router",
        actor="router",
        correlation_id=UUID(recommendation_id),
        payload=state.model_dump(mode="json"),
    )
