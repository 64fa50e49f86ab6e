"""The directory: people, roles, sectors, contacts, escalation policies, routes.

Loaded from the YAML format of ``examples/directory.yaml``. Durations are
"90s", "15m", "2h" or ISO 8601 ("PT15M").
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from shared.envelope import Classification

MISSION_WIDE = "*"
_SHORT_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _parse_duration(value: Any) -> Any:
    if isinstance(value, str):
        match = _SHORT_DURATION.match(value)
        if match:
            return timedelta(seconds=float(match[1]) * _UNIT_SECONDS[match[2]])
    return value  # ISO 8601 and numbers of seconds: pydantic parses them


Duration = Annotated[timedelta, BeforeValidator(_parse_duration)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Contact(_Strict):
    """One way to reach a person."""

    channel: str = Field(min_length=1)
    address: str = Field(min_length=1)


class Person(_Strict):
    """A person of the mission and what the directory knows of them."""

    id: str = Field(min_length=1)
    name: str
    component: str
    roles: list[str] = []
    sectors: list[str] = []
    clearance: Classification = Classification.UNCLASSIFIED
    contacts: list[Contact] = []

    def covers(self, sector: str) -> bool:
        """True when the person is responsible for ``sector``."""
        return MISSION_WIDE in self.sectors or sector in self.sectors


class Target(_Strict):
    """Who a policy level pages: a role (in the alert's sector, or mission-wide) or a person."""

    role: str | None = None
    person: str | None = None
    scope: str = Field(default="sector", pattern="^(sector|mission)$")

    @model_validator(mode="after")
    def _one_of_role_or_person(self) -> Target:
        if (self.role is None) == (self.person is None):
            raise ValueError("a target names exactly one of role or person")
        return self


class PolicyLevel(_Strict):
    """One step up the chain: whom to page, and how long to wait for an ack."""

    targets: list[Target] = Field(min_length=1)
    delay: Duration
    quorum: str | None = Field(default=None, pattern="^per_component$")


class EscalationPolicy(_Strict):
    """Ordered levels, repeated up to ``repeat`` more times."""

    id: str
    levels: list[PolicyLevel] = Field(min_length=1)
    repeat: int = Field(default=0, ge=0, le=9)
    ack_timeout: Duration | None = None


class RouteMatch(_Strict):
    """Alertmanager-style matcher: every listed field must contain the alert's value."""

    category: list[str] | None = None
    severity: list[str] | None = None
    sector: list[str] | None = None
    origin: list[str] | None = None
    classification: list[str] | None = None


class Route(_Strict):
    """A matcher and the policy it selects."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    match: RouteMatch = RouteMatch()
    policy: str
    continue_: bool = Field(default=False, alias="continue")


class Directory(_Strict):
    """The whole directory and policy file."""

    mission: str
    sectors: list[str]
    people: list[Person]
    escalation_policies: list[EscalationPolicy] = []
    routes: list[Route] = []

    @model_validator(mode="after")
    def _references_exist(self) -> Directory:
        policy_ids = {p.id for p in self.escalation_policies}
        for route in self.routes:
            if route.policy not in policy_ids:
                raise ValueError(f"route names unknown policy {route.policy!r}")
        person_ids = {p.id for p in self.people}
        for policy in self.escalation_policies:
            for number, level in enumerate(policy.levels, start=1):
                for target in level.targets:
                    if target.person is not None and target.person not in person_ids:
                        raise ValueError(
                            f"policy {policy.id!r} level {number} names unknown person "
                            f"{target.person!r}"
                        )
        return self

    def person(self, person_id: str) -> Person | None:
        """The person with this id, if any."""
        return next((p for p in self.people if p.id == person_id), None)

    def policy(self, policy_id: str) -> EscalationPolicy:
        """The policy with this id (routes are validated to name existing ones)."""
        return next(p for p in self.escalation_policies if p.id == policy_id)


def load_directory(path: Path) -> Directory:
    """Read and validate a directory file."""
    with path.open(encoding="utf-8") as stream:
        return Directory.model_validate(yaml.safe_load(stream))
