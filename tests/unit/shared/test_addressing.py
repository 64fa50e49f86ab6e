"""Addressing: who a message or a recommendation reaches, by clearance, and who is above them."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.addressing import (
    chain_of_command,
    cleared_for,
    deliveries,
    not_cleared_reason,
    recommendation_addressees,
    resolve_addressees,
    superiors_of,
    unknown_addressees,
)
from shared.contracts.messages import Addressees
from shared.contracts.recommendations import RecommendationAddressee
from shared.directory import Directory, Person
from shared.envelope import Classification

U = Classification.UNCLASSIFIED
C = Classification.CONFIDENTIAL
SC = Classification.STRICTLY_CONFIDENTIAL
# Increasing order, as ST/SGB/2007/6 ranks them (independent of the module's table).
LEVELS = (U, C, SC)


def person(
    person_id: str, component: str, roles: list[str], sectors: list[str], clearance: str
) -> dict[str, Any]:
    return {
        "id": person_id,
        "name": person_id,
        "component": component,
        "roles": roles,
        "sectors": sectors,
        "clearance": clearance,
    }


PEOPLE = [
    person("jo.operator", "civilian", ["joc_operator"], ["*"], "confidential"),
    person("amani.cla", "civilian", ["community_liaison"], ["beni"], "unclassified"),
    person("awa.hfo", "civilian", ["head_of_field_office"], ["beni"], "strictly_confidential"),
    person("ben.hfo", "civilian", ["head_of_field_office"], ["north"], "confidential"),
    person("lucas.ho", "civilian", ["head_of_office"], ["beni"], "strictly_confidential"),
    person("nadia.ho", "civilian", ["head_of_office"], ["north"], "confidential"),
    person("omar.ho", "civilian", ["head_of_office"], ["beni"], "unclassified"),
    person("grace.dsrsg", "civilian", ["dsrsg"], ["*"], "strictly_confidential"),
    person("col.okafor", "military", ["sector_commander"], ["beni"], "confidential"),
    person("col.ivanov", "military", ["sector_commander"], ["north"], "confidential"),
    person("gen.fc", "military", ["force_commander"], ["*"], "strictly_confidential"),
    person("sgt.beni", "military", ["patrol_leader"], ["beni"], "unclassified"),
    person("insp.diallo", "police", ["police_focal_point"], ["beni"], "confidential"),
    person("insp.north", "police", ["police_focal_point"], ["north"], "unclassified"),
    person("audit.one", "civilian", ["auditor"], ["*"], "confidential"),
]
SUPERIORS = {
    "community_liaison": "head_of_field_office",
    "head_of_field_office": "head_of_office",
    "head_of_office": "dsrsg",
    "patrol_leader": "sector_commander",
    "sector_commander": "force_commander",
}


def make_directory(
    people: list[dict[str, Any]] | None = None, superiors: dict[str, str] | None = None
) -> Directory:
    return Directory.model_validate(
        {
            "mission": "test",
            "sectors": ["north", "south", "beni"],
            "people": PEOPLE if people is None else people,
            "superiors": SUPERIORS if superiors is None else superiors,
        }
    )


DIRECTORY = make_directory()
ORDER = [p.id for p in DIRECTORY.people]


def who(person_id: str) -> Person:
    found = DIRECTORY.person(person_id)
    assert found is not None
    return found


def ids(people: list[Person]) -> list[str]:
    return [p.id for p in people]


# --- resolution ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("to", "sender", "expected"),
    [
        pytest.param(
            {"components": ["military"]},
            "jo.operator",
            ["col.okafor", "col.ivanov", "gen.fc", "sgt.beni"],
            id="one-component",
        ),
        pytest.param(
            {"components": ["police", "military"]},
            "jo.operator",
            ["col.okafor", "col.ivanov", "gen.fc", "sgt.beni", "insp.diallo", "insp.north"],
            id="components-or-in-directory-order",
        ),
        pytest.param(
            {"roles": ["sector_commander"]},
            "jo.operator",
            ["col.okafor", "col.ivanov"],
            id="one-role-every-sector",
        ),
        pytest.param(
            {"roles": ["dsrsg", "head_of_office"]},
            "jo.operator",
            ["lucas.ho", "nadia.ho", "omar.ho", "grace.dsrsg"],
            id="roles-or-in-directory-order",
        ),
        pytest.param(
            {"sectors": ["north"]},
            "jo.operator",
            [
                "ben.hfo",
                "nadia.ho",
                "grace.dsrsg",
                "col.ivanov",
                "gen.fc",
                "insp.north",
                "audit.one",
            ],
            id="sector-includes-mission-wide-but-not-the-sender",
        ),
        pytest.param(
            {"sectors": ["south"]},
            "jo.operator",
            ["grace.dsrsg", "gen.fc", "audit.one"],
            id="sector-with-mission-wide-people-only",
        ),
        pytest.param(
            {"sectors": ["north", "beni"], "components": ["police"]},
            "jo.operator",
            ["insp.diallo", "insp.north"],
            id="sectors-or",
        ),
        pytest.param(
            {"components": ["military"], "sectors": ["beni"]},
            "jo.operator",
            ["col.okafor", "gen.fc", "sgt.beni"],
            id="component-and-sector",
        ),
        pytest.param(
            {"roles": ["head_of_office"], "sectors": ["north"]},
            "jo.operator",
            ["nadia.ho"],
            id="role-and-sector",
        ),
        pytest.param(
            {"components": ["civilian"], "roles": ["sector_commander"]},
            "jo.operator",
            [],
            id="component-and-role-that-nobody-has-both",
        ),
        pytest.param(
            {"components": ["military"], "roles": ["sector_commander", "patrol_leader"]}
            | {"sectors": ["beni"]},
            "jo.operator",
            ["col.okafor", "sgt.beni"],
            id="component-and-roles-and-sector",
        ),
        pytest.param({"persons": ["insp.diallo"]}, "jo.operator", ["insp.diallo"], id="one-person"),
        pytest.param(
            {"persons": ["insp.diallo", "amani.cla"]},
            "jo.operator",
            ["amani.cla", "insp.diallo"],
            id="persons-in-directory-order",
        ),
        pytest.param(
            {"persons": ["insp.diallo"], "components": ["military"], "sectors": ["north"]},
            "jo.operator",
            ["col.ivanov", "gen.fc", "insp.diallo"],
            id="persons-always-added-to-the-selection",
        ),
        pytest.param(
            {"persons": ["col.okafor", "col.okafor"], "roles": ["sector_commander"]},
            "jo.operator",
            ["col.okafor", "col.ivanov"],
            id="each-person-once",
        ),
        pytest.param(
            {"roles": ["sector_commander"]},
            "col.okafor",
            ["col.ivanov"],
            id="sender-selected-by-role-is-left-out",
        ),
        pytest.param(
            {"persons": ["jo.operator", "amani.cla"]},
            "jo.operator",
            ["amani.cla"],
            id="sender-named-as-person-is-left-out",
        ),
        pytest.param({"persons": ["nobody"]}, "jo.operator", [], id="unknown-person-nobody"),
        pytest.param({"roles": ["no_such_role"]}, "jo.operator", [], id="unknown-role-nobody"),
    ],
)
def test_resolve_addressees(to: dict[str, list[str]], sender: str, expected: list[str]) -> None:
    assert ids(resolve_addressees(DIRECTORY, Addressees(**to), sender)) == expected


# --- unknown addressees --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("to", "expected"),
    [
        pytest.param(
            {
                "components": ["military", "police"],
                "roles": ["dsrsg"],
                "persons": ["awa.hfo"],
                "sectors": ["beni", "south"],
            },
            [],
            id="all-known",
        ),
        pytest.param({"components": ["unmas"]}, ["unknown component 'unmas'"], id="component"),
        pytest.param({"roles": ["mayor"]}, ["unknown role 'mayor'"], id="role"),
        pytest.param({"persons": ["nobody"]}, ["unknown person 'nobody'"], id="person"),
        pytest.param({"sectors": ["east"]}, ["unknown sector 'east'"], id="sector"),
        pytest.param(
            {"roles": ["mayor", "dsrsg", "governor"]},
            ["unknown role 'mayor'", "unknown role 'governor'"],
            id="each-unknown-of-a-list",
        ),
        pytest.param(
            {
                "components": ["unmas", "civilian"],
                "roles": ["mayor"],
                "persons": ["nobody", "awa.hfo"],
                "sectors": ["east"],
            },
            [
                "unknown component 'unmas'",
                "unknown role 'mayor'",
                "unknown person 'nobody'",
                "unknown sector 'east'",
            ],
            id="one-of-each",
        ),
    ],
)
def test_unknown_addressees(to: dict[str, list[str]], expected: list[str]) -> None:
    assert unknown_addressees(DIRECTORY, Addressees(**to)) == expected


def test_the_three_components_are_known_even_when_nobody_is_in_them() -> None:
    only_civilians = make_directory(
        [person("a", "civilian", ["x"], ["beni"], "unclassified")], superiors={}
    )
    to = Addressees(components=["civilian", "military", "police"])
    assert unknown_addressees(only_civilians, to) == []


def test_a_component_of_someone_in_the_directory_is_known() -> None:
    directory = make_directory(
        [person("a", "contractor", ["x"], ["beni"], "unclassified")], superiors={}
    )
    assert unknown_addressees(directory, Addressees(components=["contractor"])) == []


# --- clearance -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("clearance", "classification", "cleared"),
    [
        pytest.param(clearance, classification, i >= j, id=f"{clearance}-for-{classification}")
        for i, clearance in enumerate(LEVELS)
        for j, classification in enumerate(LEVELS)
    ],
)
def test_cleared_for(
    clearance: Classification, classification: Classification, cleared: bool
) -> None:
    someone = Person(id="x", name="x", component="civilian", clearance=clearance)
    assert cleared_for(someone, classification) is cleared


def test_the_reason_names_the_person_and_both_levels() -> None:
    assert not_cleared_reason(who("amani.cla"), C) == (
        "amani.cla is cleared for unclassified only; the message is confidential"
    )


def test_a_confidential_message_is_not_delivered_to_the_unclassified() -> None:
    to = Addressees(roles=["community_liaison", "head_of_office"], sectors=["beni"])
    result = deliveries(DIRECTORY, to, "jo.operator", C)
    assert [(d.person_id, d.delivered) for d in result] == [
        ("amani.cla", False),
        ("lucas.ho", True),
        ("omar.ho", False),
    ]
    amani, lucas, omar = result
    assert amani.reason == "amani.cla is cleared for unclassified only; the message is confidential"
    assert lucas.reason is None
    assert omar.reason == "omar.ho is cleared for unclassified only; the message is confidential"


@pytest.mark.parametrize("classification", LEVELS, ids=[c.value for c in LEVELS])
def test_the_strictly_confidential_get_everything(classification: Classification) -> None:
    to = Addressees(sectors=["north", "south", "beni"])
    result = deliveries(DIRECTORY, to, "jo.operator", classification)
    strict = {p.id for p in DIRECTORY.people if p.clearance is SC}
    assert strict <= {d.person_id for d in result if d.delivered}


@pytest.mark.parametrize(
    ("classification", "delivered"),
    [
        pytest.param(U, ORDER[1:], id="unclassified-to-everyone"),
        pytest.param(
            C,
            [p.id for p in DIRECTORY.people[1:] if p.clearance is not U],
            id="confidential-to-the-cleared",
        ),
        pytest.param(
            SC,
            ["awa.hfo", "lucas.ho", "grace.dsrsg", "gen.fc"],
            id="strictly-confidential-to-the-few",
        ),
    ],
)
def test_deliveries_by_classification(classification: Classification, delivered: list[str]) -> None:
    to = Addressees(sectors=["north", "south", "beni"])
    result = deliveries(DIRECTORY, to, "jo.operator", classification)
    assert [d.person_id for d in result] == ORDER[1:]  # everyone resolved is listed
    assert [d.person_id for d in result if d.delivered] == delivered
    assert all((d.reason is None) == d.delivered for d in result)


# --- properties over random directories and addressees -------------------------------------

COMPONENTS = ["civilian", "military", "police"]
ROLES = ["r1", "r2", "r3"]
SECTORS = ["north", "south", "beni"]


@st.composite
def directories(draw: st.DrawFn) -> Directory:
    count = draw(st.integers(1, 8))
    people = [
        person(
            f"p{i}",
            draw(st.sampled_from(COMPONENTS)),
            draw(st.lists(st.sampled_from(ROLES), unique=True, max_size=2)),
            draw(st.lists(st.sampled_from([*SECTORS, "*"]), unique=True, max_size=2)),
            draw(st.sampled_from(LEVELS)).value,
        )
        for i in range(count)
    ]
    return make_directory(people, superiors={})


@st.composite
def addressees(draw: st.DrawFn) -> Addressees:
    to = {
        "components": draw(st.lists(st.sampled_from(COMPONENTS), unique=True, max_size=2)),
        "roles": draw(st.lists(st.sampled_from(ROLES), unique=True, max_size=2)),
        "persons": draw(st.lists(st.sampled_from([f"p{i}" for i in range(9)]), max_size=3)),
        "sectors": draw(st.lists(st.sampled_from(SECTORS), unique=True, max_size=2)),
    }
    if not any(to.values()):
        to["persons"] = ["p0"]
    return Addressees(**to)


def expected_ids(directory: Directory, to: Addressees, sender: str) -> list[str]:
    """The specification of ``Addressees``, written out with sets."""
    narrowed: set[str] = set()
    if to.components or to.roles or to.sectors:
        narrowed = {p.id for p in directory.people}
        if to.components:
            narrowed &= {p.id for p in directory.people if p.component in to.components}
        if to.roles:
            narrowed &= {p.id for p in directory.people if set(p.roles) & set(to.roles)}
        if to.sectors:
            narrowed &= {
                p.id
                for p in directory.people
                if "*" in p.sectors or set(p.sectors) & set(to.sectors)
            }
    chosen = (narrowed | set(to.persons)) - {sender}
    return [p.id for p in directory.people if p.id in chosen]


@settings(max_examples=300, deadline=None)
@given(directories(), addressees(), st.integers(0, 8))
def test_resolution_follows_the_specification(
    directory: Directory, to: Addressees, sender_index: int
) -> None:
    sender = f"p{sender_index}"
    resolved = ids(resolve_addressees(directory, to, sender))
    assert resolved == expected_ids(directory, to, sender)
    assert sender not in resolved
    assert len(resolved) == len(set(resolved))


@settings(max_examples=300, deadline=None)
@given(directories(), addressees(), st.integers(0, 8), st.sampled_from(LEVELS))
def test_delivered_exactly_when_cleared(
    directory: Directory, to: Addressees, sender_index: int, classification: Classification
) -> None:
    sender = f"p{sender_index}"
    result = deliveries(directory, to, sender, classification)
    resolved = ids(resolve_addressees(directory, to, sender))
    assert [d.person_id for d in result] == resolved  # delivered + undelivered = resolved
    for delivery in result:
        found = directory.person(delivery.person_id)
        assert found is not None
        cleared = LEVELS.index(found.clearance) >= LEVELS.index(classification)
        assert delivery.delivered is cleared
        if cleared:
            assert delivery.reason is None
        else:
            assert delivery.reason is not None
            assert found.clearance.value in delivery.reason
            assert f"the message is {classification.value}" in delivery.reason


# --- recommendations -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("addressee", "sector", "expected"),
    [
        pytest.param({"person": "col.ivanov"}, "beni", ["col.ivanov"], id="person-any-sector"),
        pytest.param({"person": "nobody"}, "beni", [], id="unknown-person"),
        pytest.param(
            {"role": "head_of_office"}, "beni", ["lucas.ho", "omar.ho"], id="role-in-sector"
        ),
        pytest.param({"role": "head_of_office"}, "north", ["nadia.ho"], id="role-other-sector"),
        pytest.param({"role": "dsrsg"}, "south", ["grace.dsrsg"], id="mission-wide-holder"),
        pytest.param({"role": "sector_commander"}, "south", [], id="nobody-in-that-sector"),
        pytest.param({"role": "mayor"}, "beni", [], id="unknown-role"),
    ],
)
def test_recommendation_addressees(
    addressee: dict[str, str], sector: str, expected: list[str]
) -> None:
    found = recommendation_addressees(DIRECTORY, RecommendationAddressee(**addressee), sector)
    assert ids(found) == expected


# --- chain of command ----------------------------------------------------------------------


def outsider(roles: list[str], sectors: list[str], clearance: Classification = SC) -> Person:
    """Someone not in the directory (superiors_of takes any person)."""
    return Person(
        id="visitor",
        name="visitor",
        component="civilian",
        roles=roles,
        sectors=sectors,
        clearance=clearance,
    )


@pytest.mark.parametrize(
    ("person_id", "chain"),
    [
        pytest.param("amani.cla", ["head_of_field_office", "head_of_office", "dsrsg"], id="cla"),
        pytest.param("awa.hfo", ["head_of_office", "dsrsg"], id="hfo"),
        pytest.param("lucas.ho", ["dsrsg"], id="ho"),
        pytest.param("grace.dsrsg", [], id="top-of-the-chain"),
        pytest.param("sgt.beni", ["sector_commander", "force_commander"], id="military"),
        pytest.param("jo.operator", [], id="role-without-superior"),
    ],
)
def test_chain_of_command(person_id: str, chain: list[str]) -> None:
    assert chain_of_command(DIRECTORY, who(person_id)) == chain


def test_the_chain_starts_from_the_first_role_that_has_a_superior() -> None:
    several = outsider(["auditor", "sector_commander", "head_of_field_office"], ["beni"])
    assert chain_of_command(DIRECTORY, several) == ["force_commander"]


def test_without_superiors_there_is_no_chain() -> None:
    flat = make_directory(superiors={})
    assert chain_of_command(flat, who("awa.hfo")) == []
    assert superiors_of(flat, who("awa.hfo"), U) == []


@pytest.mark.parametrize(
    ("person_id", "classification", "level", "expected"),
    [
        pytest.param("awa.hfo", U, 1, ["lucas.ho", "omar.ho"], id="level1-in-the-sector"),
        pytest.param("awa.hfo", C, 1, ["lucas.ho"], id="level1-not-cleared-skipped"),
        pytest.param("awa.hfo", SC, 2, ["grace.dsrsg"], id="level2-mission-wide"),
        pytest.param("awa.hfo", U, 3, [], id="beyond-the-chain-end"),
        pytest.param("ben.hfo", C, 1, ["nadia.ho"], id="level1-other-sector"),
        pytest.param("ben.hfo", SC, 1, [], id="level1-nobody-cleared"),
        pytest.param("amani.cla", C, 1, ["awa.hfo"], id="cla-level1"),
        pytest.param("amani.cla", C, 2, ["lucas.ho"], id="cla-level2"),
        pytest.param("amani.cla", C, 3, ["grace.dsrsg"], id="cla-level3"),
        pytest.param("amani.cla", U, 4, [], id="cla-chain-end"),
        pytest.param("sgt.beni", C, 1, ["col.okafor"], id="military-level1-own-sector-only"),
        pytest.param("sgt.beni", C, 2, ["gen.fc"], id="military-level2"),
        pytest.param("col.ivanov", C, 1, ["gen.fc"], id="commander-level1"),
        pytest.param("col.ivanov", C, 2, [], id="commander-chain-end"),
        pytest.param("grace.dsrsg", U, 1, [], id="top-has-no-superior"),
        pytest.param("insp.diallo", U, 1, [], id="role-without-superior"),
    ],
)
def test_superiors_of(
    person_id: str, classification: Classification, level: int, expected: list[str]
) -> None:
    assert ids(superiors_of(DIRECTORY, who(person_id), classification, level)) == expected


def test_level_defaults_to_one() -> None:
    assert ids(superiors_of(DIRECTORY, who("awa.hfo"), U)) == ["lucas.ho", "omar.ho"]


@pytest.mark.parametrize(
    ("sectors", "level", "expected"),
    [
        pytest.param(["north", "beni"], 1, ["lucas.ho", "nadia.ho", "omar.ho"], id="any-sector"),
        pytest.param(["south"], 1, [], id="no-holder-covers-the-sector"),
        pytest.param(["*"], 1, [], id="mission-wide-person-sector-superiors-do-not-count"),
        pytest.param(["*"], 2, ["grace.dsrsg"], id="mission-wide-person-mission-wide-superior"),
        pytest.param([], 2, ["grace.dsrsg"], id="no-sector-mission-wide-superior"),
    ],
)
def test_a_superior_covers_one_of_the_persons_sectors_or_is_mission_wide(
    sectors: list[str], level: int, expected: list[str]
) -> None:
    hfo = outsider(["head_of_field_office"], sectors)
    assert ids(superiors_of(DIRECTORY, hfo, U, level)) == expected


def test_a_person_is_never_their_own_superior() -> None:
    dual = person(
        "dual", "military", ["patrol_leader", "sector_commander"], ["beni"], "confidential"
    )
    directory = make_directory([*PEOPLE, dual])
    found = directory.person("dual")
    assert found is not None
    assert ids(superiors_of(directory, found, C)) == ["col.okafor"]
