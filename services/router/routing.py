"""Routing rules: which policy applies to an alert, and whom a level pages.

Pure functions of the directory and the alert, so they are unit-tested
table-driven and re-run by auditors against a policy snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.directory import Contact, Directory, Person, PolicyLevel, Route, RouteMatch

# Channels the notifier can deliver today, in order of preference.
SUPPORTED_CHANNELS = ("webhook",)


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
    """The people a level pages for an alert in ``sector``, each once, in target order."""
    people: dict[str, Person] = {}
    for target in level.targets:
        if target.person is not None:
            person = directory.person(target.person)
            found = [person] if person is not None else []
        else:
            found = [
                p
                for p in directory.people
                if target.role in p.roles and (target.scope == "mission" or p.covers(sector))
            ]
        for person in found:
            people.setdefault(person.id, person)
    return list(people.values())


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


def usable_contact(person: Person) -> Contact | None:
    """The person's preferred contact on a channel we can deliver, if any."""
    for channel in SUPPORTED_CHANNELS:
        for contact in person.contacts:
            if contact.channel == channel:
                return contact
    return None
