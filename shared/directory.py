"""The directory: people, roles, sectors, contacts, escalation policies, routes.

Loaded from the YAML format of ``examples/directory.yaml``. Durations are
"90s", "15m", "2h" or ISO 8601 ("PT15M").

Validation comes in two stages, so that ``coord directory check`` can name
every problem of a file rather than the first:

1. the schema: fields, types, enums, ranges, within one item
   (``validate_schema`` stops here);
2. references across items: a route's policy exists, a person target exists,
   ids are unique, a policy has a level (``reference_errors``).

``Directory.model_validate`` and ``load_directory`` do both and refuse a file
with any error: that is what the services load.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    model_validator,
)

from shared.community_contacts import CommunityContact, seal_contacts
from shared.envelope import Classification
from shared.geography import PartnerAreaNames, SectorArea
from shared.partners import Partner, partner_errors
from shared.sms.phones import e164_or_none

if TYPE_CHECKING:
    from shared.source_protection import SourceKeyRing

MISSION_WIDE = "*"
_SHORT_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

NO_LEVEL = "a policy needs at least one level"

# Validation context key: False = the schema only, no references across items.
_CHECK_REFERENCES: Final = "check_references"


def _checks_references(info: ValidationInfo) -> bool:
    context = info.context
    return not (isinstance(context, dict) and context.get(_CHECK_REFERENCES) is False)


_ISO_OR_NUMBER = re.compile(r"^\s*(-?P.*|-?\d+(\.\d+)?)\s*$")


def _parse_duration(value: Any) -> Any:
    if isinstance(value, str):
        match = _SHORT_DURATION.match(value)
        if match:
            return timedelta(seconds=float(match[1]) * _UNIT_SECONDS[match[2]])
        if not _ISO_OR_NUMBER.match(value):
            raise ValueError("a duration is like 90s, 15m, 2h, 1d or ISO 8601 (PT15M)")
    return value  # ISO 8601 and numbers of seconds: pydantic parses them


Duration = Annotated[timedelta, BeforeValidator(_parse_duration)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Contact(_Strict):
    """One way to reach a person."""

    channel: str = Field(min_length=1)
    address: str = Field(min_length=1)

    @model_validator(mode="after")
    def _sms_is_a_phone_number(self) -> Contact:
        # Inbound SMS find their sender by this number: a typo would make an officer's
        # replies "unknown number", found only in the field.
        if self.channel == "sms" and e164_or_none(self.address) is None:
            raise ValueError(
                f"sms address {self.address!r} is not a phone number with its country code "
                "(e.g. +243990000111)"
            )
        return self


class Language(StrEnum):
    """The language a person reads coord in: their pages, their notices, the board."""

    EN = "en"
    FR = "fr"


class Person(_Strict):
    """A person of the mission and what the directory knows of them."""

    id: str = Field(min_length=1)
    name: str
    component: str
    roles: list[str] = []
    sectors: list[str] = []
    clearance: Classification = Classification.UNCLASSIFIED
    contacts: list[Contact] = []
    # Most of MONUSCO, MINUSCA and MINUSMA work in French; without a word, English.
    language: Language = Language.EN

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

    id: str = Field(min_length=1)
    levels: list[PolicyLevel] = []
    repeat: int = Field(default=0, ge=0, le=9)
    ack_timeout: Duration | None = None

    @model_validator(mode="after")
    def _has_a_level(self, info: ValidationInfo) -> EscalationPolicy:
        # Stage 2 (see the module docstring): ``validate_schema`` lets it through
        # so that the check names it as "policy ... has no level".
        if not self.levels and _checks_references(info):
            raise ValueError(NO_LEVEL)
        return self


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
    # The chain of command by role (role -> the role it reports to), for messages
    # and recommendations that nobody answers in time. Optional: without it they
    # escalate to the JOC.
    superiors: dict[str, str] = {}
    # Each sector's outline (GeoJSON), for the board's map. Optional: a sector without
    # one is drawn by its alerts only.
    sector_areas: dict[str, SectorArea] = {}
    # What partners' CAP messages call each sector, for imports (points and polygons
    # are placed by sector_areas).
    cap_areas: dict[str, PartnerAreaNames] = {}
    # Who reads the alerts released to partners (shared.partners): by token digest.
    partners: list[Partner] = []
    # The focal points of community alert networks (shared.community_contacts): sealed
    # in every stored version, plaintext only in the administrator's file.
    community_contacts: list[CommunityContact] = []

    @model_validator(mode="after")
    def _references_exist(self, info: ValidationInfo) -> Directory:
        if _checks_references(info):
            errors = reference_errors(self)
            if errors:
                raise ValueError(
                    "; ".join(f"{format_location(where)}: {what}" for where, what in errors)
                )
        return self

    def person(self, person_id: str) -> Person | None:
        """The person with this id, if any."""
        return next((p for p in self.people if p.id == person_id), None)

    def person_with_phone(self, number: str, default_region: str | None = None) -> Person | None:
        """The person whose ``sms`` contact is ``number`` (both read as E.164), if any."""
        wanted = e164_or_none(number, default_region)
        if wanted is None:
            return None
        return next(
            (
                person
                for person in self.people
                for contact in person.contacts
                if contact.channel == "sms"
                and e164_or_none(contact.address, default_region) == wanted
            ),
            None,
        )

    def with_sealed_contacts(self, keys: SourceKeyRing) -> Directory:
        """This directory with every community contact sealed: as it may be stored."""
        sealed = seal_contacts(self.community_contacts, keys)
        return self.model_copy(update={"community_contacts": sealed})

    def community_contact(self, contact_id: str) -> CommunityContact | None:
        """The community contact with this id, if any."""
        return next((c for c in self.community_contacts if c.id == contact_id), None)

    def policy(self, policy_id: str) -> EscalationPolicy:
        """The policy with this id (routes are validated to name existing ones)."""
        return next(p for p in self.escalation_policies if p.id == policy_id)

    def content(self) -> dict[str, Any]:
        """The directory as JSON-ready data that ``Directory.model_validate`` reads back.

        Durations become ISO 8601 ("PT10M"); unset optional fields are left out.
        """
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


Location = tuple[str | int, ...]


def format_location(location: Location) -> str:
    """A path into the file as people read it: ``routes[3].policy``."""
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "(top level)"


def reference_errors(
    directory: Directory,
    *,
    known_people: Collection[str] = (),
    known_policies: Collection[str] = (),
) -> list[tuple[Location, str]]:
    """Stage 2: what refers to something missing, as (location, message), in file order.

    ``known_people`` / ``known_policies``: ids of items left out of ``directory``
    (say, for a schema error): they exist, so naming them is not an error here.
    """
    errors: list[tuple[Location, str]] = []
    person_ids: set[str] = set()
    for index, person in enumerate(directory.people):
        if person.id in person_ids:
            errors.append((("people", index, "id"), f"duplicate person id {person.id!r}"))
        person_ids.add(person.id)
    person_ids.update(known_people)
    policy_ids: set[str] = set()
    for index, policy in enumerate(directory.escalation_policies):
        where: Location = ("escalation_policies", index)
        if policy.id in policy_ids:
            errors.append(((*where, "id"), f"duplicate policy id {policy.id!r}"))
        policy_ids.add(policy.id)
        if not policy.levels:
            errors.append(((*where, "levels"), f"policy {policy.id!r} has no level"))
        for number, level in enumerate(policy.levels, start=1):
            for t, target in enumerate(level.targets):
                if target.person is not None and target.person not in person_ids:
                    errors.append(
                        (
                            (*where, "levels", number - 1, "targets", t, "person"),
                            f"policy {policy.id!r} level {number} names unknown person "
                            f"{target.person!r}",
                        )
                    )
    errors += _superior_cycles(directory.superiors)
    errors += [
        (("sector_areas", sector), f"outline of unknown sector {sector!r}")
        for sector in directory.sector_areas
        if sector not in directory.sectors
    ]
    errors += [
        (("cap_areas", sector), f"CAP area names of unknown sector {sector!r}")
        for sector in directory.cap_areas
        if sector not in directory.sectors
    ]
    errors += partner_errors(directory.partners, directory.sectors)
    errors += _community_contact_errors(directory)
    policy_ids.update(known_policies)
    for index, route in enumerate(directory.routes):
        if route.policy not in policy_ids:
            errors.append(
                (("routes", index, "policy"), f"route names unknown policy {route.policy!r}")
            )
    return errors


def _community_contact_errors(directory: Directory) -> list[tuple[Location, str]]:
    errors: list[tuple[Location, str]] = []
    contact_ids: set[str] = set()
    for index, contact in enumerate(directory.community_contacts):
        if contact.id in contact_ids:
            errors.append(
                (("community_contacts", index, "id"), f"duplicate contact id {contact.id!r}")
            )
        contact_ids.add(contact.id)
        if contact.sector not in directory.sectors:
            errors.append(
                (
                    ("community_contacts", index, "sector"),
                    f"community contact {contact.id!r} is in unknown sector {contact.sector!r}",
                )
            )
    return errors


def _superior_cycles(superiors: dict[str, str]) -> list[tuple[Location, str]]:
    errors: list[tuple[Location, str]] = []
    for role in superiors:
        seen = [role]
        current = superiors.get(role)
        while current is not None and current not in seen:
            seen.append(current)
            current = superiors.get(current)
        if current == role:
            chain = " -> ".join([*seen, role])
            errors.append((("superiors", role), f"the chain of command loops: {chain}"))
    return errors


def validate_schema(data: Any) -> Directory:
    """Stage 1 only: the schema, without references across items (for the check).

    The result may route to missing policies and so on: services use
    ``Directory.model_validate`` or ``load_directory`` instead.
    """
    return Directory.model_validate(data, context={_CHECK_REFERENCES: False})


def resolve_level(directory: Directory, level: PolicyLevel, sector: str) -> list[Person]:
    """The people a level pages for an alert in ``sector``, each once, in target order.

    ``{role: R}`` is everyone with role R covering the sector (or mission-wide with
    ``scope: mission``); ``{person: ID}`` is that person.
    """
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


def load_directory(path: Path) -> Directory:
    """Read and validate a directory file."""
    with path.open(encoding="utf-8") as stream:
        return Directory.model_validate(yaml.safe_load(stream))
