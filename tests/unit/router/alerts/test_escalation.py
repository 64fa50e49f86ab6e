"""The alert state machine: table-driven rules and properties over random event sequences."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.router.alerts.escalation import (
    ACKNOWLEDGED,
    RESOLVED,
    TRIGGERED,
    EscalationState,
    LevelSnapshot,
    PolicySnapshot,
    TimerKind,
    Transition,
    acknowledge,
    on_timer,
    resolve,
    trigger,
)

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
COMPONENT = {"hfo": "civilian", "ho": "civilian", "dsrsg": "civilian", "cmd": "military"}
COMPONENT |= {"pol": "police", "outsider": "civilian"}


def level(*people: str, delay: float = 600, quorum: bool = False) -> LevelSnapshot:
    return LevelSnapshot(
        targets=people,
        components={p: COMPONENT[p] for p in people},
        delay_seconds=delay,
        quorum=quorum,
    )


URGENT = PolicySnapshot(
    policy_id="poc-urgent",
    policy_ids=("poc-urgent",),
    levels=(level("hfo", delay=600), level("ho", delay=900), level("dsrsg", delay=900)),
    repeat=1,
    ack_timeout_seconds=3600,
)
JOINT = PolicySnapshot(
    policy_id="poc-joint",
    policy_ids=("poc-joint",),
    levels=(level("hfo", "cmd", "pol", delay=1200, quorum=True), level("ho", delay=1800)),
)


def fire(state: EscalationState, snapshot: PolicySnapshot) -> Transition:
    """Fire the alert's pending timer at its due time."""
    assert state.timer is not None
    assert state.timer_due_at is not None
    return on_timer(state, snapshot, state.timer, state.timer_due_at)


def test_trigger_pages_level_one_and_waits_its_delay() -> None:
    transition = trigger(URGENT, T0)
    assert [(p.people, p.kind, p.level) for p in transition.pages] == [(("hfo",), "page", 1)]
    assert transition.state.status == TRIGGERED
    assert (transition.state.timer, transition.state.timer_due_at) == (
        TimerKind.ESCALATE,
        T0 + timedelta(seconds=600),
    )


def test_unacknowledged_alert_climbs_every_level_repeats_then_is_exhausted() -> None:
    state = trigger(URGENT, T0).state
    paged: list[tuple[int, int, tuple[str, ...]]] = []
    events: list[str] = []
    for _ in range(10):
        if state.timer is None:
            break
        transition = fire(state, URGENT)
        state = transition.state
        events += [type_ for type_, _ in transition.events]
        paged += [(state.loop, p.level, p.people) for p in transition.pages if p.kind == "page"]
    assert paged == [
        (0, 2, ("ho",)),
        (0, 3, ("dsrsg",)),
        (1, 1, ("hfo",)),
        (1, 2, ("ho",)),
        (1, 3, ("dsrsg",)),
    ]
    assert events[-1] == "alert.escalation_exhausted"
    assert state.exhausted
    assert state.timer is None
    assert state.status == TRIGGERED  # still open: someone must act


def test_escalation_is_scheduled_from_the_due_time_so_lateness_does_not_add_up() -> None:
    state = trigger(URGENT, T0).state
    late = on_timer(state, URGENT, TimerKind.ESCALATE, T0 + timedelta(seconds=600)).state
    assert late.timer_due_at == T0 + timedelta(seconds=600 + 900)


@pytest.mark.parametrize(
    ("person", "rejected"),
    [
        pytest.param("hfo", None, id="current-target"),
        pytest.param("dsrsg", None, id="someone-higher-up-the-chain"),
        pytest.param("outsider", "outsider is not on this alert's escalation chain", id="outsider"),
    ],
)
def test_who_may_acknowledge(person: str, rejected: str | None) -> None:
    state = trigger(URGENT, T0).state
    transition = acknowledge(state, URGENT, person, COMPONENT[person], T0)
    assert transition.rejected == rejected
    assert transition.state.status == (TRIGGERED if rejected else ACKNOWLEDGED)


def test_acknowledgement_stops_escalation_and_tells_everyone_paged_so_far() -> None:
    state = fire(trigger(URGENT, T0).state, URGENT).state  # hfo and ho paged
    transition = acknowledge(state, URGENT, "ho", "civilian", T0 + timedelta(seconds=700))
    assert transition.state.status == ACKNOWLEDGED
    assert transition.state.timer is TimerKind.ACK_TIMEOUT
    assert [(p.people, p.kind) for p in transition.pages] == [(("hfo", "ho"), "acknowledged")]
    # the escalation timer that was pending is now stale: firing it changes nothing
    stale = on_timer(transition.state, URGENT, TimerKind.ESCALATE, T0 + timedelta(seconds=1500))
    assert not stale.changed
    assert stale.pages == ()


def test_ack_timeout_retriggers_from_level_one() -> None:
    acked = acknowledge(trigger(URGENT, T0).state, URGENT, "hfo", "civilian", T0).state
    transition = fire(acked, URGENT)
    assert transition.state.status == TRIGGERED
    assert transition.state.cycle == 2
    assert transition.state.acknowledgements == ()
    assert [type_ for type_, _ in transition.events] == ["alert.retriggered"]
    assert [(p.people, p.kind, p.level) for p in transition.pages] == [(("hfo",), "page", 1)]


@pytest.mark.parametrize(
    ("ackers", "status", "missing"),
    [
        pytest.param(["hfo"], TRIGGERED, ["military", "police"], id="civilian-only"),
        pytest.param(["hfo", "cmd"], TRIGGERED, ["police"], id="two-components"),
        pytest.param(["hfo", "cmd", "pol"], ACKNOWLEDGED, [], id="all-three"),
        pytest.param(["ho"], ACKNOWLEDGED, [], id="senior-from-a-higher-level"),
    ],
)
def test_quorum_level_needs_one_acknowledgement_per_component(
    ackers: list[str], status: str, missing: list[str]
) -> None:
    state = trigger(JOINT, T0).state
    transition = None
    for person in ackers:
        transition = acknowledge(state, JOINT, person, COMPONENT[person], T0)
        state = transition.state
    assert transition is not None
    assert state.status == status
    if missing:
        assert transition.events == (
            (
                "alert.acknowledgement_recorded",
                {
                    "person_id": ackers[-1],
                    "component": COMPONENT[ackers[-1]],
                    "missing_components": missing,
                },
            ),
        )
        assert state.timer is TimerKind.ESCALATE  # escalation goes on


def test_resolve_is_final() -> None:
    resolved = resolve(trigger(URGENT, T0).state, "hfo", "released").state
    assert resolved.status == RESOLVED
    assert resolved.timer is None
    assert resolve(resolved, "hfo", "").rejected == "the alert is already resolved"
    assert acknowledge(resolved, URGENT, "hfo", "civilian", T0).rejected == "the alert is resolved"


# --- properties over random sequences of events -------------------------------------------

PEOPLE = ["hfo", "ho", "dsrsg", "cmd", "pol", "outsider"]


@st.composite
def policies(draw: st.DrawFn) -> PolicySnapshot:
    count = draw(st.integers(1, 4))
    levels = []
    for _ in range(count):
        people = draw(st.lists(st.sampled_from(PEOPLE[:-1]), min_size=1, max_size=3, unique=True))
        levels.append(level(*people, delay=draw(st.integers(1, 3600)), quorum=draw(st.booleans())))
    timeout = draw(st.one_of(st.none(), st.integers(1, 7200)))
    return PolicySnapshot(
        policy_id="p",
        policy_ids=("p",),
        levels=tuple(levels),
        repeat=draw(st.integers(0, 3)),
        ack_timeout_seconds=timeout,
    )


actions = st.lists(
    st.one_of(
        st.tuples(st.just("timer"), st.sampled_from(["due", "stale"])),
        st.tuples(st.just("ack"), st.sampled_from(PEOPLE)),
        st.tuples(st.just("resolve"), st.sampled_from(PEOPLE)),
    ),
    max_size=40,
)


@dataclass
class Run:
    """What a random sequence did."""

    policy: PolicySnapshot
    state: EscalationState
    pages: list[tuple[int, int, int]] = field(default_factory=list)  # (cycle, loop, level)
    paged_while_acknowledged: bool = False
    changed_after_resolve: bool = False
    max_loop: int = 0


def play(policy: PolicySnapshot, steps: list[tuple[str, str]]) -> Run:
    start = trigger(policy, T0)
    run = Run(policy, start.state, pages=[(1, 0, 1)] if start.pages else [])
    now = T0
    for action, argument in steps:
        before = run.state
        if action == "timer":
            kinds = [k for k in TimerKind if k is not before.timer]
            kind = before.timer if argument == "due" and before.timer else kinds[0]
            now = max(now, before.timer_due_at or now)
            transition = on_timer(before, policy, kind, now)
        elif action == "ack":
            transition = acknowledge(before, policy, argument, COMPONENT[argument], now)
        else:
            transition = resolve(before, argument, "")
        after = transition.state
        new_pages = [p for p in transition.pages if p.kind == "page"]
        if (
            before.status == ACKNOWLEDGED
            and new_pages
            and "alert.retriggered" not in dict(transition.events)
        ):
            run.paged_while_acknowledged = True
        if before.status == RESOLVED and transition.changed:
            run.changed_after_resolve = True
        run.pages += [(after.cycle, after.loop, p.level) for p in new_pages]
        run.max_loop = max(run.max_loop, after.loop)
        run.state = after
    return run


@settings(max_examples=300, deadline=None)
@given(policies(), actions)
def test_nobody_is_paged_after_an_acknowledgement_until_an_ack_timeout(
    policy: PolicySnapshot, steps: list[tuple[str, str]]
) -> None:
    assert not play(policy, steps).paged_while_acknowledged


@settings(max_examples=300, deadline=None)
@given(policies(), actions)
def test_each_level_is_paged_at_most_once_per_loop(
    policy: PolicySnapshot, steps: list[tuple[str, str]]
) -> None:
    pages = play(policy, steps).pages
    assert len(pages) == len(set(pages))


@settings(max_examples=300, deadline=None)
@given(policies(), actions)
def test_loops_never_exceed_the_policy_and_resolved_is_final(
    policy: PolicySnapshot, steps: list[tuple[str, str]]
) -> None:
    run = play(policy, steps)
    assert run.max_loop <= policy.repeat
    assert not run.changed_after_resolve


@settings(max_examples=300, deadline=None)
@given(policies(), actions)
def test_a_timer_is_pending_exactly_when_something_can_still_happen(
    policy: PolicySnapshot, steps: list[tuple[str, str]]
) -> None:
    state = play(policy, steps).state
    if state.status == RESOLVED or (state.status == TRIGGERED and state.exhausted):
        assert state.timer is None
    elif state.status == TRIGGERED:
        assert state.timer is TimerKind.ESCALATE
    else:
        assert state.timer is (TimerKind.ACK_TIMEOUT if policy.ack_timeout_seconds else None)


def test_acknowledging_twice_changes_nothing() -> None:
    acked = acknowledge(trigger(URGENT, T0).state, URGENT, "hfo", "civilian", T0)
    again = acknowledge(acked.state, URGENT, "ho", "civilian", T0 + timedelta(seconds=60))
    assert not again.changed
    assert again.pages == ()
    assert again.state.timer_due_at == acked.state.timer_due_at  # the ack timeout is not reset
