"""Dry run of the routing and escalation policy: who would be paged, on which channels, when.

``coord policy dry-run`` prints it ("who is paged for a severe abduction in
sector beni?"). Pure: the same routing functions as the router, and the
escalation semantics of docs/contract.md: level 1 at T+0 (plus the level-1
targets of ``continue`` routes), each next level after the previous level's
delay (earlier targets may still acknowledge), ``repeat`` more loops from
level 1, then - the last level's delay later - escalation exhausted and every
``joc_operator`` told. Times assume nobody acknowledges.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from services.router.routing import (
    SUPPORTED_CHANNELS,
    AlertFacts,
    first_level_pages,
    joc_operators,
    resolve_targets,
    route_matches,
    select_policies,
)
from shared.addressing import cleared_for
from shared.directory import Contact, Directory, Person
from shared.envelope import Classification


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
    policy = directory.policy(policy_ids[0])
    first = tuple(
        planned_page(page.person, page.policy_id, channels, facts.classification)
        for page in first_level_pages(directory, policy_ids, facts.sector)
    )
    steps: list[PlannedStep] = []
    at = timedelta(0)
    loops = policy.repeat + 1
    for loop in range(1, loops + 1):
        for number, level in enumerate(policy.levels, start=1):
            pages = (
                first
                if number == 1
                else tuple(
                    planned_page(person, policy.id, channels, facts.classification)
                    for person in resolve_targets(directory, level, facts.sector)
                )
            )
            steps.append(
                PlannedStep(
                    at=at,
                    loop=loop,
                    level=number,
                    pages=pages,
                    delay=level.delay,
                    quorum=level.quorum == "per_component",
                )
            )
            at += level.delay
    return DryRun(
        facts=facts,
        routes=routes,
        policy_ids=tuple(policy_ids),
        steps=tuple(steps),
        loops=loops,
        exhausted_at=at,
        ack_timeout=policy.ack_timeout,
        joc=joc,
    )


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
