"""The events that report a delivery, in the schema version of its request.

A version-1 request (an alert) is answered with exactly the version-1 events
the router and ingest already read (``alert_id``); a version-2 request with
version-2 events naming the subject (``subject_type``, ``subject_id``).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from services.notifier.retry import DeliveryResult
from shared.contracts import (
    NOTIFICATION_CHANNEL_FAILED,
    NOTIFICATION_DELIVERED,
    NOTIFICATION_FAILED,
    payload_model,
)
from shared.contracts.notifications import ContactPoint, NotificationRequestedV2, SubjectType
from shared.envelope import Envelope

PRODUCER = "notifier"


@dataclass(frozen=True)
class ChannelAttempt:
    """One contact tried, and how it ended."""

    contact: ContactPoint
    result: DeliveryResult


def failure_summary(tried: list[ChannelAttempt]) -> str:
    """Each failed channel's error, in the order tried: ``webhook: ...; email: ...``."""
    return "; ".join(
        f"{a.contact.channel}: {a.result.error or 'unknown error'}"
        for a in tried
        if not a.result.delivered
    )


def _subject_fields(version: int, request: NotificationRequestedV2) -> dict[str, object]:
    if version == 1:
        # Only an upcast alert request is version 1: anything else would lose its subject.
        if request.subject_type is not SubjectType.ALERT:
            raise ValueError(f"a {request.subject_type.value} cannot be reported in version 1")
        return {"alert_id": request.subject_id}
    return {"subject_type": request.subject_type, "subject_id": request.subject_id}


def _event(requested: Envelope, type_: str, fields: dict[str, object]) -> Envelope:
    version = requested.schema_version
    payload: BaseModel = payload_model(type_, version).model_validate(fields)
    # The outcome keeps its request's version.
    return requested.caused(type_, payload, producer=PRODUCER, schema_version=version)


def outcome_events(
    requested: Envelope, request: NotificationRequestedV2, tried: list[ChannelAttempt]
) -> list[Envelope]:
    """One ``channel_failed`` per failed channel, then ``delivered`` or ``failed``.

    ``requested`` is the request's envelope: its schema version is the events'.
    """
    subject = _subject_fields(requested.schema_version, request)
    events = []
    for position, attempt in enumerate(tried):
        if attempt.result.delivered:
            break
        following = request.contacts[position + 1 : position + 2]
        failed = {
            "notification_id": request.notification_id,
            **subject,
            "person_id": request.person_id,
            "channel": attempt.contact.channel,
            "attempts": max(attempt.result.attempts, 1),
            "error": attempt.result.error or "unknown error",
            "next_channel": following[0].channel if following else None,
        }
        events.append(_event(requested, NOTIFICATION_CHANNEL_FAILED, failed))
    last = tried[-1]
    outcome = {
        "notification_id": request.notification_id,
        **subject,
        "person_id": request.person_id,
        "kind": request.kind,
        "channel": last.contact.channel,
        "attempts": max(sum(a.result.attempts for a in tried), 1),
    }
    if last.result.delivered:
        return [*events, _event(requested, NOTIFICATION_DELIVERED, outcome)]
    failure = {**outcome, "error": failure_summary(tried)}
    return [*events, _event(requested, NOTIFICATION_FAILED, failure)]
