"""Routing rules: which policy applies to an alert, and whom a level pages.

Pure functions of the directory and the alert, so they are unit-tested
table-driven and re-run by auditors against a policy snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.router.alerts.escalation import LevelSnapshot, PolicySnapshot
from shared.directory import (
    Directory,
    Person,
    PolicyLevel,
    Route,
    RouteMatch,
    resolve_level,
)


@dataclass(frozen=True)
class AlertFacts:
    """The fields of an alert that routes match on."""

    category: str
    severity: str
    sector: str
    origin: str
    classification: str


def route_matches(match: RouteMatch, facts: AlertFacts) -> bool:
    """True when every field the matcher lists contains the alert's value."""
    wanted = {
        "category": match.category,
        "severity": match.severity,
        "sector": match.sector,
        "origin": match.origin,
        "classification": match.classification,
    }
    return all(
        values is None or getattr(facts, field) in values for field, values in wanted.items()
    )


def select_policies(routes: list[Route], facts: AlertFacts) -> list[str]:
    """Policy ids of the matching routes: the first match, plus more while ``continue``."""
    selected: list[str] = []
    for route in routes:
        if route_matches(route.match, facts):
            if route.policy not in selected:
                selected.append(route.policy)
            if not route.continue_:
                break
    return selected


def resolve_targets(directory: Directory, level: PolicyLevel, sector: str) -> list[Person]:
    """The people a level pages for an alert in ``sector`` (the directory's one rule)."""
    return resolve_level(directory, level, sector)


@dataclass(frozen=True)
class Page:
    """One person to page, and the policy that asks for it (kept for the audit)."""

    person: Person
    policy_id: str


def first_level_pages(directory: Directory, policy_ids: list[str], sector: str) -> list[Page]:
    """Everyone paged at level 1 of the selected policies, each once (first policy wins)."""
    pages: dict[str, Page] = {}
    for policy_id in policy_ids:
        level = directory.policy(policy_id).levels[0]
        for person in resolve_targets(directory, level, sector):
            pages.setdefault(person.id, Page(person, policy_id))
    return list(pages.values())


def snapshot_policy(
    directory: Directory, policy_ids: list[str], sector: str
) -> PolicySnapshot | None:
    """The first selected policy with its targets resolved in ``sector``; None if no policy.

    Level-1 targets of further policies (routes with ``continue``) join level 1.
    """
    if not policy_ids:
        return None
    policy = directory.policy(policy_ids[0])
    levels = []
    for number, level in enumerate(policy.levels, start=1):
        people = resolve_targets(directory, level, sector)
        if number == 1:
            extra = first_level_pages(directory, policy_ids[1:], sector)
            people += [page.person for page in extra if page.person not in people]
        levels.append(
            LevelSnapshot(
                targets=tuple(p.id for p in people),
                components={p.id: p.component for p in people},
                delay_seconds=level.delay.total_seconds(),
                quorum=level.quorum == "per_component",
            )
        )
    return PolicySnapshot(
        policy_id=policy.id,
        policy_ids=tuple(policy_ids),
        levels=tuple(levels),
        repeat=policy.repeat,
        ack_timeout_seconds=policy.ack_timeout.total_seconds() if policy.ack_timeout else None,
    )
