"""The alert state machine: escalation, acknowledgement, ack timeout, resolution.

Pure rules over a policy snapshot and the alert's escalation state; no I/O.
Each rule returns a ``Transition``: the new state, what to page or tell, and
which events to record. The router applies transitions under a row lock.

States: ``triggered`` -> ``acknowledged`` -> ``resolved`` (final);
``acknowledged`` -> ``triggered`` again when the ack timeout passes.
An alert has at most one pending timer: escalation while triggered, ack
timeout while acknowledged, none once resolved or exhausted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from itertools import zip_longest

TRIGGERED = "triggered"
ACKNOWLEDGED = "acknowledged"
RESOLVED = "resolved"


class TimerKind(StrEnum):
    """What a due timer means."""

    ESCALATE = "escalate"
    ACK_TIMEOUT = "ack_timeout"


@dataclass(frozen=True)
class LevelSnapshot:
    """A policy level with its targets resolved to people, as it was when triggered."""

    targets: tuple[str, ...]
    components: dict[str, str]  # person id -> component
    delay_seconds: float
    quorum: bool = False


@dataclass(frozen=True)
class PolicySnapshot:
    """The policy as it was when the alert was triggered: later edits do not apply."""

    policy_id: str | None
    policy_ids: tuple[str, ...]
    levels: tuple[LevelSnapshot, ...]
    repeat: int = 0
    ack_timeout_seconds: float | None = None

    @property
    def chain(self) -> list[str]:
        """Everyone who may acknowledge: any target of any level, in order."""
        return list(dict.fromkeys(p for level in self.levels for p in level.targets))


@dataclass(frozen=True)
class Acknowledgement:
    """One person's acknowledgement in the current cycle."""

    person_id: str
    component: str
    at: datetime


@dataclass(frozen=True)
class EscalationState:
    """Where an alert is on its way up the chain."""

    status: str = TRIGGERED
    cycle: int = 1  # a re-trigger starts a new cycle
    loop: int = 0  # 0 = first pass; up to the policy's repeat
    level: int = 1  # highest level paged in this loop, 1-based
    exhausted: bool = False
    acknowledgements: tuple[Acknowledgement, ...] = ()
    paged: tuple[str, ...] = ()  # everyone paged so far, each once, in order
    timer: TimerKind | None = None
    timer_due_at: datetime | None = None


@dataclass(frozen=True)
class Page:
    """Tell these people something about the alert."""

    people: tuple[str, ...]
    kind: str  # a NotificationKind value
    level: int
    message: str = ""


@dataclass(frozen=True)
class Transition:
    """The outcome of applying one rule."""

    state: EscalationState
    events: tuple[tuple[str, Mapping[str, object]], ...] = ()  # (event type, payload fields)
    pages: tuple[Page, ...] = ()
    rejected: str | None = None  # why a command was refused; state unchanged
    changed: bool = True


def _unchanged(state: EscalationState, rejected: str | None = None) -> Transition:
    return Transition(state=state, rejected=rejected, changed=False)


def _page_level(
    state: EscalationState, snapshot: PolicySnapshot, level: int, now: datetime
) -> tuple[EscalationState, Page]:
    targets = snapshot.levels[level - 1].targets
    delay = snapshot.levels[level - 1].delay_seconds
    state = replace(
        state,
        level=level,
        paged=tuple(dict.fromkeys((*state.paged, *targets))),
        timer=TimerKind.ESCALATE,
        timer_due_at=now + timedelta(seconds=delay),
    )
    return state, Page(people=targets, kind="page", level=level)


def trigger(snapshot: PolicySnapshot, now: datetime) -> Transition:
    """A new alert: page level 1 and start its delay."""
    state, page = _page_level(EscalationState(), snapshot, 1, now)
    return Transition(state=state, pages=(page,) if page.people else ())


def combine(first: PolicySnapshot, second: PolicySnapshot) -> PolicySnapshot:
    """Both policies at once, never less insistent than either (an alert and its duplicate).

    Level n pages both policies' level n (first's targets first), escalates after the
    shorter delay, and wants one ack per component if either does; the more loops and
    the shorter ack timeout win. ``first`` keeps its policy id. Idempotent: combining
    a snapshot with one it already covers gives it back unchanged.
    """
    levels = [
        LevelSnapshot(
            targets=tuple(dict.fromkeys((*a.targets, *b.targets))),
            components={**b.components, **a.components},
            delay_seconds=min(a.delay_seconds, b.delay_seconds),
            quorum=a.quorum or b.quorum,
        )
        if a is not None and b is not None
        else a or b
        for a, b in zip_longest(first.levels, second.levels)
    ]
    timeouts = [t for t in (first.ack_timeout_seconds, second.ack_timeout_seconds) if t is not None]
    return PolicySnapshot(
        policy_id=first.policy_id or second.policy_id,
        policy_ids=tuple(dict.fromkeys((*first.policy_ids, *second.policy_ids))),
        levels=tuple(level for level in levels if level is not None),
        repeat=max(first.repeat, second.repeat),
        ack_timeout_seconds=min(timeouts, default=None),
    )


def widen(state: EscalationState, snapshot: PolicySnapshot, now: datetime) -> Transition:
    """The alert's escalation, so far, under ``snapshot``: a superset of the one it had.

    Whoever ``snapshot`` adds at a level the alert has reached (every level, once a loop
    is complete or escalation exhausted) is paged now. The pending timer is brought
    forward to what ``snapshot`` allows from now, never put back; an alert that had no
    policy (unrouted) starts escalating. Status, level, loop and acknowledgements stay.
    """
    reached = len(snapshot.levels) if state.loop or state.exhausted else state.level
    paged = list(state.paged)
    pages = []
    for number, level in enumerate(snapshot.levels[:reached], start=1):
        added = tuple(p for p in level.targets if p not in paged)
        paged += added
        if added:
            pages.append(Page(people=added, kind="page", level=number))
    timer, due = state.timer, state.timer_due_at
    if state.status == TRIGGERED and not state.exhausted and snapshot.levels:
        delay = snapshot.levels[min(state.level, len(snapshot.levels)) - 1].delay_seconds
        timer = TimerKind.ESCALATE
        due = _earlier(due if state.timer is timer else None, now + timedelta(seconds=delay))
    elif state.status == ACKNOWLEDGED and snapshot.ack_timeout_seconds is not None:
        timer = TimerKind.ACK_TIMEOUT
        timeout = timedelta(seconds=snapshot.ack_timeout_seconds)
        due = _earlier(due if state.timer is timer else None, now + timeout)
    widened = replace(state, paged=tuple(paged), timer=timer, timer_due_at=due)
    return Transition(state=widened, pages=tuple(pages), changed=widened != state)


def _earlier(due: datetime | None, other: datetime) -> datetime:
    return other if due is None else min(due, other)


def on_timer(
    state: EscalationState, snapshot: PolicySnapshot, kind: TimerKind, now: datetime
) -> Transition:
    """A due timer; a no-op when the alert has moved on since it was set."""
    if kind is TimerKind.ESCALATE and state.status == TRIGGERED and state.timer is kind:
        return _escalate(state, snapshot, now)
    if kind is TimerKind.ACK_TIMEOUT and state.status == ACKNOWLEDGED and state.timer is kind:
        return _retrigger(state, snapshot, now)
    return _unchanged(state)


def _escalate(state: EscalationState, snapshot: PolicySnapshot, now: datetime) -> Transition:
    if state.level < len(snapshot.levels):
        level, loop = state.level + 1, state.loop
    elif state.loop < snapshot.repeat:
        level, loop = 1, state.loop + 1
    else:
        exhausted = replace(state, exhausted=True, timer=None, timer_due_at=None)
        return Transition(
            state=exhausted,
            events=(("alert.escalation_exhausted", {"loops": state.loop + 1}),),
            pages=(
                Page(
                    people=(),
                    kind="escalation_exhausted",
                    level=state.level,
                    message=f"nobody acknowledged after {state.loop + 1} loop(s) of the policy",
                ),
            ),
        )
    new_state, page = _page_level(replace(state, loop=loop), snapshot, level, now)
    event = {
        "level": level,
        "loop": loop,
        "targets": list(page.people),
        "next_escalation_at": new_state.timer_due_at,
    }
    return Transition(
        state=new_state,
        events=(("alert.escalated", event),),
        pages=(page,) if page.people else (),
    )


def _retrigger(state: EscalationState, snapshot: PolicySnapshot, now: datetime) -> Transition:
    fresh = replace(
        state, status=TRIGGERED, cycle=state.cycle + 1, loop=0, acknowledgements=(), exhausted=False
    )
    new_state, page = _page_level(fresh, snapshot, 1, now)
    event = {
        "level": 1,
        "targets": list(page.people),
        "next_escalation_at": new_state.timer_due_at,
    }
    return Transition(
        state=new_state,
        events=(("alert.retriggered", event),),
        pages=(page,) if page.people else (),
    )


def acknowledge(
    state: EscalationState,
    snapshot: PolicySnapshot,
    person_id: str,
    component: str,
    now: datetime,
) -> Transition:
    """An acknowledgement; on a quorum level only the last missing component stops it."""
    if state.status == RESOLVED:
        return _unchanged(state, "the alert is resolved")
    if person_id not in snapshot.chain:
        return _unchanged(state, f"{person_id} is not on this alert's escalation chain")
    if state.status == ACKNOWLEDGED or any(
        a.person_id == person_id for a in state.acknowledgements
    ):
        return _unchanged(state)  # already counted: acknowledging twice changes nothing
    acks = (*state.acknowledgements, Acknowledgement(person_id, component, now))
    current = snapshot.levels[state.level - 1]
    if current.quorum and person_id in current.targets:
        missing = sorted(set(current.components.values()) - {a.component for a in acks})
        if missing:
            recorded = {
                "person_id": person_id,
                "component": component,
                "missing_components": missing,
            }
            return Transition(
                state=replace(state, acknowledgements=acks),
                events=(("alert.acknowledgement_recorded", recorded),),
            )
    timeout = snapshot.ack_timeout_seconds
    acknowledged = replace(
        state,
        status=ACKNOWLEDGED,
        acknowledgements=acks,
        timer=TimerKind.ACK_TIMEOUT if timeout is not None else None,
        timer_due_at=now + timedelta(seconds=timeout) if timeout is not None else None,
    )
    event = {
        "person_id": person_id,
        "acknowledged_by": [a.person_id for a in acks],
        "ack_timeout_at": acknowledged.timer_due_at,
    }
    return Transition(
        state=acknowledged,
        events=(("alert.acknowledged", event),),
        pages=(
            Page(
                people=state.paged,
                kind="acknowledged",
                level=state.level,
                message=f"acknowledged by {person_id}",
            ),
        ),
    )


def resolve(state: EscalationState, person_id: str, note: str) -> Transition:
    """Resolve: final; escalation and ack timeout stop."""
    if state.status == RESOLVED:
        return _unchanged(state, "the alert is already resolved")
    resolved = replace(state, status=RESOLVED, timer=None, timer_due_at=None)
    return Transition(
        state=resolved,
        events=(("alert.resolved", {"person_id": person_id, "note": note}),),
        pages=(
            Page(
                people=state.paged,
                kind="resolved",
                level=state.level,
                # Never the note: a notification leaves the mission's systems (webhook,
                # e-mail, SMS) whatever the alert's classification; the note stays on
                # the alert, where need-to-know applies.
                message=f"resolved by {person_id}",
            ),
        ),
    )
