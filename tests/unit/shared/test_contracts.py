"""The envelope and the payload contracts (unknown fields rejected at the edge)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid4

import pytest
from pydantic import BaseModel, ValidationError

from shared.contracts import (
    EVENT_TYPES,
    UnknownEventType,
    payload_model,
)
from shared.contracts.alerts import (
    AlertRaisedV1,
    AlertTriggeredV1,
    AlertUnroutedV1,
    Category,
    Certainty,
    Component,
    RaiseAlertV1,
    Severity,
    TargetUnreachableV1,
    Urgency,
)
from shared.contracts.escalation import (
    AcknowledgeAlertV1,
    AcknowledgementRecordedV1,
    AddNoteV1,
    AlertAcknowledgedV1,
    AlertDeduplicatedV1,
    AlertEscalatedV1,
    AlertMergedV1,
    AlertReleasedV1,
    AlertResolvedV1,
    AlertRetriggeredV1,
    AlertStateV1,
    CommandRejectedV1,
    EscalationExhaustedV1,
    NoteAddedV1,
    ReleaseAlertV1,
    ResolveAlertV1,
)
from shared.contracts.notifications import (
    AlertSummary,
    ChannelFailedV1,
    ContactPoint,
    NotificationDeliveredV1,
    NotificationFailedV1,
    NotificationKind,
    NotificationRequestedV1,
)
from shared.envelope import Classification, Envelope
from tests.support.builders import SOURCE, alert_request, raised_envelope


def errors_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    with pytest.raises(ValidationError) as error:
        RaiseAlertV1.model_validate(body)
    return [dict(detail) for detail in error.value.errors()]


def test_valid_alert_and_defaults() -> None:
    body = alert_request()
    del body["classification"], body["description"]
    alert = RaiseAlertV1.model_validate(body)
    assert alert.classification is Classification.UNCLASSIFIED
    assert alert.description == ""
    assert alert.source is None
    assert alert.dedup_key is None


@pytest.mark.parametrize(
    ("body", "loc", "error_type"),
    [
        pytest.param(alert_request(colour="red"), ("colour",), "extra_forbidden", id="top-level"),
        pytest.param(
            alert_request(location={"name": "Mavivi", "altitude": 900}),
            ("location", "altitude"),
            "extra_forbidden",
            id="in-location",
        ),
        pytest.param(
            alert_request(source={**SOURCE, "phone": "x"}),
            ("source", "phone"),
            "extra_forbidden",
            id="in-source",
        ),
        pytest.param(
            alert_request(alert_id=str(uuid4())), ("alert_id",), "extra_forbidden", id="alert-id"
        ),
        pytest.param(
            {k: v for k, v in alert_request().items() if k != "title"},
            ("title",),
            "missing",
            id="missing-title",
        ),
        pytest.param(alert_request(title=""), ("title",), "string_too_short", id="empty-title"),
        pytest.param(
            alert_request(location={"name": "x", "lat": 91}),
            ("location", "lat"),
            "less_than_equal",
            id="latitude-range",
        ),
    ],
)
def test_raise_alert_rejections(
    body: dict[str, Any], loc: tuple[str, ...], error_type: str
) -> None:
    errors = errors_of(body)
    assert [(e["loc"], e["type"]) for e in errors] == [(loc, error_type)]


@pytest.mark.parametrize(
    ("enum", "values"),
    [
        pytest.param(
            Category,
            [
                "attack_on_civilians",
                "threat_of_attack",
                "abduction",
                "sexual_violence",
                "displacement",
                "armed_group_movement",
                "looting",
                "other",
            ],
            id="category",
        ),
        pytest.param(Severity, ["extreme", "severe", "moderate", "minor", "unknown"], id="sev"),
        pytest.param(Urgency, ["immediate", "expected", "future", "past", "unknown"], id="urg"),
        pytest.param(
            Certainty, ["observed", "likely", "possible", "unlikely", "unknown"], id="certainty"
        ),
        pytest.param(
            Component, ["civilian", "military", "police", "community", "partner"], id="origin"
        ),
        pytest.param(
            Classification,
            ["unclassified", "confidential", "strictly_confidential"],
            id="classification",
        ),
    ],
)
def test_enum_vocabularies_match_the_contract(enum: type[StrEnum], values: list[str]) -> None:
    assert [member.value for member in enum] == values


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("category", "riot", id="category"),
        pytest.param("severity", "catastrophic", id="severity"),
        pytest.param("severity", "SEVERE", id="severity-case"),
        pytest.param("urgency", "now", id="urgency"),
        pytest.param("certainty", "sure", id="certainty"),
        pytest.param("origin", "ngo", id="origin"),
        pytest.param("classification", "secret", id="classification"),
    ],
)
def test_values_outside_the_vocabularies_are_rejected(field: str, value: str) -> None:
    errors = errors_of(alert_request(**{field: value}))
    assert [(e["loc"], e["type"]) for e in errors] == [((field,), "enum")]


def test_alert_raised_is_an_alert_plus_who_and_when() -> None:
    payload = raised_envelope(source=SOURCE).payload
    raised = AlertRaisedV1.model_validate(payload)
    assert raised.raised_by == "jo.operator"
    assert raised.source is not None
    assert raised.source.contact == SOURCE["contact"]
    with pytest.raises(ValidationError):
        AlertRaisedV1.model_validate({**payload, "unexpected": 1})


def make_envelope(**overrides: Any) -> Envelope:
    fields: dict[str, Any] = {
        "type": "alert.raised",
        "producer": "ingest",
        "actor": "jo.operator",
        "correlation_id": uuid4(),
        "classification": "confidential",
        "payload": {"x": 1},
    }
    fields.update(overrides)
    return Envelope(**fields)


def test_envelope_defaults_and_json_round_trip() -> None:
    envelope = make_envelope()
    assert isinstance(envelope.id, UUID)
    assert envelope.schema_version == 1
    assert envelope.occurred_at.utcoffset() is not None
    assert envelope.causation_id is None
    assert Envelope.model_validate_json(envelope.model_dump_json()) == envelope


@pytest.mark.parametrize(
    ("overrides", "loc"),
    [
        pytest.param({"extra": "x"}, ("extra",), id="unknown-field"),
        pytest.param({"type": ""}, ("type",), id="empty-type"),
        pytest.param({"schema_version": 0}, ("schema_version",), id="version-0"),
        pytest.param({"classification": "secret"}, ("classification",), id="classification"),
        pytest.param({"correlation_id": "not-a-uuid"}, ("correlation_id",), id="correlation"),
    ],
)
def test_envelope_rejections(overrides: dict[str, Any], loc: tuple[str, ...]) -> None:
    with pytest.raises(ValidationError) as error:
        make_envelope(**overrides)
    assert [e["loc"] for e in error.value.errors()] == [loc]


@pytest.mark.parametrize(
    "model",
    [
        pytest.param(lambda t: make_envelope(occurred_at=t), id="envelope-occurred_at"),
        pytest.param(
            lambda t: AlertRaisedV1.model_validate(
                {**raised_envelope().payload, "raised_at": t.isoformat()}
            ),
            id="alert-raised-raised_at",
        ),
    ],
)
def test_timestamps_without_a_time_zone_are_rejected(model: Any) -> None:
    # occurred_at is UTC (docs/design.md#the-envelope). A naive time is accepted here
    # today, then every consumer that stores it fails (shared.db.UTCDateTime refuses
    # naive datetimes): the router retries the message until it is dead-lettered and the
    # alert is never routed.
    assert model(datetime(2026, 11, 23, 10, 0, tzinfo=UTC)) is not None
    with pytest.raises(ValidationError):
        model(datetime(2026, 11, 23, 10, 0))  # noqa: DTZ001 - the naive time under test


def test_caused_keeps_the_thread_and_points_at_its_cause() -> None:
    cause = make_envelope()
    alert_id = uuid4()
    effect = cause.caused(
        "alert.triggered",
        AlertTriggeredV1(
            alert_id=alert_id,
            policy_id="poc-urgent",
            policy_ids=["poc-urgent"],
            level=1,
            targets=["awa.hfo"],
        ),
        producer="router",
    )
    assert effect.correlation_id == cause.correlation_id
    assert effect.causation_id == cause.id
    assert effect.id != cause.id
    assert effect.type == "alert.triggered"
    assert effect.classification is Classification.CONFIDENTIAL
    assert effect.producer == "router"
    assert effect.actor == "router"
    assert effect.payload == {
        "alert_id": str(alert_id),
        "snapshot": None,
        "policy_id": "poc-urgent",
        "policy_ids": ["poc-urgent"],
        "level": 1,
        "targets": ["awa.hfo"],
    }
    by_person = cause.caused(
        "alert.triggered",
        AlertTriggeredV1(alert_id=alert_id, policy_id=None, level=1, targets=[]),
        producer="router",
        actor="awa.hfo",
    )
    assert by_person.actor == "awa.hfo"


@pytest.mark.parametrize(
    ("type_", "model"),
    [
        pytest.param("alert.raised", AlertRaisedV1, id="alert.raised"),
        pytest.param("alert.triggered", AlertTriggeredV1, id="alert.triggered"),
        pytest.param("alert.target_unreachable", TargetUnreachableV1, id="unreachable"),
        pytest.param("notification.requested", NotificationRequestedV1, id="requested"),
        pytest.param("notification.delivered", NotificationDeliveredV1, id="delivered"),
        pytest.param("notification.failed", NotificationFailedV1, id="failed"),
        pytest.param("alert.unrouted", AlertUnroutedV1, id="unrouted"),
        pytest.param("alert.acknowledge", AcknowledgeAlertV1, id="cmd-acknowledge"),
        pytest.param("alert.resolve", ResolveAlertV1, id="cmd-resolve"),
        pytest.param("alert.add_note", AddNoteV1, id="cmd-add-note"),
        pytest.param("alert.release", ReleaseAlertV1, id="cmd-release"),
        pytest.param("alert.escalated", AlertEscalatedV1, id="escalated"),
        pytest.param("alert.acknowledgement_recorded", AcknowledgementRecordedV1, id="ack-rec"),
        pytest.param("alert.acknowledged", AlertAcknowledgedV1, id="acknowledged"),
        pytest.param("alert.retriggered", AlertRetriggeredV1, id="retriggered"),
        pytest.param("alert.escalation_exhausted", EscalationExhaustedV1, id="exhausted"),
        pytest.param("alert.resolved", AlertResolvedV1, id="resolved"),
        pytest.param("alert.note_added", NoteAddedV1, id="note-added"),
        pytest.param("alert.released", AlertReleasedV1, id="released"),
        pytest.param("alert.merged", AlertMergedV1, id="merged"),
        pytest.param("alert.deduplicated", AlertDeduplicatedV1, id="deduplicated"),
        pytest.param("alert.command_rejected", CommandRejectedV1, id="command-rejected"),
        pytest.param("alert.state_changed", AlertStateV1, id="state-changed"),
        pytest.param("notification.channel_failed", ChannelFailedV1, id="channel-failed"),
    ],
)
def test_payload_model_of_known_types(type_: str, model: type[BaseModel]) -> None:
    assert payload_model(type_, 1) is model


def test_alert_raised_v2_carries_the_source_sealed_only() -> None:
    v2 = payload_model("alert.raised", 2)
    payload = raised_envelope().payload
    sealed = {"alg": "A256GCM", "kid": "k1", "nonce": "AAAAAAAAAAAAAAAA", "ciphertext": "AAAA"}
    assert v2.model_validate({**payload, "source": sealed}).model_dump(mode="json")["source"] == (
        sealed
    )
    assert v2.model_validate(payload).model_dump()["source"] is None
    with pytest.raises(ValidationError):  # a plaintext source is not a v2 payload
        v2.model_validate({**payload, "source": SOURCE})


@pytest.mark.parametrize(
    ("type_", "version"),
    [
        pytest.param("alert.exploded", 1, id="unknown-type"),
        pytest.param("alert.raised", 3, id="unknown-version"),
        pytest.param("", 1, id="empty"),
    ],
)
def test_payload_model_of_unknown_types(type_: str, version: int) -> None:
    with pytest.raises(UnknownEventType, match="unknown event type"):
        payload_model(type_, version)


def test_every_payload_model_forbids_unknown_fields() -> None:
    for model in EVENT_TYPES.values():
        assert model.model_config.get("extra") == "forbid", model.__name__


def test_nested_contract_models_forbid_unknown_fields() -> None:
    for model in (ContactPoint, AlertSummary):
        assert model.model_config.get("extra") == "forbid", model.__name__


# --------------------------------------------------------------------------- notifications


def test_notification_kinds_match_the_contract() -> None:
    assert [kind.value for kind in NotificationKind] == [
        "page",
        "acknowledged",
        "resolved",
        "escalation_exhausted",
        "target_unreachable",
        "unrouted",
        "message",
        "message_undelivered",
        "message_unacknowledged",
        "recommendation",
        "recommendation_answered",
        "recommendation_overdue",
        "nobody_to_escalate_to",
        "community_feedback",
    ]


def requested(**overrides: Any) -> dict[str, Any]:
    alert = AlertRaisedV1.model_validate(raised_envelope(source=SOURCE).payload)
    fields: dict[str, Any] = {
        "notification_id": str(uuid4()),
        "alert_id": str(alert.alert_id),
        "person_id": "awa.hfo",
        "kind": "page",
        "contacts": [
            {"channel": "webhook", "address": "http://127.0.0.1:9101/awa"},
            {"channel": "email", "address": "awa.ndiaye@example.org"},
        ],
        "policy_id": "poc-urgent",
        "level": 1,
        "message": "",
        "alert": {
            "title": alert.title,
            "category": alert.category.value,
            "severity": alert.severity.value,
            "urgency": alert.urgency.value,
            "certainty": alert.certainty.value,
            "sector": alert.sector,
            "location": alert.location.model_dump(mode="json"),
            "origin": alert.origin.value,
            "classification": alert.classification.value,
            "raised_at": alert.raised_at.isoformat(),
        },
    }
    fields.update(overrides)
    return fields


def test_notification_requested_carries_kind_and_contacts_in_order() -> None:
    request = NotificationRequestedV1.model_validate(requested())
    assert request.kind is NotificationKind.PAGE
    assert [(c.channel, c.address) for c in request.contacts] == [
        ("webhook", "http://127.0.0.1:9101/awa"),
        ("email", "awa.ndiaye@example.org"),
    ]
    without_kind = {k: v for k, v in requested().items() if k != "kind"}
    assert NotificationRequestedV1.model_validate(without_kind).kind is NotificationKind.PAGE
    assert NotificationRequestedV1.model_validate(requested(kind="unrouted")).kind == "unrouted"


@pytest.mark.parametrize(
    ("overrides", "loc", "error_type"),
    [
        pytest.param({"contacts": []}, ("contacts",), "too_short", id="no-contacts"),
        pytest.param({"kind": "gossip"}, ("kind",), "enum", id="unknown-kind"),
        pytest.param({"level": 0}, ("level",), "greater_than_equal", id="level-0"),
        pytest.param(
            {"contacts": [{"channel": "webhook"}]},
            ("contacts", 0, "address"),
            "missing",
            id="contact-without-address",
        ),
        pytest.param(
            # the single channel/address pair of issue 2 is gone: contacts replace it
            {"channel": "webhook"},
            ("channel",),
            "extra_forbidden",
            id="old-channel-field",
        ),
        pytest.param(
            {"address": "http://127.0.0.1:9101/awa"},
            ("address",),
            "extra_forbidden",
            id="old-address-field",
        ),
        pytest.param(
            {"alert": {**requested()["alert"], "source": SOURCE}},
            ("alert", "source"),
            "extra_forbidden",
            id="no-source-in-the-summary",
        ),
    ],
)
def test_notification_requested_rejections(
    overrides: dict[str, Any], loc: tuple[str | int, ...], error_type: str
) -> None:
    with pytest.raises(ValidationError) as error:
        NotificationRequestedV1.model_validate(requested(**overrides))
    assert [(e["loc"], e["type"]) for e in error.value.errors()] == [(loc, error_type)]


@pytest.mark.parametrize(
    "model", [NotificationDeliveredV1, NotificationFailedV1], ids=["delivered", "failed"]
)
def test_delivery_outcomes_default_to_kind_page(model: type[BaseModel]) -> None:
    fields: dict[str, Any] = {
        "notification_id": uuid4(),
        "alert_id": uuid4(),
        "person_id": "awa.hfo",
        "channel": "email",
        "attempts": 1,
    }
    if model is NotificationFailedV1:
        fields["error"] = "SMTP 550"
    assert model.model_validate(fields).kind is NotificationKind.PAGE  # type: ignore[attr-defined]
    assert model.model_validate({**fields, "kind": "resolved"}).kind == "resolved"  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- escalation


def test_commands_name_the_alert_and_the_person() -> None:
    alert_id = uuid4()
    assert AcknowledgeAlertV1(alert_id=alert_id, person_id="awa.hfo").model_dump(mode="json") == {
        "alert_id": str(alert_id),
        "person_id": "awa.hfo",
        "community_message": None,  # nothing to tell a community unless a person chose it
    }
    assert ResolveAlertV1(alert_id=alert_id, person_id="awa.hfo").note == ""
    with pytest.raises(ValidationError):
        AcknowledgeAlertV1.model_validate({"alert_id": str(alert_id)})


@pytest.mark.parametrize(
    ("model", "fields", "loc", "error_type"),
    [
        pytest.param(AddNoteV1, {"text": ""}, ("text",), "string_too_short", id="empty-note"),
        pytest.param(AddNoteV1, {"text": "x" * 5001}, ("text",), "string_too_long", id="long-note"),
        pytest.param(
            ResolveAlertV1, {"note": "x" * 5001}, ("note",), "string_too_long", id="long-res"
        ),
        pytest.param(
            AcknowledgeAlertV1, {"level": 2}, ("level",), "extra_forbidden", id="ack-extra"
        ),
    ],
)
def test_command_rejections(
    model: type[BaseModel], fields: dict[str, Any], loc: tuple[str, ...], error_type: str
) -> None:
    with pytest.raises(ValidationError) as error:
        model.model_validate({"alert_id": str(uuid4()), "person_id": "awa.hfo", **fields})
    assert [(e["loc"], e["type"]) for e in error.value.errors()] == [(loc, error_type)]


def state(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "alert_id": str(uuid4()),
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
    fields.update(overrides)
    return fields


def test_alert_state_round_trips() -> None:
    acked = state(
        status="acknowledged",
        version=3,
        next_escalation_at=None,
        acknowledgements=[
            {"person_id": "awa.hfo", "component": "civilian", "at": "2026-11-23T10:05:00Z"}
        ],
    )
    parsed = AlertStateV1.model_validate(acked)
    assert parsed.acknowledgements[0].at.utcoffset() is not None
    assert AlertStateV1.model_validate_json(parsed.model_dump_json()) == parsed


@pytest.mark.parametrize(
    ("overrides", "loc"),
    [
        pytest.param({"version": 0}, ("version",), id="version-starts-at-1"),
        pytest.param({"dedup_count": 0}, ("dedup_count",), id="dedup-count-at-least-1"),
        pytest.param(
            {"next_escalation_at": "2026-11-23T10:10:00"}, ("next_escalation_at",), id="naive"
        ),
        pytest.param(
            {"acknowledgements": [{"person_id": "a", "component": "c", "at": "2026-11-23T10:05"}]},
            ("acknowledgements", 0, "at"),
            id="naive-ack",
        ),
        pytest.param({"colour": "red"}, ("colour",), id="unknown-field"),
    ],
)
def test_alert_state_rejections(overrides: dict[str, Any], loc: tuple[str | int, ...]) -> None:
    with pytest.raises(ValidationError) as error:
        AlertStateV1.model_validate(state(**overrides))
    assert [e["loc"] for e in error.value.errors()] == [loc]


@pytest.mark.parametrize(
    ("model", "fields", "loc"),
    [
        pytest.param(
            AlertMergedV1,
            {"duplicate_alert_id": str(uuid4()), "dedup_key": "k", "count": 1},
            ("count",),
            id="merged-count-from-2",
        ),
        pytest.param(
            AlertEscalatedV1,
            {"level": 0, "loop": 0, "targets": [], "next_escalation_at": None},
            ("level",),
            id="escalated-level-from-1",
        ),
        pytest.param(EscalationExhaustedV1, {"loops": 0}, ("loops",), id="exhausted-loops"),
        pytest.param(
            AlertAcknowledgedV1,
            {"person_id": "a", "acknowledged_by": ["a"], "ack_timeout_at": "2026-11-23T11:00"},
            ("ack_timeout_at",),
            id="ack-timeout-naive",
        ),
    ],
)
def test_escalation_event_rejections(
    model: type[BaseModel], fields: dict[str, Any], loc: tuple[str, ...]
) -> None:
    with pytest.raises(ValidationError) as error:
        model.model_validate({"alert_id": str(uuid4()), **fields})
    assert [e["loc"] for e in error.value.errors()] == [loc]
