"""``plan_trigger``: how the router opens a raised alert, and the events that produces.

``plan_trigger`` is pure: it returns the policy snapshot and the first transition
(events as ``(type, fields)``, pages naming person ids). What the router then
writes is those events plus the notifications ``transitions.notifications``
builds from the pages: ``produce`` below does the same, without a database.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
import yaml

from services.router.alerts.escalation import (
    EscalationState,
    Page,
    PolicySnapshot,
    TimerKind,
    Transition,
)
from services.router.alerts.service import plan_trigger, summarise
from services.router.alerts.store import snapshot_to_json
from services.router.alerts.tables import AlertRecord
from services.router.alerts.transitions import EventFactory, notifications
from shared.contracts import (
    ALERT_TARGET_UNREACHABLE,
    ALERT_TRIGGERED,
    ALERT_UNROUTED,
    NOTIFICATION_REQUESTED,
    payload_model,
)
from shared.contracts.alerts import AlertRaisedV1
from shared.directory import Directory, Route
from shared.envelope import Envelope, utc_now
from tests.support.builders import SOURCE, contains_key, raised_envelope
from tests.support.directories import (
    AWA_CONTACTS,
    EXAMPLE_DIRECTORY,
    directory_with_unreachable_target,
    example_directory,
)


def by_type(events: list[Envelope], type_: str) -> list[dict[str, Any]]:
    return [e.payload for e in events if e.type == type_]


def produce(
    directory: Directory, raised: Envelope
) -> tuple[PolicySnapshot | None, Transition, list[Envelope]]:
    """The snapshot, the first transition, and the envelopes the router stages for them
    (as ``transitions.apply_transition`` does, less the ``alert.state_changed``)."""
    alert = AlertRaisedV1.model_validate(raised.payload)
    snapshot, transition = plan_trigger(directory, alert)
    record = AlertRecord(
        alert_id=str(alert.alert_id),
        policy_id=snapshot.policy_id if snapshot else None,
        sector=alert.sector,
        summary=summarise(alert).model_dump(mode="json"),
    )
    events = EventFactory(record, raised)
    produced = [events.make(type_, dict(fields)) for type_, fields in transition.events]
    produced += notifications(record, directory, transition.pages, events)
    return snapshot, transition, produced


def with_reachable_joc_operator() -> Directory:
    """The reference directory where the JOC duty officer has a webhook."""
    data = yaml.safe_load(EXAMPLE_DIRECTORY.read_text(encoding="utf-8"))
    [operator] = [p for p in data["people"] if p["id"] == "jo.operator"]
    operator["contacts"] = [{"channel": "webhook", "address": "http://127.0.0.1:9101/joc"}]
    return Directory.model_validate(data)


@pytest.mark.parametrize(
    ("overrides", "policy", "targets", "delay", "contacts", "unreachable"),
    [
        pytest.param(
            {"category": "abduction", "severity": "severe", "sector": "beni"},
            "poc-urgent",
            ["awa.hfo"],
            600,
            {"awa.hfo": AWA_CONTACTS},
            [],
            id="abduction-severe-beni",
        ),
        pytest.param(
            {"category": "armed_group_movement", "severity": "minor", "sector": "beni"},
            "poc-joint",
            ["awa.hfo", "col.okafor", "insp.diallo"],
            1200,
            {
                "awa.hfo": AWA_CONTACTS,
                "col.okafor": [{"channel": "webhook", "address": "http://127.0.0.1:9101/okafor"}],
                "insp.diallo": [{"channel": "webhook", "address": "http://127.0.0.1:9101/diallo"}],
            },
            [],
            id="armed-group-joint-beni",
        ),
        pytest.param(
            {"category": "displacement", "severity": "moderate", "sector": "north"},
            "can-relay",
            ["amani.cla", "lucas.ho"],
            300,
            {"lucas.ho": [{"channel": "webhook", "address": "http://127.0.0.1:9101/lucas"}]},
            # amani.cla has only a radio; the JOC notice about her reaches nobody either
            ["amani.cla", "jo.operator"],
            id="radio-only-target-unreachable",
        ),
    ],
)
def test_plan_trigger_pages_level_one(
    *,
    overrides: dict[str, Any],
    policy: str,
    targets: list[str],
    delay: int,
    contacts: dict[str, list[dict[str, str]]],
    unreachable: list[str],
) -> None:
    directory = directory_with_unreachable_target()
    raised = raised_envelope(**overrides, source=SOURCE)
    alert_id = raised.payload["alert_id"]

    before = utc_now()
    snapshot, transition, produced = produce(directory, raised)
    after = utc_now()

    # the snapshot of the selected policy, its level 1 resolved in the alert's sector
    assert snapshot is not None
    assert (snapshot.policy_id, snapshot.policy_ids) == (policy, (policy,))
    assert list(snapshot.levels[0].targets) == targets
    # the transition: alert.triggered first, one page of level 1 naming person ids
    assert transition.changed
    assert transition.rejected is None
    assert transition.events[0] == (
        ALERT_TRIGGERED,
        {
            "policy_id": policy,
            "policy_ids": [policy],
            "level": 1,
            "targets": targets,
            "snapshot": snapshot_to_json(snapshot),  # on the log, for auditors
        },
    )
    assert len(transition.events) == 1
    assert transition.pages == (Page(people=tuple(targets), kind="page", level=1),)
    # the state: triggered at level 1, everyone paged, the level-1 delay running
    state = transition.state
    assert (state.status, state.level, state.loop, state.cycle) == ("triggered", 1, 0, 1)
    assert state.paged == tuple(targets)
    assert not state.exhausted
    assert state.acknowledgements == ()
    assert state.timer is TimerKind.ESCALATE
    assert state.timer_due_at is not None
    assert before + timedelta(seconds=delay) <= state.timer_due_at
    assert state.timer_due_at <= after + timedelta(seconds=delay)

    # alert.triggered comes first and names the policy and everyone targeted
    assert produced[0].type == ALERT_TRIGGERED
    assert produced[0].payload == {
        "alert_id": alert_id,
        "policy_id": policy,
        "policy_ids": [policy],
        "level": 1,
        "targets": targets,
        "snapshot": snapshot_to_json(snapshot),
    }
    # one notification.requested per reachable target: a page with its contacts in order
    requested = by_type(produced, NOTIFICATION_REQUESTED)
    assert {r["person_id"]: r["contacts"] for r in requested} == contacts
    assert len(requested) == len(contacts)
    assert all(r["kind"] == "page" and r["message"] == "" for r in requested)
    # version 2, the one way every subject asks for a notification
    assert all(r["subject_type"] == "alert" and r["subject_id"] == alert_id for r in requested)
    assert all(r["policy_id"] == policy for r in requested)
    assert all(e.schema_version == 2 for e in produced if e.type == NOTIFICATION_REQUESTED)
    assert all(r["level"] == 1 for r in requested)
    assert all(r["summary"]["title"] == raised.payload["title"] for r in requested)
    assert all(r["summary"]["sector"] == overrides["sector"] for r in requested)
    assert len({r["notification_id"] for r in requested}) == len(requested)
    # a target without a supported channel is an event, never a silent skip
    missing = by_type(produced, ALERT_TARGET_UNREACHABLE)
    assert [m["person_id"] for m in missing] == unreachable
    assert all(m["alert_id"] == alert_id and m["reason"] for m in missing)
    assert len(produced) == 1 + len(requested) + len(missing)
    # every payload is valid against its contract
    for event in produced:
        payload_model(event.type, event.schema_version).model_validate(event.payload)


def continue_then_urgent(directory: Directory) -> Directory:
    routes = [
        Route.model_validate(
            {"match": {"sector": ["south"]}, "policy": "poc-joint", "continue": True}
        ),
        *directory.routes,
    ]
    return directory.model_copy(update={"routes": routes})


@pytest.mark.parametrize(
    ("overrides", "reason", "policy_ids"),
    [
        pytest.param(
            {"category": "abduction", "severity": "severe", "sector": "south"},
            "level 1 of poc-urgent names nobody in sector 'south'",
            ["poc-urgent"],
            id="nobody-in-south",
        ),
        pytest.param(
            {"category": "abduction", "severity": "severe", "sector": "north"},
            "level 1 of poc-urgent names nobody in sector 'north'",
            ["poc-urgent"],
            id="nobody-in-north",
        ),
    ],
)
def test_an_alert_nobody_can_be_paged_for_is_an_event(
    overrides: dict[str, Any], reason: str, policy_ids: list[str]
) -> None:
    raised = raised_envelope(**overrides)
    alert = AlertRaisedV1.model_validate(raised.payload)
    snapshot, transition = plan_trigger(example_directory(), alert)

    assert snapshot is not None
    assert snapshot.levels[0].targets == ()
    assert transition.events == (
        (
            ALERT_TRIGGERED,
            {
                "policy_id": policy_ids[0],
                "policy_ids": policy_ids,
                "level": 1,
                "targets": [],
                "snapshot": snapshot_to_json(snapshot),
            },
        ),
        (ALERT_UNROUTED, {"reason": reason}),
    )
    # the JOC is told (a page of kind "unrouted", to nobody in particular: the JOC)
    assert transition.pages == (Page(people=(), kind="unrouted", level=1, message=reason),)
    # escalation still runs: a later level may name someone
    assert transition.state.paged == ()
    assert transition.state.timer is TimerKind.ESCALATE


def test_reason_names_every_selected_policy() -> None:
    directory = continue_then_urgent(example_directory())
    raised = raised_envelope(category="abduction", severity="severe", sector="south")
    snapshot, transition = plan_trigger(directory, AlertRaisedV1.model_validate(raised.payload))
    assert snapshot is not None
    assert snapshot.policy_ids == ("poc-joint", "poc-urgent")
    assert transition.events[1] == (
        ALERT_UNROUTED,
        {"reason": "level 1 of poc-joint, poc-urgent names nobody in sector 'south'"},
    )


def test_an_alert_no_route_matches_is_an_event() -> None:
    directory = example_directory().model_copy(update={"routes": []})
    raised = raised_envelope()
    snapshot, transition = plan_trigger(directory, AlertRaisedV1.model_validate(raised.payload))
    reason = "no route matches this alert"
    assert snapshot is None
    assert transition.events == (
        (
            ALERT_TRIGGERED,
            {"policy_id": None, "policy_ids": [], "level": 1, "targets": [], "snapshot": None},
        ),
        (ALERT_UNROUTED, {"reason": reason}),
    )
    assert transition.pages == (Page(people=(), kind="unrouted", level=1, message=reason),)
    # open (the JOC can resolve it) but without a policy it never escalates
    assert transition.state == EscalationState()
    assert transition.state.timer is None


def test_unrouted_notice_goes_to_the_joc() -> None:
    raised = raised_envelope(category="abduction", severity="severe", sector="south")
    _, _, produced = produce(with_reachable_joc_operator(), raised)
    assert [e.type for e in produced] == [ALERT_TRIGGERED, ALERT_UNROUTED, NOTIFICATION_REQUESTED]
    notice = produced[2].payload
    assert notice["person_id"] == "jo.operator"
    assert notice["kind"] == "unrouted"
    assert notice["message"] == "level 1 of poc-urgent names nobody in sector 'south'"
    assert notice["contacts"] == [{"channel": "webhook", "address": "http://127.0.0.1:9101/joc"}]
    assert notice["policy_id"] == "poc-urgent"


def test_unreachable_joc_is_an_event_too() -> None:
    # jo.operator has no contacts in the reference directory: never a silent skip
    raised = raised_envelope(category="abduction", severity="severe", sector="south")
    _, _, produced = produce(example_directory(), raised)
    assert [e.type for e in produced] == [ALERT_TRIGGERED, ALERT_UNROUTED, ALERT_TARGET_UNREACHABLE]
    assert produced[2].payload == {
        "alert_id": raised.payload["alert_id"],
        "person_id": "jo.operator",
        "reason": "no contact on a supported channel",
        "kind": "unrouted",
    }


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"category": "abduction", "severity": "severe"}, id="one-target"),
        pytest.param({"category": "armed_group_movement", "severity": "minor"}, id="three"),
        pytest.param({"category": "displacement", "severity": "minor"}, id="unreachable"),
        pytest.param({"category": "abduction", "sector": "south"}, id="nobody"),
    ],
)
def test_source_never_appears_in_produced_events(overrides: dict[str, Any]) -> None:
    raised = raised_envelope(source=SOURCE, **overrides)
    for directory in (directory_with_unreachable_target(), with_reachable_joc_operator()):
        _, transition, produced = produce(directory, raised)
        assert len(produced) >= 2
        assert not contains_key([dict(fields) for _, fields in transition.events], "source")
        for event in produced:
            assert not contains_key(event.payload, "source")
            text = event.model_dump_json()
            assert SOURCE["name"] not in text
            assert SOURCE["contact"] not in text


def test_summary_of_a_notification_leaves_the_source_out() -> None:
    alert = AlertRaisedV1.model_validate(raised_envelope(source=SOURCE).payload)
    summary = summarise(alert).model_dump(mode="json")
    assert "source" not in summary
    assert SOURCE["name"] not in json.dumps(summary)
    assert SOURCE["contact"] not in json.dumps(summary)


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"category": "abduction", "severity": "severe"}, id="one-target"),
        pytest.param({"category": "armed_group_movement", "severity": "minor"}, id="three"),
        pytest.param({"category": "displacement", "severity": "minor"}, id="unreachable"),
        pytest.param({"category": "abduction", "sector": "south"}, id="nobody"),
    ],
)
def test_produced_events_are_caused_by_the_raised_alert(overrides: dict[str, Any]) -> None:
    raised = raised_envelope(**overrides)
    _, _, produced = produce(directory_with_unreachable_target(), raised)
    assert produced
    assert all(e.causation_id == raised.id for e in produced)
    assert all(e.correlation_id == raised.correlation_id for e in produced)
    assert all(e.classification == raised.classification for e in produced)
    assert all(e.producer == "router" for e in produced)
    assert len({e.id for e in produced} | {raised.id}) == len(produced) + 1


def test_planning_is_free_of_side_effects() -> None:
    directory = example_directory()
    alert = AlertRaisedV1.model_validate(raised_envelope().payload)
    before = json.dumps(directory.model_dump(mode="json"), sort_keys=True)
    alert_before = alert.model_dump_json()
    first_snapshot, first = plan_trigger(directory, alert)
    second_snapshot, second = plan_trigger(directory, alert)
    assert json.dumps(directory.model_dump(mode="json"), sort_keys=True) == before
    assert alert.model_dump_json() == alert_before
    assert first_snapshot == second_snapshot
    assert first.events == second.events
    assert first.pages == second.pages
    # only the timer's due time depends on when it is planned
    assert replace(first.state, timer_due_at=None) == replace(second.state, timer_due_at=None)


def test_a_target_without_a_working_channel_is_told_to_the_joc() -> None:
    data = yaml.safe_load(EXAMPLE_DIRECTORY.read_text(encoding="utf-8"))
    for person in data["people"]:
        if person["id"] == "jo.operator":
            person["contacts"] = [{"channel": "webhook", "address": "http://127.0.0.1:9101/joc"}]
        if person["id"] == "awa.hfo":
            person["contacts"] = [{"channel": "radio", "address": "HF channel 9"}]
    raised = raised_envelope(category="abduction", severity="severe", sector="beni")
    _, _, produced = produce(Directory.model_validate(data), raised)
    [unreachable] = by_type(produced, ALERT_TARGET_UNREACHABLE)
    assert (unreachable["person_id"], unreachable["kind"]) == ("awa.hfo", "page")
    [notice] = by_type(produced, NOTIFICATION_REQUESTED)
    assert (notice["person_id"], notice["kind"]) == ("jo.operator", "target_unreachable")
    assert notice["message"] == "awa.hfo cannot be paged: no contact on a supported channel"
