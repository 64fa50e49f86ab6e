"""The notifier reads both versions of ``notification.requested`` and answers in the request's."""

from __future__ import annotations

from uuid import uuid4

import pytest
from pydantic import ValidationError

from services.notifier.outcomes import ChannelAttempt, outcome_events
from services.notifier.retry import DeliveryResult
from services.notifier.subjects import read_request
from shared.contracts import (
    NOTIFICATION_DELIVERED,
    NOTIFICATION_REQUESTED,
    UnknownEventType,
    payload_model,
)
from shared.contracts.notifications import (
    ContactPoint,
    NotificationKind,
    NotificationRequestedV2,
    SubjectType,
    upcast_requested,
)
from shared.envelope import Envelope
from tests.support.notifications import MESSAGE_SUMMARY, subject_request, v1_request

V1_OUTCOME_FIELDS = {"notification_id", "alert_id", "person_id", "kind", "channel", "attempts"}
V1_CHANNEL_FAILED_FIELDS = {
    "notification_id",
    "alert_id",
    "person_id",
    "channel",
    "attempts",
    "error",
    "next_channel",
}
V2_SUBJECT = {"subject_type", "subject_id"}


def envelope(
    payload: dict[str, object], version: int, type_: str = NOTIFICATION_REQUESTED
) -> Envelope:
    return Envelope(
        type=type_,
        schema_version=version,
        producer="router",
        actor="router",
        correlation_id=uuid4(),
        payload=payload,
    )


def test_version_one_is_upcast() -> None:
    v1 = v1_request()
    request = read_request(envelope(v1.model_dump(mode="json"), 1))
    assert request == upcast_requested(v1)
    assert (request.subject_type, request.subject_id) == (SubjectType.ALERT, v1.alert_id)


def test_version_two_is_read_as_is() -> None:
    v2 = subject_request(SubjectType.MESSAGE, NotificationKind.MESSAGE, MESSAGE_SUMMARY)
    assert read_request(envelope(v2.model_dump(mode="json"), 2)) == v2


@pytest.mark.parametrize(
    ("payload", "version", "type_", "error"),
    [
        pytest.param(
            v1_request().model_dump(mode="json"),
            3,
            NOTIFICATION_REQUESTED,
            UnknownEventType,
            id="unknown-version",
        ),
        pytest.param(
            subject_request(
                SubjectType.MESSAGE, NotificationKind.MESSAGE, MESSAGE_SUMMARY
            ).model_dump(mode="json"),
            1,
            NOTIFICATION_REQUESTED,
            ValidationError,
            id="v2-payload-said-v1",
        ),
        pytest.param(
            v1_request().model_dump(mode="json"),
            2,
            NOTIFICATION_REQUESTED,
            ValidationError,
            id="v1-payload-said-v2",
        ),
        pytest.param(
            v1_request().model_dump(mode="json"),
            1,
            NOTIFICATION_DELIVERED,
            UnknownEventType,
            id="another-type",
        ),
    ],
)
def test_anything_else_is_refused(
    payload: dict[str, object], version: int, type_: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        read_request(envelope(payload, version, type_))


def attempts(*outcomes: tuple[str, bool]) -> list[ChannelAttempt]:
    return [
        ChannelAttempt(
            ContactPoint(channel=channel, address="private"),
            DeliveryResult(delivered=ok, attempts=2, error=None if ok else "HTTP 500"),
        )
        for channel, ok in outcomes
    ]


def two_contacts(request: NotificationRequestedV2) -> NotificationRequestedV2:
    contacts = [
        ContactPoint(channel="webhook", address="a"),
        ContactPoint(channel="email", address="b"),
    ]
    return request.model_copy(update={"contacts": contacts})


@pytest.mark.parametrize("delivered", [True, False], ids=["delivered", "failed"])
def test_a_version_one_request_gets_todays_events(delivered: bool) -> None:
    v1 = v1_request()
    requested = envelope(v1.model_dump(mode="json"), 1)
    request = two_contacts(read_request(requested))
    events = outcome_events(requested, request, attempts(("webhook", False), ("email", delivered)))
    assert [e.schema_version for e in events] == [1] * len(events)
    failed, outcome = events[0], events[-1]
    assert set(failed.payload) == V1_CHANNEL_FAILED_FIELDS
    assert failed.payload["alert_id"] == str(v1.alert_id)
    expected = V1_OUTCOME_FIELDS if delivered else {*V1_OUTCOME_FIELDS, "error"}
    assert set(outcome.payload) == expected
    assert outcome.payload["alert_id"] == str(v1.alert_id)
    for event in events:  # each is valid version 1 of its type
        payload_model(event.type, 1).model_validate(event.payload)
        assert (event.causation_id, event.correlation_id) == (
            requested.id,
            requested.correlation_id,
        )


@pytest.mark.parametrize("delivered", [True, False], ids=["delivered", "failed"])
def test_a_version_two_request_gets_version_two_events(delivered: bool) -> None:
    v2 = subject_request(SubjectType.MESSAGE, NotificationKind.MESSAGE, MESSAGE_SUMMARY)
    requested = envelope(v2.model_dump(mode="json"), 2)
    request = two_contacts(read_request(requested))
    events = outcome_events(requested, request, attempts(("webhook", False), ("email", delivered)))
    expected = (
        ["notification.channel_failed", "notification.delivered"]
        if delivered
        else ["notification.channel_failed", "notification.channel_failed", "notification.failed"]
    )
    assert [e.type for e in events] == expected
    assert [e.schema_version for e in events] == [2] * len(expected)
    for event in events:
        payload_model(event.type, 2).model_validate(event.payload)
        assert set(event.payload) >= V2_SUBJECT
        assert "alert_id" not in event.payload
        assert event.payload["subject_type"] == "message"
        assert event.payload["subject_id"] == str(v2.subject_id)
        assert (event.causation_id, event.correlation_id) == (
            requested.id,
            requested.correlation_id,
        )
    assert events[-1].payload["kind"] == "message"
    assert events[-1].payload["attempts"] == 4
