"""Stage 3 of checking a directory: who would really be paged (``coord directory check``).

A directory can be valid and still page nobody: a target role nobody holds, a level
that pages nobody in some sector, a target without a contact on a supported channel,
a sector whose JOC cannot be told, a route no alert can reach. These are warnings
(``coverage`` problems): ``coord directory load`` still takes the directory.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from shared.directory import (
    Directory,
    EscalationPolicy,
    Location,
    PolicyLevel,
    resolve_level,
)
from shared.permissions import JOC_ROLE

#: Where in the directory, and what is wrong there.
Finding = tuple[Location, str]


def coverage_problems(directory: Directory, channels: Sequence[str]) -> list[Finding]:
    """Who would not be paged, or not heard, with this directory (``channels`` supported)."""
    found: list[Finding] = []
    held = {role for person in directory.people for role in person.roles}
    paged_by: dict[str, list[str]] = {}  # person id -> "policy level n" that page them
    for p, policy in enumerate(directory.escalation_policies):
        for n, level in enumerate(policy.levels):
            where: Location = ("escalation_policies", p, "levels", n)
            nobody_roles = [
                t.role for t in level.targets if t.role is not None and t.role not in held
            ]
            for t, target in enumerate(level.targets):
                if target.role in nobody_roles:
                    found.append(
                        (
                            (*where, "targets", t, "role"),
                            f"policy {policy.id!r} level {n + 1} targets role {target.role!r} "
                            "that no person has",
                        )
                    )
            found += _sector_gaps(
                directory,
                policy=policy,
                n=n,
                level=level,
                where=where,
                nobody_roles=nobody_roles,
            )
            for sector in directory.sectors or ["*"]:
                for person in resolve_level(directory, level, sector):
                    who = paged_by.setdefault(person.id, [])
                    label = f"{policy.id} level {n + 1}"
                    if label not in who:
                        who.append(label)
    for index, person in enumerate(directory.people):
        if person.id in paged_by and not any(c.channel in channels for c in person.contacts):
            has = ", ".join(sorted({c.channel for c in person.contacts})) or "none"
            found.append(
                (
                    ("people", index, "contacts"),
                    f"{person.id} is a target of {', '.join(paged_by[person.id])} but has no "
                    f"contact on a supported channel ({', '.join(channels)}); has: {has}",
                )
            )
    found += _unheard_jocs(directory, channels)
    found += _unreachable_routes(directory)
    return found


def _unheard_jocs(directory: Directory, channels: Sequence[str]) -> list[Finding]:
    """Sectors where no JOC duty officer can be told (no contact on a supported channel).

    The router tells a sector's JOC when escalation is exhausted, a target cannot be
    reached, or no route takes an alert: there, that would go unheard.
    """
    found: list[Finding] = []
    for index, sector in enumerate(directory.sectors):
        jocs = [p for p in directory.people if JOC_ROLE in p.roles and p.covers(sector)]
        if any(c.channel in channels for p in jocs for c in p.contacts):
            continue
        why = (
            f"no {JOC_ROLE} covering it has a contact on a supported channel "
            f"({', '.join(channels)}): {', '.join(p.id for p in jocs)}"
            if jocs
            else f"nobody with role {JOC_ROLE} covers it"
        )
        found.append(
            (
                ("sectors", index),
                f"the JOC of sector {sector!r} cannot be told of exhausted escalations or "
                f"unreachable targets: {why}",
            )
        )
    return found


def _sector_gaps(
    directory: Directory,
    *,
    policy: EscalationPolicy,
    n: int,
    level: PolicyLevel,
    where: Location,
    nobody_roles: Collection[str],
) -> list[Finding]:
    """A level paging nobody in a sector (for its sector-scoped role targets)."""
    scoped = [t.role for t in level.targets if t.role is not None and t.scope == "sector"]
    if not scoped or all(role in nobody_roles for role in scoped):
        return []  # paging nobody anywhere is already said of each role
    found: list[Finding] = []
    for sector in directory.sectors:
        if not resolve_level(directory, level, sector):
            roles = " or ".join(dict.fromkeys(r for r in scoped if r not in nobody_roles))
            found.append(
                (
                    where,
                    f"policy {policy.id!r} level {n + 1} pages nobody in sector {sector!r} "
                    f"(nobody with role {roles} covers it)",
                )
            )
    return found


def _unreachable_routes(directory: Directory) -> list[Finding]:
    found: list[Finding] = []
    catch_all: str | None = None  # the policy of an earlier route that takes every alert
    for index, route in enumerate(directory.routes):
        if catch_all is not None:
            found.append(
                (
                    ("routes", index),
                    f"route to {route.policy!r} is never reached: an earlier route (to "
                    f"{catch_all!r}) matches every alert and does not continue",
                )
            )
        elif not route.continue_ and not route.match.model_dump(exclude_none=True):
            catch_all = route.policy
    return found


# --------------------------------------------------------------------------- line numbers
