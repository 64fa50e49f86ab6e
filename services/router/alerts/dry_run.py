"""Dry run of the routing and escalation policy: who would be paged, on which channels, when.

``coord policy dry-run`` prints it ("who is paged for a severe abduction in
sector beni?"). Pure: the router's own routing (``snapshot_policy``) and its own
escalation state machine, run with nobody acknowledging: level 1 at T+0 (plus
the level-1 targets of ``continue`` routes), each next level after the previous
level's delay, ``repeat`` more loops from level 1, then - the last level's
delay later - escalation exhausted and every ``joc_operator`` told.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from services.router.alerts.escalation import PolicySnapshot, TimerKind, on_timer, trigger
from services.router.alerts.routing import (
    AlertFacts,
    first_level_pages,
    route_matches,
    select_policies,
    snapshot_policy,
)
from shared.addressing import cleared_for, joc_operators
from shared.contracts.notifications import SUPPORTED_CHANNELS
from shared.directory import Contact, Directory, Person
from shared.envelope import Classification

# Any moment does: the dry run prints offsets from the trigger.
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


class UnknownSector(ValueError):
    """The alert's sector is not one of the directory's (ingest would refuse the alert)."""


@dataclass(frozen=True)
class PlannedPage:
    """One person paged, and how they would be reached."""

    person_id: str
    name: str
    component: str
    contacts: tuple[Contact, ...]  # on supported channels, in the directory's order
    policy_id: str
    cleared: bool = True  # for the alert's classification: the router pages no one else

    @property
    def reachable(self) -> bool:
        """False when the person cannot be paged: no supported contact, or not cleared."""
        return bool(self.contacts) and self.cleared


@dataclass(frozen=True)
class PlannedStep:
    """One level paged in one loop, ``at`` after the alert was triggered."""

    at: timedelta
    loop: int  # 1-based
    level: int  # 1-based
    pages: tuple[PlannedPage, ...]
    delay: timedelta  # how long this level waits for an acknowledgement
    quorum: bool  # one acknowledgement per component needed at this level

    @property
    def pages_nobody(self) -> bool:
        """True when the level resolves to nobody in the alert's sector."""
        return not self.pages


@dataclass(frozen=True)
class MatchedRoute:
    """A route that matches the alert (the first, then more while ``continue``)."""

    index: int  # position in the directory's routes
    policy_id: str
    continue_: bool
    match: dict[str, list[str]]


@dataclass(frozen=True)
class DryRun:
    """The plan for one alert, if nobody acknowledges."""

    facts: AlertFacts
    routes: tuple[MatchedRoute, ...]
    policy_ids: tuple[str, ...]  # every selected policy; the first is snapshotted
    steps: tuple[PlannedStep, ...]
    loops: int  # 1 + the policy's repeat
    exhausted_at: timedelta | None
    ack_timeout: timedelta | None
    joc: tuple[PlannedPage, ...]  # told on exhaustion, an unreachable target, or no route

    @property
    def policy_id(self) -> str | None:
        """The policy snapshotted on the alert (the first matching route's)."""
        return self.policy_ids[0] if self.policy_ids else None

    @property
    def unrouted(self) -> bool:
        """True when no route matches: nobody is paged, the JOC sees ``alert.unrouted``."""
        return not self.policy_ids

    @property
    def warnings(self) -> list[str]:
        """What would go wrong: levels paging nobody, people who cannot be reached."""
        sector = self.facts.sector
        found: list[str] = []
        if self.unrouted:
            found.append("no route matches this alert: nobody is paged (alert.unrouted)")
        found.extend(
            f"level {step.level} pages nobody in sector {sector!r}"
            for step in self.steps
            if step.loop == 1 and step.pages_nobody
        )
        unreachable = {
            page.person_id: page for step in self.steps for page in step.pages if not page.reachable
        }
        found.extend(
            f"{person_id} "
            + (
                "has no contact on a supported channel"
                if page.cleared
                else f"is not cleared for a {self.facts.classification} alert"
            )
            + ": the JOC is told instead (alert.target_unreachable)"
            for person_id, page in unreachable.items()
        )
        if not any(page.reachable for page in self.joc):
            found.append("no joc_operator can be reached: exhaustion and failures go unheard")
        return found


def planned_page(
    person: Person, policy_id: str, channels: Sequence[str], classification: str
) -> PlannedPage:
    """A person as paged: their contacts on ``channels``, in the directory's order."""
    return PlannedPage(
        person_id=person.id,
        name=person.name,
        component=person.component,
        contacts=tuple(c for c in person.contacts if c.channel in channels),
        policy_id=policy_id,
        cleared=cleared_for(person, Classification(classification)),
    )


def plan_dry_run(
    directory: Directory, facts: AlertFacts, channels: Sequence[str] = SUPPORTED_CHANNELS
) -> DryRun:
    """Who is paged for an alert with ``facts``, level by level and loop by loop."""
    if facts.sector not in directory.sectors:
        raise UnknownSector(
            f"unknown sector {facts.sector!r}; known sectors: {', '.join(directory.sectors)}"
        )
    policy_ids = select_policies(directory.routes, facts)
    joc = tuple(
        planned_page(p, "", channels, facts.classification)
        for p in joc_operators(directory, facts.sector)
    )
    routes = tuple(_matched_routes(directory, facts))
    if not policy_ids:
        return DryRun(facts, routes, (), (), 0, None, None, joc)
    snapshot = snapshot_policy(directory, policy_ids, facts.sector)
    if snapshot is None:  # pragma: no cover - policy_ids is not empty
        raise LookupError(f"policies {policy_ids} have no snapshot")
    steps, exhausted_at = _schedule(directory, snapshot, facts, channels)
    policy = directory.policy(policy_ids[0])
    return DryRun(
        facts=facts,
        routes=routes,
        policy_ids=tuple(policy_ids),
        steps=steps,
        loops=snapshot.repeat + 1,
        exhausted_at=exhausted_at,
        ack_timeout=policy.ack_timeout,
        joc=joc,
    )


def _schedule(
    directory: Directory, snapshot: PolicySnapshot, facts: AlertFacts, channels: Sequence[str]
) -> tuple[tuple[PlannedStep, ...], timedelta]:
    """Run the router's escalation state machine with nobody acknowledging.

    Every level it pages is a step, at the time it pages it; the offset at which it
    gives up is when escalation is exhausted. The rule lives in ``escalation``: the dry
    run only reads it.
    """
    # Level 1 may hold targets of further policies (routes with ``continue``): say whose.
    first_policy = {
        page.person.id: page.policy_id
        for page in first_level_pages(directory, list(snapshot.policy_ids), facts.sector)
    }
    start = _EPOCH
    now = start
    transition = trigger(snapshot, now)
    steps: list[PlannedStep] = []
    while not transition.state.exhausted:
        state = transition.state
        level = snapshot.levels[state.level - 1]
        steps.append(
            PlannedStep(
                at=now - start,
                loop=state.loop + 1,
                level=state.level,
                pages=tuple(
                    planned_page(
                        _person(directory, person_id),
                        (first_policy if state.level == 1 else {}).get(
                            person_id, snapshot.policy_id or ""
                        ),
                        channels,
                        facts.classification,
                    )
                    for person_id in level.targets
                ),
                delay=timedelta(seconds=level.delay_seconds),
                quorum=level.quorum,
            )
        )
        if state.timer_due_at is None:  # pragma: no cover - a triggered alert has a timer
            break
        now = state.timer_due_at
        transition = on_timer(state, snapshot, TimerKind.ESCALATE, now)
    return tuple(steps), now - start


def _person(directory: Directory, person_id: str) -> Person:
    person = directory.person(person_id)
    if person is None:  # pragma: no cover - the snapshot was resolved from this directory
        raise LookupError(f"{person_id!r} is not in the directory")
    return person


def _matched_routes(directory: Directory, facts: AlertFacts) -> list[MatchedRoute]:
    # The routes behind select_policies' answer, for the reader: same rule, kept with indexes.
    matched: list[MatchedRoute] = []
    for index, route in enumerate(directory.routes):
        if route_matches(route.match, facts):
            matched.append(
                MatchedRoute(
                    index=index,
                    policy_id=route.policy,
                    continue_=route.continue_,
                    match=route.match.model_dump(exclude_none=True),
                )
            )
            if not route.continue_:
                break
    return matched


def format_offset(offset: timedelta) -> str:
    """``T+0``, ``T+10m``, ``T+80m``, ``T+2h``, ``T+90s`` (see ``format_duration``)."""
    return "T+" + format_duration(offset) if offset > timedelta(0) else "T+0"


def format_duration(duration: timedelta) -> str:
    """A duration in one unit, as a directory file writes it.

    The largest unit that divides it: ``10m``, ``80m``, ``2h``, ``1d``, ``90s``, ``1.5s``.
    """
    seconds = round(duration.total_seconds(), 3)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
