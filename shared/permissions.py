"""Who may act on an alert: one rule, used by ingest (quick 403) and the router (authority)."""

from __future__ import annotations

from collections.abc import Collection

from shared.directory import Person

JOC_ROLE = "joc_operator"


def may_acknowledge(person_id: str, chain: Collection[str]) -> bool:
    """Only someone on the alert's escalation chain acknowledges it."""
    return person_id in chain


def may_act_on_alert(person: Person | None, chain: Collection[str], sector: str) -> bool:
    """Resolve and notes: anyone on the chain, or a JOC duty officer of the sector."""
    if person is None:
        return False
    on_duty = JOC_ROLE in person.roles and person.covers(sector)
    return on_duty or person.id in chain
