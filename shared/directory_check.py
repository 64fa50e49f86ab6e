"""Checking a directory file: every problem, each with where it is (``coord directory check``).

Pure: data in, problems out. The stages (see ``shared.directory``):

1. YAML syntax, then the schema of every item (pydantic errors with their
   location). Items with a schema error are left out of the later stages, but
   their ids still count as existing, so a route to a policy with a typo in its
   ``delay`` is not also reported as a route to an unknown policy.
2. References (blocking: ``coord directory load`` refuses them): a route naming
   an unknown policy, a policy with no level, a target naming an unknown person,
   duplicate ids, a sector or a route matcher value that does not exist.
3. Coverage (who would really be paged; ``shared.directory_coverage``): a target
   role nobody has, a level that pages nobody in some sector, a target person
   without a contact on a supported channel, a sector whose JOC cannot be told,
   a route no alert can reach. Skipped when a person or the sector list failed
   the schema: the answer would be wrong.

The supported channels are a parameter: ``shared.contracts.notifications.SUPPORTED_CHANNELS``.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import yaml
from pydantic import ValidationError

from shared.contracts.alerts import Category, Component, Severity
from shared.directory import (
    Directory,
    Location,
    format_location,
    reference_errors,
    validate_schema,
)
from shared.directory_coverage import coverage_problems
from shared.envelope import Classification

_LISTS = ("people", "escalation_policies", "routes")
_DEFAULTS: dict[str, Any] = {
    "mission": "",
    "sectors": [],
    "people": [],
    "escalation_policies": [],
    "routes": [],
}
_MATCH_VALUES: dict[str, frozenset[str]] = {
    "category": frozenset(Category),
    "severity": frozenset(Severity),
    "origin": frozenset(Component),
    "classification": frozenset(Classification),
}


class ProblemKind(StrEnum):
    """How bad a problem is: schema and reference problems block a load."""

    SCHEMA = "schema"
    REFERENCE = "reference"
    COVERAGE = "coverage"


@dataclass(frozen=True)
class Problem:
    """One problem of a directory file and where it is."""

    location: str  # a path into the file, e.g. "routes[3].policy"
    message: str
    kind: ProblemKind = ProblemKind.REFERENCE
    line: int | None = None  # 1-based line in the file, when checked from text

    @property
    def blocking(self) -> bool:
        """True when the services could not load the file (schema or reference error)."""
        return self.kind is not ProblemKind.COVERAGE

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        return f"{where}{self.location}: {self.message}"


@dataclass(frozen=True)
class _Found:
    location: Location
    message: str
    kind: ProblemKind


def check_text(text: str, channels: Sequence[str]) -> list[Problem]:
    """Every problem of a YAML directory file, in file order, with line numbers."""
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        detail = str(getattr(error, "problem", None) or error)
        return [Problem("(file)", f"not valid YAML: {detail}", ProblemKind.SCHEMA, line)]
    found = _check(data, channels)
    problems = [
        Problem(format_location(f.location), f.message, f.kind, _line_of(node, f.location))
        for f in found
    ]
    return sorted(problems, key=lambda p: math.inf if p.line is None else p.line)


def check_directory(data: Any, channels: Sequence[str]) -> list[Problem]:
    """Every problem of directory data (parsed YAML/JSON), stage by stage."""
    return [Problem(format_location(f.location), f.message, f.kind) for f in _check(data, channels)]


def _check(data: Any, channels: Sequence[str]) -> list[_Found]:
    if not isinstance(data, dict):
        return [
            _Found(
                (),
                "the file must be a mapping of mission, sectors, people, "
                "escalation_policies and routes",
                ProblemKind.SCHEMA,
            )
        ]
    schema, salvaged, complete, kept = _schema_stage(data)
    if salvaged is None:
        return schema
    known_people = _raw_ids(data.get("people"))
    known_policies = _raw_ids(data.get("escalation_policies"))
    references = [
        _Found(location, message, ProblemKind.REFERENCE)
        for location, message in reference_errors(
            salvaged, known_people=known_people, known_policies=known_policies
        )
    ]
    references += _unknown_names(salvaged)
    coverage = (
        [
            _Found(location, message, ProblemKind.COVERAGE)
            for location, message in coverage_problems(salvaged, channels)
        ]
        if complete
        else []
    )
    found = schema + [_in_file(f, kept) for f in references + coverage]
    return found + _dangling_in_dropped(data, kept, known_people, known_policies)


def _in_file(found: _Found, kept: dict[str, list[int]]) -> _Found:
    """``found`` located in the file rather than in the directory without failing items."""
    loc = found.location
    if len(loc) > 1 and isinstance(loc[0], str) and loc[0] in kept and isinstance(loc[1], int):
        return _Found((loc[0], kept[loc[0]][loc[1]], *loc[2:]), found.message, found.kind)
    return found


# --------------------------------------------------------------------------- stage 1: schema


def _schema_stage(
    data: dict[str, Any],
) -> tuple[list[_Found], Directory | None, bool, dict[str, list[int]]]:
    """Schema problems, and what the later stages can work on.

    Returns the problems, the directory without the failing items, whether no
    person was lost, and for each list the file index of every item kept.
    """
    kept = {name: list(range(len(_as_list(data.get(name))))) for name in _LISTS}
    try:
        return [], validate_schema(data), True, kept
    except ValidationError as error:
        errors = error.errors()
    found = [
        _Found(tuple(e["loc"]), _message(e), ProblemKind.SCHEMA)
        for e in errors  # pydantic reports them in input order
    ]
    salvaged = dict(data)
    complete = True
    dropped: dict[str, set[int]] = {name: set() for name in _LISTS}
    for e in errors:
        loc = e["loc"]
        field = str(loc[0]) if loc else ""
        if field in _LISTS and len(loc) > 1 and isinstance(loc[1], int):
            dropped[field].add(loc[1])
        elif field in _DEFAULTS:
            salvaged[field] = _DEFAULTS[field]
        else:
            salvaged.pop(field, None)  # an unknown top-level field
        if field in ("people", "sectors"):
            complete = False  # the coverage of sectors would be computed without someone
    for name, indexes in dropped.items():
        items = _as_list(salvaged.get(name))
        kept[name] = [i for i in range(len(items)) if i not in indexes]
        if indexes:
            salvaged[name] = [items[i] for i in kept[name]]
    try:
        return found, validate_schema(salvaged), complete, kept
    except ValidationError:
        return found, None, False, kept


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dangling_in_dropped(
    data: dict[str, Any],
    kept: dict[str, list[int]],
    known_people: Collection[str],
    known_policies: Collection[str],
) -> list[_Found]:
    """Unknown persons and policies named inside items that failed the schema."""
    found: list[_Found] = []
    policies = _as_list(data.get("escalation_policies"))
    for i in sorted(set(range(len(policies))) - set(kept["escalation_policies"])):
        policy = policies[i] if isinstance(policies[i], dict) else {}
        for j, level in enumerate(_as_list(policy.get("levels"))):
            targets = _as_list(level.get("targets")) if isinstance(level, dict) else []
            for t, target in enumerate(targets):
                person = target.get("person") if isinstance(target, dict) else None
                if isinstance(person, str) and person not in known_people:
                    found.append(
                        _Found(
                            ("escalation_policies", i, "levels", j, "targets", t, "person"),
                            f"policy {policy.get('id')!r} level {j + 1} names unknown person "
                            f"{person!r}",
                            ProblemKind.REFERENCE,
                        )
                    )
    routes = _as_list(data.get("routes"))
    for i in sorted(set(range(len(routes))) - set(kept["routes"])):
        name = routes[i].get("policy") if isinstance(routes[i], dict) else None
        if isinstance(name, str) and name not in known_policies:
            found.append(
                _Found(
                    ("routes", i, "policy"),
                    f"route names unknown policy {name!r}",
                    ProblemKind.REFERENCE,
                )
            )
    return found


def _message(error: Any) -> str:
    message = str(error["msg"]).removeprefix("Value error, ")
    value = error.get("input")
    if error["type"] not in ("missing", "model_type") and isinstance(
        value, str | int | float | bool
    ):
        message += f" (got {value!r})"
    return message


def _raw_ids(items: Any) -> set[str]:
    if not isinstance(items, list):
        return set()
    return {
        item["id"] for item in items if isinstance(item, dict) and isinstance(item.get("id"), str)
    }


# --------------------------------------------------------------------------- stage 2: names


def _unknown_names(directory: Directory) -> list[_Found]:
    found: list[_Found] = []
    sectors = set(directory.sectors)
    seen: set[str] = set()
    for index, sector in enumerate(directory.sectors):
        if sector in seen:
            found.append(
                _Found(("sectors", index), f"duplicate sector {sector!r}", ProblemKind.REFERENCE)
            )
        seen.add(sector)
    for index, person in enumerate(directory.people):
        for s, sector in enumerate(person.sectors):
            if sector != "*" and sector not in sectors:
                found.append(
                    _Found(
                        ("people", index, "sectors", s),
                        f"{person.id} covers unknown sector {sector!r} "
                        f"(sectors: {', '.join(directory.sectors)}; '*' = mission-wide)",
                        ProblemKind.REFERENCE,
                    )
                )
    for index, route in enumerate(directory.routes):
        allowed = {**_MATCH_VALUES, "sector": frozenset(sectors)}
        for field, values in route.match.model_dump(exclude_none=True).items():
            for v, value in enumerate(values):
                if value not in allowed[field]:
                    found.append(
                        _Found(
                            ("routes", index, "match", field, v),
                            f"route matches unknown {field} {value!r}: no alert has it "
                            f"(known: {', '.join(sorted(allowed[field]))})",
                            ProblemKind.REFERENCE,
                        )
                    )
    return found


def _line_of(node: yaml.Node | None, location: Iterable[str | int]) -> int | None:
    """The 1-based line of a path in a composed YAML document (its deepest existing part)."""
    if node is None:
        return None
    line: int = node.start_mark.line + 1
    for part in location:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    line = key.start_mark.line + 1
                    child = value
                    break
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(part, int)
            and 0 <= part < len(node.value)
        ):
            child = node.value[part]
            line = child.start_mark.line + 1
        if child is None:
            break
        node = child
    return line
