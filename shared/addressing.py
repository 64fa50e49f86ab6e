"""Addressing: who a message, a recommendation or a notice reaches, and who is above them.

Pure rules over the directory, used by ingest (a quick 422 naming an unknown
addressee) and by the router (the authority that resolves and delivers).
"""

from __future__ import annotations

from shared.contracts.messages import Addressees, Delivery
from shared.contracts.notifications import SUPPORTED_CHANNELS
from shared.contracts.recommendations import RecommendationAddressee
from shared.directory import MISSION_WIDE, Contact, Directory, Person
from shared.envelope import Classification

_RANK = {
    Classification.UNCLASSIFIED: 0,
    Classification.CONFIDENTIAL: 1,
    Classification.STRICTLY_CONFIDENTIAL: 2,
}

KNOWN_COMPONENTS = ("civilian", "military", "police")


def cleared_for(person: Person, classification: Classification) -> bool:
    """True when ``person``'s clearance is at least ``classification``."""
    return _RANK[person.clearance] >= _RANK[classification]


def cleared_classifications(person: Person) -> list[Classification]:
    """Every classification ``person`` may read (for SQL ``IN`` filters)."""
    return [c for c in Classification if cleared_for(person, c)]


def not_cleared_reason(person: Person, classification: Classification) -> str:
    """Why ``person`` does not get something of ``classification``, in words."""
    return (
        f"{person.id} is cleared for {person.clearance.value} only; "
        f"the message is {classification.value}"
    )


def unknown_addressees(directory: Directory, to: Addressees) -> list[str]:
    """What ``to`` names that the directory does not know, e.g. ``unknown role 'x'``."""
    components = set(KNOWN_COMPONENTS) | {p.component for p in directory.people}
    roles = {role for p in directory.people for role in p.roles}
    problems = [f"unknown component {c!r}" for c in to.components if c not in components]
    problems += [f"unknown role {r!r}" for r in to.roles if r not in roles]
    problems += [f"unknown person {p!r}" for p in to.persons if directory.person(p) is None]
    problems += [f"unknown sector {s!r}" for s in to.sectors if s not in directory.sectors]
    return problems


def _selected(person: Person, to: Addressees) -> bool:
    if not (to.components or to.roles or to.sectors):
        return False
    return (
        (not to.components or person.component in to.components)
        and (not to.roles or any(role in person.roles for role in to.roles))
        and (not to.sectors or any(person.covers(sector) for sector in to.sectors))
    )


def resolve_addressees(directory: Directory, to: Addressees, sender: str) -> list[Person]:
    """Everyone ``to`` names, each once, in directory order; never the sender.

    ``persons`` always count; the other selectors narrow each other (see
    ``Addressees``). Clearance is not looked at here: see ``deliveries``.
    """
    return [
        p for p in directory.people if p.id != sender and (p.id in to.persons or _selected(p, to))
    ]


def deliveries(
    directory: Directory, to: Addressees, sender: str, classification: Classification
) -> list[Delivery]:
    """Each resolved addressee, delivered when cleared, otherwise with the reason."""
    return [
        Delivery(person_id=p.id, delivered=True)
        if cleared_for(p, classification)
        else Delivery(person_id=p.id, delivered=False, reason=not_cleared_reason(p, classification))
        for p in resolve_addressees(directory, to, sender)
    ]


def recommendation_addressees(
    directory: Directory, addressee: RecommendationAddressee, sector: str
) -> list[Person]:
    """The people a recommendation is for: the person, or everyone with the role in ``sector``."""
    if addressee.person is not None:
        person = directory.person(addressee.person)
        return [person] if person is not None else []
    return [p for p in directory.people if addressee.role in p.roles and p.covers(sector)]


def chain_of_command(directory: Directory, person: Person) -> list[str]:
    """The roles above ``person``, nearest first (from their first role that has a superior)."""
    start = next((role for role in person.roles if role in directory.superiors), None)
    chain: list[str] = []
    current = directory.superiors.get(start) if start is not None else None
    while current is not None and current not in chain:  # loops are refused at load
        chain.append(current)
        current = directory.superiors.get(current)
    return chain


def _shares_area(superior: Person, person: Person) -> bool:
    if MISSION_WIDE in superior.sectors:
        return True
    return any(superior.covers(sector) for sector in person.sectors if sector != MISSION_WIDE)


def superiors_of(
    directory: Directory, person: Person, classification: Classification, level: int = 1
) -> list[Person]:
    """Who holds the role ``level`` steps above ``person`` over their area, and is cleared.

    Empty when the chain of command stops below ``level`` or nobody holds the role.
    """
    chain = chain_of_command(directory, person)
    if not 1 <= level <= len(chain):
        return []
    role = chain[level - 1]
    return [
        p
        for p in directory.people
        if role in p.roles
        and p.id != person.id
        and _shares_area(p, person)
        and cleared_for(p, classification)
    ]


def contact_points(person: Person) -> list[Contact]:
    """The person's contacts on channels we can deliver, in the directory's order."""
    return [c for c in person.contacts if c.channel in SUPPORTED_CHANNELS]


def joc_operators(directory: Directory, sector: str) -> list[Person]:
    """The JOC duty officers responsible for ``sector``: told when escalation fails."""
    return [p for p in directory.people if "joc_operator" in p.roles and p.covers(sector)]
