"""What an alert's escalation policy says is ahead: the quorum of a joint level, the next levels.

Read from the directory in force now, over the alert's view; the router's own decisions
(who was paged, when the next step is due) come from the view itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.contracts.escalation import AcknowledgementView
from shared.directory import Directory, EscalationPolicy, resolve_level


@dataclass(frozen=True)
class ComponentAcknowledgement:
    """On a joint level, one component: has someone of it acknowledged?"""

    component: str
    acknowledged_by: str | None  # a person id


@dataclass(frozen=True)
class LevelAhead:
    """A level not paged yet: who it pages, and when if nobody acknowledges."""

    level: int
    due_at: datetime | None
    people: tuple[str, ...]  # person ids


def _policy(directory: Directory, policy_id: str | None) -> EscalationPolicy | None:
    return next((p for p in directory.escalation_policies if p.id == policy_id), None)


def quorum(
    directory: Directory,
    policy_id: str | None,
    level: int | None,
    sector: str,
    acknowledgements: list[AcknowledgementView],
) -> list[ComponentAcknowledgement]:
    """Each component a joint (per-component quorum) level waits for; [] on other levels."""
    policy = _policy(directory, policy_id)
    if policy is None or level is None or not 1 <= level <= len(policy.levels):
        return []
    current = policy.levels[level - 1]
    if current.quorum != "per_component":
        return []
    components = sorted({p.component for p in resolve_level(directory, current, sector)})
    first_by: dict[str, str] = {}
    for ack in acknowledgements:
        first_by.setdefault(ack.component, ack.person_id)
    return [ComponentAcknowledgement(c, first_by.get(c)) for c in components]


def levels_ahead(
    directory: Directory,
    policy_id: str | None,
    level: int | None,
    sector: str,
    next_escalation_at: datetime | None,
) -> list[LevelAhead]:
    """The levels after ``level``, each with when it pages if nobody acknowledges first."""
    policy = _policy(directory, policy_id)
    if policy is None or level is None:
        return []
    ahead: list[LevelAhead] = []
    due = next_escalation_at
    for number in range(level + 1, len(policy.levels) + 1):
        step = policy.levels[number - 1]
        people = tuple(p.id for p in resolve_level(directory, step, sector))
        ahead.append(LevelAhead(number, due, people))
        # A level's delay is how long it waits before the next one pages.
        due = due + step.delay if due is not None else None
    return ahead
