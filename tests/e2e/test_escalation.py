"""End-to-end: escalation (docs/contract.md, "Escalation (issue 3)").

Black-box: the three services run as separate processes on a real RabbitMQ and on both
databases, with a test directory whose policies have short delays ("2s", "3s"). Pages and
other notifications are observed as webhook POSTs on the harness receiver (the body carries
``alert_id``, ``person_id``, ``kind`` and ``level``); state through the public HTTP API.

Timing: bounds are generous liveness bounds, never performance asserts. The only lower
bounds asserted are "not before the delay elapsed" (with ~0.5 s of slack), which is
semantics, not speed.

The tests of a backend share one system (tests/e2e/pool.py), each seeing only the webhooks
about its own alerts, but for the listing test, which lists every alert: it has a system of
its own.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import signal
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.e2e.harness import alert_body, wait_until
from tests.e2e.pool import SystemSpec
from tests.e2e.system import System
from tests.support.directories import directory_for
from tests.support.receiver import Receipt, WebhookReceiver

# The rules and timers run on both databases in tests/integration; end to end, most
# scenarios run on PostgreSQL (production, replicas) to keep the suite short. The climb
# and the router kill, where the database's durability is the point, run on both.
ON_POSTGRESQL = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)

AWA, LUCAS, GRACE_P = "awa.hfo", "lucas.ho", "grace.dsrsg"
OKAFOR, DIALLO, JOC = "col.okafor", "insp.diallo", "jo.operator"
ESC3_CHAIN = (AWA, LUCAS, GRACE_P)  # esc3 levels 1, 2, 3 in beni
JOINT_L1 = (AWA, OKAFOR, DIALLO)  # joint level 1 in beni (civilian, military, police)
COMPONENT = {AWA: "civilian", OKAFOR: "military", DIALLO: "police", LUCAS: "civilian"}

ESC3_DELAY = 2.0  # seconds, level delay of esc3 / esc3once
JOINT_DELAY = 3.0  # seconds, level delay of joint
ACK_TIMEOUT = 3.0  # seconds, ack_timeout of acktimeout
SLACK = 0.5  # seconds of clock/delivery jitter allowed on "not before the delay" checks
GRACE = 3.0  # seconds to wait for notifications that must NOT arrive


# --------------------------------------------------------------------------- directory


def escalation_directory(receiver_base_url: str) -> dict[str, Any]:
    """The demo people (jo.operator gets a webhook on the receiver) with short-delay policies."""
    directory = directory_for(receiver_base_url)
    for person in directory["people"]:
        if person["id"] == JOC:
            person["contacts"] = [{"channel": "webhook", "address": f"{receiver_base_url}/{JOC}"}]

    def level(*roles: str, delay: str, **extra: Any) -> dict[str, Any]:
        return {"targets": [{"role": role} for role in roles], "delay": delay, **extra}

    esc3_levels = [
        level("head_of_field_office", delay="2s"),
        level("head_of_office", delay="2s"),
        level("dsrsg", delay="2s"),
    ]
    directory["escalation_policies"] = [
        {"id": "esc3", "levels": esc3_levels, "repeat": 1},
        {
            "id": "joint",
            "levels": [
                level(
                    "head_of_field_office",
                    "sector_commander",
                    "police_focal_point",
                    delay="3s",
                    quorum="per_component",
                ),
                level("head_of_office", delay="3s"),
            ],
        },
        {
            "id": "acktimeout",
            "levels": [level("head_of_field_office", delay="30s")],
            "ack_timeout": "3s",
        },
        {"id": "esc3once", "levels": esc3_levels, "repeat": 0},
        # only for the list test: alerts in another sector, with a quiet policy
        {"id": "north-quiet", "levels": [level("head_of_office", delay="30s")]},
    ]
    directory["routes"] = [
        {"match": {"sector": ["north"]}, "policy": "north-quiet"},
        {"match": {"category": ["abduction"]}, "policy": "esc3"},
        {"match": {"category": ["armed_group_movement"]}, "policy": "joint"},
        {"match": {"category": ["looting"]}, "policy": "acktimeout"},
        {"match": {"category": ["sexual_violence"]}, "policy": "esc3once"},
    ]
    return directory


# The three services with the escalation test directory.
ESCALATION = SystemSpec(
    "escalation",
    directory=escalation_directory,
    local_tokens=True,  # `coord token` costs seconds per person: too slow for 2 s levels
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.timeout(150),
    pytest.mark.system_spec(ESCALATION),
]


# --------------------------------------------------------------------------- helpers


def _types(view: dict[str, Any]) -> list[str]:
    return [event.get("type") for event in view.get("timeline", [])]


def _brief(view: Any) -> str:
    if not isinstance(view, dict):
        return repr(view)
    keys = (
        "status",
        "policy_id",
        "current_level",
        "loop",
        "exhausted",
        "next_escalation_at",
        "targets",
        "acknowledgements",
        "dedup_count",
        "merged_into",
    )
    summary = {key: view.get(key) for key in keys}
    summary["timeline"] = _types(view)
    return json.dumps(summary, default=str)


def _pages(receiver: WebhookReceiver, alert_id: str) -> list[Receipt]:
    return receiver.receipts_for(alert_id=alert_id, kind="page")


def _who(receipts: list[Receipt]) -> list[tuple[str, Any]]:
    return [(r.person_id, _body(r).get("level")) for r in receipts]


def _body(receipt: Receipt) -> dict[str, Any]:
    try:
        value = receipt.json()
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _all_receipts(receiver: WebhookReceiver) -> list[tuple[str, str | None, Any, Any]]:
    return [
        (r.person_id, r.kind, _body(r).get("level"), _body(r).get("alert_id"))
        for r in receiver.receipts
    ]


def _parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert parsed.tzinfo is not None, f"naive timestamp {value!r}"
    return parsed


def _seconds_until(when: datetime) -> float:
    return (when - datetime.now(UTC)).total_seconds()


async def _raise(system: System, client: httpx.AsyncClient, **overrides: Any) -> str:
    response = await system.raise_alert(client, alert_body(**overrides))
    assert response.status_code == 201, f"POST /v1/alerts: {response.status_code} {response.text}"
    return str(response.json()["id"])


async def _view_until(
    system: System,
    client: httpx.AsyncClient,
    alert_id: str,
    predicate: Callable[[dict[str, Any]], bool],
    what: str,
    *,
    timeout: float = 15.0,  # noqa: ASYNC109 - a polling bound
    interval: float = 0.1,
) -> dict[str, Any]:
    """Poll GET /v1/alerts/{id} until ``predicate(view)``; AssertionError with the last view."""
    last: dict[str, Any] = {}

    async def check() -> dict[str, Any] | None:
        nonlocal last
        last = await system.get_alert(client, alert_id)
        return last if predicate(last) else None

    view: dict[str, Any] = await wait_until(
        check,
        timeout=timeout,
        interval=interval,
        message=lambda: f"alert {alert_id}: {what}; last view: {_brief(last)}",
    )
    return view


async def _triggered(
    system: System,
    client: httpx.AsyncClient,
    alert_id: str,
    targets: tuple[str, ...],
    timeout: float = 15.0,  # noqa: ASYNC109 - a polling bound
) -> dict[str, Any]:
    return await _view_until(
        system,
        client,
        alert_id,
        lambda v: v.get("status") == "triggered" and set(targets) <= set(v.get("targets") or []),
        f"status triggered with targets {targets}",
        timeout=timeout,
        interval=0.05,
    )


async def _receipts_until(
    receiver: WebhookReceiver,
    count: int,
    timeout: float,  # noqa: ASYNC109 - a polling bound
    what: str,
    *,
    person_id: str | None = None,
    alert_id: str | None = None,
    kind: str | None = None,
) -> list[Receipt]:
    await wait_until(
        lambda: len(receiver.receipts_for(person_id, alert_id, kind)) >= count,
        timeout=timeout,
        interval=0.05,
        message=lambda: (
            f"{what}; all receipts (person, kind, level, alert): {_all_receipts(receiver)}"
        ),
    )
    return receiver.receipts_for(person_id, alert_id, kind)


async def _post(
    client: httpx.AsyncClient, alert_id: str, action: str, **kwargs: Any
) -> httpx.Response:
    return await client.post(f"/v1/alerts/{alert_id}/{action}", **kwargs)


def _decided(response: httpx.Response, alert_id: str) -> dict[str, Any]:
    """A command the router accepted: 200 and the alert as it is after it."""
    assert response.status_code == 200, f"{response.status_code} {response.text}"
    view: dict[str, Any] = response.json()
    assert view.get("id") == alert_id, response.text
    return view


def _due(view: dict[str, Any]) -> datetime:
    value = view.get("next_escalation_at")
    assert isinstance(value, str), (
        f"next_escalation_at should be set while triggered: {_brief(view)}"
    )
    return _parse_time(value)


def _acks(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a.get("person_id"): a for a in view.get("acknowledgements") or []}


# --------------------------------------------------------------------------- 1. climbing


async def test_unacknowledged_alert_climbs_every_level_and_loop_then_exhausts(
    system: System, receiver: WebhookReceiver
) -> None:
    jo = await system.client(JOC)
    alert_id = await _raise(system, jo, category="abduction", title="Abduction, nobody answers")

    exhausted = await _receipts_until(
        receiver,
        1,
        timeout=45,
        what="escalation_exhausted notification to jo.operator",
        person_id=JOC,
        alert_id=alert_id,
        kind="escalation_exhausted",
    )
    view = await _view_until(
        system, jo, alert_id, lambda v: v.get("exhausted") is True, '"exhausted": true'
    )
    await asyncio.sleep(GRACE)  # late or doubled pages would show up here

    pages = _pages(receiver, alert_id)
    expected = [(AWA, 1), (LUCAS, 2), (GRACE_P, 3)] * 2  # loop 1, then the repeat
    assert _who(pages) == expected, (
        f"pages (person, level) in arrival order: {_who(pages)}; expected {expected}"
    )
    # each (person, loop) exactly once: also one notification id per page
    delivery_ids = [r.header("x-coord-delivery") or _body(r).get("notification_id") for r in pages]
    assert len(set(delivery_ids)) == len(pages), delivery_ids

    # no level is paged before the previous level's delay elapsed
    gaps = [round(b.at - a.at, 2) for a, b in itertools.pairwise(pages)]
    assert all(gap >= ESC3_DELAY - SLACK for gap in gaps), (
        f"seconds between consecutive pages {gaps}; each must be >= {ESC3_DELAY - SLACK}"
    )
    assert pages[1].at - pages[0].at >= ESC3_DELAY - SLACK, "L2 paged before L1's delay elapsed"
    assert exhausted[0].at - pages[-1].at >= ESC3_DELAY - SLACK, (
        f"exhausted {exhausted[0].at - pages[-1].at:.2f}s after the last page (delay {ESC3_DELAY}s)"
    )

    # exactly one exhaustion notice, to the JOC; nobody else is told anything but pages
    assert len(receiver.receipts_for(JOC, alert_id, "escalation_exhausted")) == 1
    assert exhausted[0].header("x-coord-event") == "alert.escalation_exhausted"
    assert pages[0].header("x-coord-event") == "alert.page"
    others = [
        (r.person_id, r.kind)
        for r in receiver.receipts_for(alert_id=alert_id)
        if r.kind != "page" and r.person_id != JOC
    ]
    assert others == [], others
    assert not receiver.receipts_for(JOC, alert_id, "page")

    # the view
    view = await system.get_alert(jo, alert_id)
    assert view["exhausted"] is True, _brief(view)
    assert view["policy_id"] == "esc3", _brief(view)
    assert set(view["targets"]) == set(ESC3_CHAIN), _brief(view)
    assert view.get("next_escalation_at") is None, _brief(view)
    assert view.get("acknowledgements") == [], _brief(view)
    assert set(view.get("chain") or []) == set(ESC3_CHAIN), _brief(view)
    assert _types(view).count("alert.escalation_exhausted") == 1, _brief(view)
    assert "alert.escalated" in _types(view), _brief(view)


# --------------------------------------------------------------------------- 2. acknowledge


@ON_POSTGRESQL
async def test_acknowledgement_at_level_1_stops_escalation_and_tells_the_paged(
    system: System, receiver: WebhookReceiver
) -> None:
    jo = await system.client(JOC)
    awa = await system.client(AWA)
    alert_id = await _raise(system, jo, category="abduction", title="Abduction, Awa answers")

    view = await _triggered(system, jo, alert_id, (AWA,))
    due = _due(view)  # when level 2 would be paged
    answered = _decided(await _post(awa, alert_id, "acknowledge"), alert_id)
    assert answered["status"] == "acknowledged", _brief(answered)
    assert set(_acks(answered)) == {AWA}, _brief(answered)

    view = await _view_until(
        system, jo, alert_id, lambda v: v.get("status") == "acknowledged", "status acknowledged"
    )
    acks = _acks(view)
    assert set(acks) == {AWA}, _brief(view)
    assert acks[AWA].get("component") == "civilian", _brief(view)
    ack_at = _parse_time(acks[AWA]["at"])
    assert ack_at < due, (
        f"awa's ack was recorded at {ack_at.isoformat()}, after level 2 was due at "
        f"{due.isoformat()} (acknowledged immediately after the alert was triggered)"
    )
    assert view.get("next_escalation_at") is None, _brief(view)

    # awa was paged, and is told of the acknowledgement
    await _receipts_until(
        receiver, 1, 15, "page of awa.hfo", person_id=AWA, alert_id=alert_id, kind="page"
    )
    told = await _receipts_until(
        receiver,
        1,
        15,
        'notification of kind "acknowledged" to awa.hfo',
        person_id=AWA,
        alert_id=alert_id,
        kind="acknowledged",
    )
    assert told[0].header("x-coord-event") == "alert.acknowledged"

    # nothing more: lucas is not paged within 5 s after level 2 was due
    await asyncio.sleep(max(0.0, _seconds_until(due)) + 5.0)
    assert receiver.receipts_for(LUCAS, alert_id) == [], _all_receipts(receiver)
    assert receiver.receipts_for(GRACE_P, alert_id) == [], _all_receipts(receiver)
    assert len(receiver.receipts_for(AWA, alert_id, "page")) == 1, _all_receipts(receiver)
    assert len(receiver.receipts_for(AWA, alert_id, "acknowledged")) == 1, _all_receipts(receiver)
    view = await system.get_alert(jo, alert_id)
    assert view["status"] == "acknowledged", _brief(view)
    assert view["targets"] == [AWA], _brief(view)
    assert "alert.acknowledged" in _types(view), _brief(view)
    assert "alert.escalated" not in _types(view), _brief(view)


# --------------------------------------------------------------------------- 3. 403 / 404


@ON_POSTGRESQL
async def test_only_the_chain_may_acknowledge_and_unknown_alerts_are_404(
    system: System, receiver: WebhookReceiver
) -> None:
    jo = await system.client(JOC)
    okafor = await system.client(OKAFOR)
    awa = await system.client(AWA)
    alert_id = await _raise(system, jo, category="abduction", title="Abduction, wrong acker")
    await _triggered(system, jo, alert_id, (AWA,))

    # col.okafor is in beni but on no level of esc3: need-to-know, the alert does not
    # exist for him - the same 404 as an unknown id, so nothing tells him it is there.
    response = await okafor.get(f"/v1/alerts/{alert_id}")
    assert response.status_code == 404, f"{response.status_code} {response.text}"
    response = await _post(okafor, alert_id, "acknowledge")
    assert response.status_code == 404, f"{response.status_code} {response.text}"
    response = await _post(okafor, alert_id, "resolve", json={})
    assert response.status_code == 404, f"{response.status_code} {response.text}"
    response = await _post(okafor, alert_id, "notes", json={"text": "not mine"})
    assert response.status_code == 404, f"{response.status_code} {response.text}"
    # The JOC sees it (its sector's board) but is not on the chain: 403.
    response = await _post(jo, alert_id, "acknowledge")
    assert response.status_code == 403, f"{response.status_code} {response.text}"

    unknown = str(uuid.uuid4())
    for client, action, kwargs in (
        (awa, "acknowledge", {}),
        (awa, "resolve", {"json": {}}),
        (awa, "notes", {"json": {"text": "hello"}}),
        (jo, "acknowledge", {}),
    ):
        response = await _post(client, unknown, action, **kwargs)
        assert response.status_code == 404, f"{action}: {response.status_code} {response.text}"
    response = await jo.get(f"/v1/alerts/{unknown}")
    assert response.status_code == 404, response.text

    await asyncio.sleep(1.0)
    view = await system.get_alert(jo, alert_id)
    assert view["status"] == "triggered", _brief(view)
    assert OKAFOR not in _acks(view), _brief(view)
    assert OKAFOR not in (view.get("chain") or []), _brief(view)
    assert AWA in (view.get("chain") or []), _brief(view)


# --------------------------------------------------------------------------- 4. quorum


async def _ack_two_components(
    system: System, jo: httpx.AsyncClient, alert_id: str
) -> dict[str, Any]:
    awa, okafor = await system.client(AWA), await system.client(OKAFOR)
    responses = await asyncio.gather(
        _post(awa, alert_id, "acknowledge"), _post(okafor, alert_id, "acknowledge")
    )
    for person, response in zip((AWA, OKAFOR), responses, strict=True):
        answered = _decided(response, alert_id)
        assert answered["status"] == "triggered", f"quorum not reached yet: {_brief(answered)}"
        assert person in _acks(answered), _brief(answered)
    view = await _view_until(
        system,
        jo,
        alert_id,
        lambda v: {AWA, OKAFOR} <= set(_acks(v)),
        "acknowledgements of awa.hfo and col.okafor listed",
        timeout=10,
        interval=0.05,
    )
    assert view["status"] == "triggered", f"quorum not reached yet: {_brief(view)}"
    acks = _acks(view)
    assert set(acks) == {AWA, OKAFOR}, _brief(view)
    assert acks[AWA].get("component") == "civilian", _brief(view)
    assert acks[OKAFOR].get("component") == "military", _brief(view)
    return view


@ON_POSTGRESQL
async def test_quorum_needs_one_acknowledgement_per_component(
    system: System, receiver: WebhookReceiver
) -> None:
    jo = await system.client(JOC)
    diallo = await system.client(DIALLO)
    alert_id = await _raise(system, jo, category="armed_group_movement", title="Quorum met")
    view = await _triggered(system, jo, alert_id, JOINT_L1)
    assert view["policy_id"] == "joint", _brief(view)
    due = _due(view)

    await _ack_two_components(system, jo, alert_id)
    answered = _decided(await _post(diallo, alert_id, "acknowledge"), alert_id)
    assert answered["status"] == "acknowledged", _brief(answered)
    assert set(_acks(answered)) == set(JOINT_L1), _brief(answered)
    assert _seconds_until(due) > 0, (
        f"the third ack was only posted at {datetime.now(UTC).isoformat()}, after level 2 was due "
        f"at {due.isoformat()}: the first two acks took too long to show in the view"
    )
    view = await _view_until(
        system, jo, alert_id, lambda v: v.get("status") == "acknowledged", "status acknowledged"
    )
    acks = _acks(view)
    assert set(acks) == set(JOINT_L1), _brief(view)
    assert acks[DIALLO].get("component") == "police", _brief(view)
    assert all(_parse_time(a["at"]) < due for a in acks.values()), (
        f"acks recorded after level 2 was due at {due.isoformat()}: {_brief(view)}"
    )

    for person in JOINT_L1:
        await _receipts_until(
            receiver, 1, 15, f"page of {person}", person_id=person, alert_id=alert_id, kind="page"
        )
    await asyncio.sleep(max(0.0, _seconds_until(due)) + GRACE)
    assert receiver.receipts_for(LUCAS, alert_id) == [], _all_receipts(receiver)
    assert Counter(r.person_id for r in _pages(receiver, alert_id)) == dict.fromkeys(JOINT_L1, 1)
    view = await system.get_alert(jo, alert_id)
    assert view["status"] == "acknowledged", _brief(view)
    assert LUCAS not in view["targets"], _brief(view)


@ON_POSTGRESQL
async def test_quorum_with_a_component_missing_escalates_to_level_2(
    system: System, receiver: WebhookReceiver
) -> None:
    jo = await system.client(JOC)
    alert_id = await _raise(system, jo, category="armed_group_movement", title="Quorum missed")
    view = await _triggered(system, jo, alert_id, JOINT_L1)
    due = _due(view)
    await _ack_two_components(system, jo, alert_id)

    lucas = await _receipts_until(
        receiver,
        1,
        20,
        "page of lucas.ho at level 2",
        person_id=LUCAS,
        alert_id=alert_id,
        kind="page",
    )
    first = min(r.at for r in _pages(receiver, alert_id) if r.person_id in JOINT_L1)
    assert _body(lucas[0]).get("level") == 2, _body(lucas[0])
    # level-1 pages arrive a little after the trigger: allow for it on top of the slack
    assert lucas[0].at - first >= JOINT_DELAY - 2 * SLACK, (
        f"lucas paged {lucas[0].at - first:.2f}s after level 1 (delay {JOINT_DELAY}s)"
    )
    assert lucas[0].received_at >= due - timedelta(seconds=SLACK), (
        f"lucas paged at {lucas[0].received_at.isoformat()}, before level 2 was due at "
        f"{due.isoformat()}"
    )

    view = await _view_until(
        system, jo, alert_id, lambda v: LUCAS in (v.get("targets") or []), "lucas.ho in targets"
    )
    assert view["status"] == "triggered", _brief(view)
    assert view.get("current_level") == 2, _brief(view)
    assert set(_acks(view)) == {AWA, OKAFOR}, _brief(view)
    await asyncio.sleep(1.0)
    assert len(receiver.receipts_for(LUCAS, alert_id, "page")) == 1, _all_receipts(receiver)
    assert Counter(r.person_id for r in _pages(receiver, alert_id) if r.person_id != LUCAS) == (
        dict.fromkeys(JOINT_L1, 1)
    )


# --------------------------------------------------------------------------- 5. ack timeout


@ON_POSTGRESQL
async def test_ack_timeout_retriggers_and_pages_again(
    system: System, receiver: WebhookReceiver
) -> None:
    jo = await system.client(JOC)
    awa = await system.client(AWA)
    alert_id = await _raise(system, jo, category="looting", title="Looting, ack forgotten")
    view = await _triggered(system, jo, alert_id, (AWA,))
    assert view["policy_id"] == "acktimeout", _brief(view)
    await _receipts_until(
        receiver, 1, 15, "first page of awa.hfo", person_id=AWA, alert_id=alert_id, kind="page"
    )

    posted = time.monotonic()
    answered = _decided(await _post(awa, alert_id, "acknowledge"), alert_id)
    assert answered["status"] == "acknowledged", _brief(answered)
    await _view_until(
        system,
        jo,
        alert_id,
        lambda v: v.get("status") == "acknowledged",
        "status acknowledged",
        timeout=10,
        interval=0.05,
    )

    pages = await _receipts_until(
        receiver,
        2,
        20,
        "second page of awa.hfo after the ack timeout",
        person_id=AWA,
        alert_id=alert_id,
        kind="page",
    )
    assert pages[1].at - posted >= ACK_TIMEOUT - SLACK, (
        f"paged again {pages[1].at - posted:.2f}s after the ack (ack_timeout {ACK_TIMEOUT}s)"
    )
    assert _body(pages[1]).get("level") == 1, _body(pages[1])
    assert pages[0].header("x-coord-delivery") != pages[1].header("x-coord-delivery")

    view = await _view_until(
        system,
        jo,
        alert_id,
        lambda v: v.get("status") == "triggered" and "alert.retriggered" in _types(v),
        "status back to triggered with alert.retriggered in the timeline",
    )
    assert view.get("current_level") == 1, _brief(view)
    await asyncio.sleep(2.0)
    assert len(receiver.receipts_for(AWA, alert_id, "page")) == 2, _all_receipts(receiver)
    assert _types(await system.get_alert(jo, alert_id)).count("alert.retriggered") == 1


# --------------------------------------------------------------------------- 6. resolve, notes


@ON_POSTGRESQL
async def test_resolve_stops_everything_and_notes_land_in_the_timeline(
    system: System, receiver: WebhookReceiver
) -> None:
    jo = await system.client(JOC)
    awa = await system.client(AWA)
    alert_id = await _raise(system, jo, category="abduction", title="Abduction, resolved")
    await _triggered(system, jo, alert_id, (AWA,))

    text = f"Patrol dispatched to Mavivi ({uuid.uuid4().hex[:8]})"
    answered = _decided(await _post(awa, alert_id, "notes", json={"text": text}), alert_id)

    def note_in_timeline(view: dict[str, Any]) -> bool:
        return any(
            e.get("type") == "alert.note_added" and text in json.dumps(e)
            for e in view.get("timeline", [])
        )

    assert note_in_timeline(answered), _brief(answered)

    await _view_until(
        system, jo, alert_id, note_in_timeline, f"alert.note_added with {text!r} in the timeline"
    )

    answered = _decided(
        await _post(awa, alert_id, "resolve", json={"note": "Hostages released"}), alert_id
    )
    assert answered["status"] == "resolved", _brief(answered)
    assert "alert.resolved" in _types(answered), _brief(answered)
    # the state and the event are projected independently: wait for both
    resolved = await _view_until(
        system,
        jo,
        alert_id,
        lambda v: v.get("status") == "resolved" and "alert.resolved" in _types(v),
        "status resolved and alert.resolved in the timeline",
    )

    # afterwards: no more pages (timers are no-ops); the paged are the targets at resolution
    await asyncio.sleep(2 * ESC3_DELAY + GRACE)
    paged = Counter(r.person_id for r in _pages(receiver, alert_id))
    assert paged == dict.fromkeys(resolved["targets"], 1), (
        f"pages {dict(paged)}; targets at resolution {resolved['targets']}; "
        f"all receipts {_all_receipts(receiver)}"
    )
    view = await system.get_alert(jo, alert_id)
    assert view["status"] == "resolved", _brief(view)
    assert view.get("next_escalation_at") is None, _brief(view)
    assert "alert.escalated" not in _types(view)[_types(view).index("alert.resolved") :], _brief(
        view
    )

    response = await _post(awa, alert_id, "resolve", json={})
    assert response.status_code == 409, f"second resolve: {response.status_code} {response.text}"
    assert "already resolved" in response.json()["detail"], response.text
    response = await _post(awa, alert_id, "acknowledge")
    assert response.status_code == 409, f"ack when resolved: {response.status_code} {response.text}"
    assert "already resolved" in response.json()["detail"], response.text
    await asyncio.sleep(0.5)
    assert _types(await system.get_alert(jo, alert_id)).count("alert.resolved") == 1


# --------------------------------------------------------------------------- 7. dedup


@ON_POSTGRESQL
async def test_duplicate_is_merged_and_a_new_alert_opens_after_resolution(
    system: System, receiver: WebhookReceiver
) -> None:
    jo = await system.client(JOC)
    awa = await system.client(AWA)
    key = f"e2e-dedup-{uuid.uuid4().hex}"
    body = {"category": "looting", "title": "Looting of the market", "dedup_key": key}

    first = await _raise(system, jo, **body)
    await _triggered(system, jo, first, (AWA,))
    second = await _raise(system, jo, **body)
    assert second != first

    merged = await _view_until(
        system, jo, second, lambda v: v.get("status") == "merged", "status merged"
    )
    assert merged.get("merged_into") == first, _brief(merged)
    view = await _view_until(
        system,
        jo,
        first,
        lambda v: v.get("dedup_count") == 2 and "alert.merged" in _types(v),
        "dedup_count 2 and alert.merged in the timeline of the first",
    )
    assert view["status"] == "triggered", _brief(view)
    assert view.get("merged_into") is None, _brief(view)

    await _receipts_until(
        receiver, 1, 15, "page of awa.hfo", person_id=AWA, alert_id=first, kind="page"
    )
    await asyncio.sleep(GRACE)
    assert len(receiver.receipts_for(AWA, kind="page")) == 1, _all_receipts(receiver)
    assert receiver.receipts_for(alert_id=second) == [], _all_receipts(receiver)

    answered = _decided(await _post(awa, first, "resolve", json={}), first)
    assert answered["status"] == "resolved", _brief(answered)
    await _view_until(system, jo, first, lambda v: v.get("status") == "resolved", "resolved")

    third = await _raise(system, jo, **body)
    view = await _triggered(system, jo, third, (AWA,))
    assert view.get("dedup_count") == 1, _brief(view)
    assert view.get("merged_into") is None, _brief(view)
    await _receipts_until(
        receiver, 1, 15, "page of awa.hfo for the third", person_id=AWA, alert_id=third, kind="page"
    )
    await asyncio.sleep(1.0)
    assert len(receiver.receipts_for(AWA, third, "page")) == 1, _all_receipts(receiver)
    assert len(receiver.receipts_for(AWA, first, "page")) == 1, _all_receipts(receiver)
    view = await system.get_alert(jo, first)
    assert view.get("dedup_count") == 2, _brief(view)
    assert view["status"] == "resolved", _brief(view)


# --------------------------------------------------------------------------- 8. router crash


async def test_router_killed_between_two_levels_neither_loses_nor_doubles_a_step(
    system: System, receiver: WebhookReceiver
) -> None:
    jo = await system.client(JOC)
    alert_id = await _raise(system, jo, category="abduction", title="Abduction, router crash")
    await _receipts_until(
        receiver, 1, 15, "level-1 page of awa.hfo", person_id=AWA, alert_id=alert_id, kind="page"
    )

    code = await system.kill("router", signal.SIGKILL)
    assert code == -signal.SIGKILL, code
    await system.restart("router")

    await _receipts_until(
        receiver,
        1,
        45,
        "escalation_exhausted to jo.operator",
        person_id=JOC,
        alert_id=alert_id,
        kind="escalation_exhausted",
    )
    await asyncio.sleep(GRACE)
    pages = _pages(receiver, alert_id)
    expected = [(AWA, 1), (LUCAS, 2), (GRACE_P, 3)] * 2
    # Each step once per loop, none lost, none doubled. Not their arrival order: the
    # restarted router fires the overdue steps in a burst, and deliveries of a burst may
    # land in any order on a loaded machine.
    assert Counter(_who(pages)) == Counter(expected), f"pages {_who(pages)}; expected {expected}"
    assert len({r.header("x-coord-delivery") for r in pages}) == len(pages)
    assert len(receiver.receipts_for(JOC, alert_id, "escalation_exhausted")) == 1
    view = await system.get_alert(jo, alert_id)
    assert view["exhausted"] is True, _brief(view)
    assert _types(view).count("alert.escalation_exhausted") == 1, _brief(view)


# --------------------------------------------------------------------------- 9. replicas


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_replicated_routers_and_notifiers_page_every_step_exactly_once(
    system: System, receiver: WebhookReceiver
) -> None:
    await asyncio.gather(system.start_replica("router"), system.start_replica("notifier"))
    assert len(system.replicas("router")) == 2
    assert len(system.replicas("notifier")) == 2

    jo = await system.client(JOC)
    ids = list(
        await asyncio.gather(
            *(
                _raise(system, jo, category="sexual_violence", title=f"Report {i}")
                for i in range(20)
            )
        )
    )
    assert len(set(ids)) == 20

    def exhausted_alerts() -> set[str]:
        return {
            str(_body(r).get("alert_id"))
            for r in receiver.receipts_for(JOC, kind="escalation_exhausted")
        }

    await wait_until(
        lambda: set(ids) <= exhausted_alerts(),
        timeout=45,
        interval=0.25,
        message=lambda: (
            f"{len(set(ids) - exhausted_alerts())} of 20 alerts not exhausted; pages so far "
            f"{sum(1 for r in receiver.receipts if r.kind == 'page')} (expected 60)"
        ),
    )
    await asyncio.sleep(GRACE)

    counts = Counter(
        (str(_body(r).get("alert_id")), r.person_id) for r in receiver.receipts_for(kind="page")
    )
    expected = {(alert_id, person) for alert_id in ids for person in ESC3_CHAIN}
    doubled = {pair: n for pair, n in counts.items() if n > 1}
    missing = expected - set(counts)
    unexpected = set(counts) - expected
    assert not doubled, f"{len(doubled)} doubled pages, e.g. {sorted(doubled.items())[:5]}"
    assert not missing, f"{len(missing)} lost pages, e.g. {sorted(missing)[:5]}"
    assert not unexpected, f"unexpected pages {sorted(unexpected)[:5]}"
    exhausted = Counter(
        str(_body(r).get("alert_id"))
        for r in receiver.receipts_for(JOC, kind="escalation_exhausted")
    )
    assert all(exhausted[alert_id] == 1 for alert_id in ids), exhausted
    for alert_id in ids:
        order = [r.person_id for r in _pages(receiver, alert_id)]
        assert order == list(ESC3_CHAIN), f"alert {alert_id}: pages in order {order}"

    views = await asyncio.gather(*(system.get_alert(jo, alert_id) for alert_id in ids))
    not_exhausted = [v["id"] for v in views if v.get("exhausted") is not True]
    assert not not_exhausted, not_exhausted
    for name in (*system.replicas("router"), *system.replicas("notifier")):
        assert system.services[name].running(), f"{name} died: {system.log_tail(name)}"


# --------------------------------------------------------------------------- 10. list


async def _list(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get("/v1/alerts", params=params)
    assert response.status_code == 200, (
        f"GET /v1/alerts {params}: {response.status_code} {response.text}"
    )
    page: dict[str, Any] = response.json()
    assert isinstance(page.get("items"), list), page
    assert "next_cursor" in page, page
    return page


async def _walk(client: httpx.AsyncClient, **params: Any) -> tuple[list[str], list[int]]:
    """Every id of a listing, following next_cursor; and the size of each page."""
    ids: list[str] = []
    sizes: list[int] = []
    cursor: str | None = None
    for _ in range(50):
        query = dict(params)
        if cursor is not None:
            query["cursor"] = cursor
        page = await _list(client, **query)
        ids += [str(item["id"]) for item in page["items"]]
        sizes.append(len(page["items"]))
        cursor = page["next_cursor"]
        if cursor is None:
            return ids, sizes
        assert isinstance(cursor, str), page
    raise AssertionError(f"pagination did not end: {ids}")


@ON_POSTGRESQL
@pytest.mark.system_spec(ESCALATION.fresh())  # it lists every alert of the system
async def test_list_filters_and_cursor_pagination(
    system: System, receiver: WebhookReceiver
) -> None:
    jo = await system.client(JOC)
    awa = await system.client(AWA)
    lucas = await system.client(LUCAS)

    # created one after the other (newest last); each triggered before the next
    created: dict[str, str] = {}
    for name, overrides, targets in (
        ("looting_beni_open", {"category": "looting"}, (AWA,)),
        ("looting_beni_resolved", {"category": "looting"}, (AWA,)),
        ("abduction_beni", {"category": "abduction"}, (AWA,)),
        ("displacement_north_acked", {"category": "displacement", "sector": "north"}, (LUCAS,)),
        ("abduction_north", {"category": "abduction", "sector": "north"}, (LUCAS,)),
    ):
        created[name] = await _raise(system, jo, title=name, **overrides)
        await _triggered(system, jo, created[name], targets)

    resolved = created["looting_beni_resolved"]
    assert _decided(await _post(awa, resolved, "resolve", json={}), resolved)["status"] == (
        "resolved"
    )
    acked = created["displacement_north_acked"]
    assert _decided(await _post(lucas, acked, "acknowledge"), acked)["status"] == "acknowledged"
    await _view_until(
        system,
        jo,
        created["looting_beni_resolved"],
        lambda v: v["status"] == "resolved",
        "resolved",
    )
    await _view_until(
        system,
        jo,
        created["displacement_north_acked"],
        lambda v: v["status"] == "acknowledged",
        "acknowledged",
    )

    newest_first = list(reversed(created.values()))

    async def listed(**params: Any) -> set[str]:
        return {str(item["id"]) for item in (await _list(jo, **params))["items"]}

    assert await listed(status="acknowledged") == {created["displacement_north_acked"]}
    assert await listed(status="resolved") == {created["looting_beni_resolved"]}
    assert await listed(sector="beni") == {
        created["looting_beni_open"],
        created["looting_beni_resolved"],
        created["abduction_beni"],
    }
    assert await listed(category="abduction") == {
        created["abduction_beni"],
        created["abduction_north"],
    }
    assert await listed(sector="beni", category="abduction") == {created["abduction_beni"]}
    everything = await _list(jo)
    assert [str(item["id"]) for item in everything["items"]] == newest_first, everything
    assert everything["next_cursor"] is None, everything
    for item in (await _list(jo, status="acknowledged"))["items"]:
        assert item.get("status", "acknowledged") == "acknowledged", item

    ids, sizes = await _walk(jo, limit=2)
    assert ids == newest_first, f"walked {ids}; expected {newest_first}"
    assert sizes == [2, 2, 1], sizes
    ids, sizes = await _walk(jo, limit=2, sector="beni")
    assert ids == [i for i in newest_first if i in await listed(sector="beni")], ids
    assert sizes == [2, 1], sizes
