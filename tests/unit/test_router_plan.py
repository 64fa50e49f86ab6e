"""``plan_first_level``: the events the router produces for a raised alert."""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.router.alerts import plan_first_level
from shared.contracts import (
    ALERT_TARGET_UNREACHABLE,
    ALERT_TRIGGERED,
    NOTIFICATION_REQUESTED,
    payload_model,
)
from shared.envelope import Envelope
from tests.unit.helpers import (
    SOURCE,
    directory_with_sms_target,
    example_directory,
    raised_envelope,
)


def contains_key(value: Any, key: str) -> bool:
    if isinstance(value, dict):
        return key in value or any(contains_key(v, key) for v in value.values())
    if isinstance(value, list):
        return any(contains_key(v, key) for v in value)
    return False


def by_type(events: list[Envelope], type_: str) -> list[dict[str, Any]]:
    return [e.payload for e in events if e.type == type_]


@pytest.mark.parametrize(
    ("overrides", "policy", "targets", "addresses", "unreachable"),
    [
        pytest.param(
            {"category": "abduction", "severity": "severe", "sector": "beni"},
            "poc-urgent",
            ["awa.hfo"],
            {"awa.hfo": "http://127.0.0.1:9101/awa"},
            [],
            id="abduction-severe-beni",
        ),
        pytest.param(
            {"category": "armed_group_movement", "severity": "minor", "sector": "beni"},
            "poc-joint",
            ["awa.hfo", "col.okafor", "insp.diallo"],
            {
                "awa.hfo": "http://127.0.0.1:9101/awa",
                "col.okafor": "http://127.0.0.1:9101/okafor",
                "insp.diallo": "http://127.0.0.1:9101/diallo",
            },
            [],
            id="armed-group-joint-beni",
        ),
        pytest.param(
            {"category": "displacement", "severity": "moderate", "sector": "north"},
            "can-relay",
            ["amani.cla", "lucas.ho"],
            {"lucas.ho": "http://127.0.0.1:9101/lucas"},
            ["amani.cla"],
            id="sms-only-target-unreachable",
        ),
    ],
)
def test_plan_first_level(
    overrides: dict[str, str],
    policy: str,
    targets: list[str],
    addresses: dict[str, str],
    unreachable: list[str],
) -> None:
    directory = directory_with_sms_target()
    raised = raised_envelope(**overrides, source=SOURCE)
    alert_id = raised.payload["alert_id"]

    events = plan_first_level(directory, raised)

    # alert.triggered comes first and names the policy and everyone targeted
    assert events[0].type == ALERT_TRIGGERED
    assert events[0].payload == {
        "alert_id": alert_id,
        "policy_id": policy,
        "policy_ids": [policy],
        "level": 1,
        "targets": targets,
    }
    # one notification.requested per reachable target, carrying its webhook address
    requested = by_type(events, NOTIFICATION_REQUESTED)
    assert {r["person_id"]: r["address"] for r in requested} == addresses
    assert len(requested) == len(addresses)
    assert all(r["channel"] == "webhook" for r in requested)
    assert all(r["alert_id"] == alert_id and r["policy_id"] == policy for r in requested)
    assert all(r["level"] == 1 for r in requested)
    assert all(r["alert"]["title"] == raised.payload["title"] for r in requested)
    assert len({r["notification_id"] for r in requested}) == len(requested)
    # a target without a webhook is an event, never a silent skip
    missing = by_type(events, ALERT_TARGET_UNREACHABLE)
    assert [m["person_id"] for m in missing] == unreachable
    assert all(m["alert_id"] == alert_id and m["reason"] for m in missing)
    assert len(events) == 1 + len(requested) + len(missing)
    # every payload is valid against its contract
    for event in events:
        payload_model(event.type, event.schema_version).model_validate(event.payload)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        pytest.param(
            {"category": "abduction", "severity": "severe", "sector": "south"},
            "level 1 of poc-urgent names nobody in sector 'south'",
            id="nobody-in-sector",
        ),
    ],
)
def test_an_alert_nobody_can_be_paged_for_is_an_event(
    overrides: dict[str, str], reason: str
) -> None:
    raised = raised_envelope(**overrides)
    events = plan_first_level(example_directory(), raised)
    assert [e.type for e in events] == [ALERT_TRIGGERED, "alert.unrouted"]
    assert events[0].payload["targets"] == []
    assert events[1].payload == {"alert_id": raised.payload["alert_id"], "reason": reason}


def test_an_alert_no_route_matches_is_an_event() -> None:
    directory = example_directory().model_copy(update={"routes": []})
    events = plan_first_level(directory, raised_envelope())
    assert [e.type for e in events] == [ALERT_TRIGGERED, "alert.unrouted"]
    assert events[0].payload["policy_id"] is None
    assert events[1].payload["reason"] == "no route matches this alert"


def test_source_never_appears_in_produced_events() -> None:
    raised = raised_envelope(source=SOURCE)
    events = plan_first_level(directory_with_sms_target(), raised)
    assert len(events) >= 2
    for event in events:
        assert not contains_key(event.payload, "source")
        text = event.model_dump_json()
        assert SOURCE["name"] not in text
        assert SOURCE["contact"] not in text


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"category": "abduction", "severity": "severe"}, id="one-target"),
        pytest.param({"category": "armed_group_movement", "severity": "minor"}, id="three"),
        pytest.param({"category": "displacement", "severity": "minor"}, id="unreachable"),
        pytest.param({"category": "abduction", "sector": "south"}, id="nobody"),
    ],
)
def test_produced_events_are_caused_by_the_raised_alert(overrides: dict[str, str]) -> None:
    raised = raised_envelope(**overrides)
    events = plan_first_level(directory_with_sms_target(), raised)
    assert events
    assert all(e.causation_id == raised.id for e in events)
    assert all(e.correlation_id == raised.correlation_id for e in events)
    assert all(e.classification == raised.classification for e in events)
    assert all(e.producer == "router" for e in events)
    assert len({e.id for e in events} | {raised.id}) == len(events) + 1


def test_planning_is_free_of_side_effects() -> None:
    directory = example_directory()
    raised = raised_envelope()
    before = json.dumps(directory.model_dump(mode="json"), sort_keys=True)
    first = plan_first_level(directory, raised)
    second = plan_first_level(directory, raised)
    assert json.dumps(directory.model_dump(mode="json"), sort_keys=True) == before
    assert [e.type for e in first] == [e.type for e in second]
    assert first[0].payload == second[0].payload
