"""Routing rules of the router against the reference directory (table-driven)."""

from __future__ import annotations

import pytest

from services.router.routing import (
    AlertFacts,
    resolve_targets,
    select_policies,
    usable_contact,
)
from shared.directory import Contact, Directory, Person, PolicyLevel, Route
from tests.unit.helpers import example_directory


@pytest.fixture(scope="module")
def directory() -> Directory:
    return example_directory()


def facts(
    category: str,
    severity: str,
    sector: str = "beni",
    origin: str = "community",
    classification: str = "unclassified",
) -> AlertFacts:
    return AlertFacts(
        category=category,
        severity=severity,
        sector=sector,
        origin=origin,
        classification=classification,
    )


def route(match: dict[str, list[str]], policy: str, *, cont: bool = False) -> Route:
    return Route.model_validate({"match": match, "policy": policy, "continue": cont})


def level(*targets: dict[str, str]) -> PolicyLevel:
    return PolicyLevel.model_validate({"targets": list(targets), "delay": "10m"})


# --------------------------------------------------------------------------- select_policies


@pytest.mark.parametrize(
    ("alert", "expected"),
    [
        pytest.param(facts("abduction", "severe"), ["poc-urgent"], id="abduction-severe-urgent"),
        pytest.param(
            facts("attack_on_civilians", "extreme"), ["poc-urgent"], id="attack-extreme-urgent"
        ),
        pytest.param(
            facts("abduction", "moderate"), ["poc-default"], id="abduction-moderate-default"
        ),
        pytest.param(
            facts("armed_group_movement", "minor"), ["poc-joint"], id="armed-group-minor-joint"
        ),
        pytest.param(
            facts("armed_group_movement", "extreme"),
            ["poc-joint"],
            id="armed-group-extreme-joint-not-urgent",
        ),
        pytest.param(facts("looting", "extreme"), ["poc-default"], id="looting-extreme-default"),
        pytest.param(
            facts("sexual_violence", "severe", sector="north"),
            ["poc-default"],
            id="sexual-violence-severe-north-default",
        ),
    ],
)
def test_select_policies_on_reference_routes(
    directory: Directory, alert: AlertFacts, expected: list[str]
) -> None:
    assert select_policies(directory.routes, alert) == expected


@pytest.mark.parametrize(
    ("extra_route", "alert", "expected"),
    [
        pytest.param(
            route({"sector": ["beni"]}, "poc-joint", cont=True),
            facts("abduction", "severe", sector="beni"),
            ["poc-joint", "poc-urgent"],
            id="continue-route-adds-second-policy",
        ),
        pytest.param(
            route({"sector": ["beni"]}, "poc-joint", cont=True),
            facts("abduction", "severe", sector="north"),
            ["poc-urgent"],
            id="continue-route-not-matching-adds-nothing",
        ),
        pytest.param(
            route({"sector": ["beni"]}, "poc-joint", cont=False),
            facts("abduction", "severe", sector="beni"),
            ["poc-joint"],
            id="first-match-without-continue-stops",
        ),
        pytest.param(
            route({"category": ["abduction"]}, "poc-urgent", cont=True),
            facts("abduction", "severe"),
            ["poc-urgent"],
            id="same-policy-twice-listed-once",
        ),
    ],
)
def test_continue_routes(
    directory: Directory, extra_route: Route, alert: AlertFacts, expected: list[str]
) -> None:
    assert select_policies([extra_route, *directory.routes], alert) == expected


def test_continue_lets_later_routes_add_until_one_stops(directory: Directory) -> None:
    routes = [
        route({"origin": ["community"]}, "poc-joint", cont=True),
        route({"classification": ["confidential"]}, "poc-default", cont=True),
        route({"category": ["abduction"]}, "poc-urgent"),
        route({}, "never-reached"),
    ]
    alert = facts("abduction", "minor", origin="community", classification="confidential")
    assert select_policies(routes, alert) == ["poc-joint", "poc-default", "poc-urgent"]


@pytest.mark.parametrize(
    "alert",
    [
        pytest.param(facts("looting", "minor"), id="looting-minor"),
        pytest.param(facts("abduction", "moderate"), id="abduction-moderate"),
        pytest.param(facts("displacement", "unknown", sector="south"), id="displacement-south"),
    ],
)
def test_no_matching_route_selects_nothing(directory: Directory, alert: AlertFacts) -> None:
    without_catch_all = [r for r in directory.routes if r.match.model_dump(exclude_none=True)]
    assert len(without_catch_all) == len(directory.routes) - 1
    assert select_policies(without_catch_all, alert) == []


@pytest.mark.parametrize(
    ("match", "alert", "expected"),
    [
        pytest.param({"sector": ["north"]}, facts("abduction", "severe", "north"), True, id="sec"),
        pytest.param({"sector": ["north"]}, facts("abduction", "severe", "beni"), False, id="sec-"),
        pytest.param({"origin": ["military"]}, facts("other", "minor"), False, id="origin-"),
        pytest.param(
            {"classification": ["confidential", "strictly_confidential"]},
            facts("other", "minor", classification="strictly_confidential"),
            True,
            id="classification",
        ),
        pytest.param({"category": []}, facts("other", "minor"), False, id="empty-list-nothing"),
        pytest.param(
            {"category": ["other"], "severity": ["extreme"]},
            facts("other", "minor"),
            False,
            id="all-fields-must-match",
        ),
    ],
)
def test_every_listed_field_must_contain_the_value(
    match: dict[str, list[str]], alert: AlertFacts, expected: bool
) -> None:
    assert select_policies([route(match, "p")], alert) == (["p"] if expected else [])


# --------------------------------------------------------------------------- resolve_targets


@pytest.mark.parametrize(
    ("targets", "sector", "expected"),
    [
        pytest.param(
            [{"role": "head_of_field_office"}], "beni", ["awa.hfo"], id="hfo-in-beni-is-awa"
        ),
        pytest.param([{"role": "head_of_field_office"}], "north", [], id="no-hfo-in-north"),
        pytest.param([{"role": "head_of_office"}], "north", ["lucas.ho"], id="ho-in-north-lucas"),
        pytest.param([{"role": "head_of_office"}], "beni", ["lucas.ho"], id="ho-in-beni-lucas"),
        pytest.param([{"role": "head_of_office"}], "south", [], id="no-ho-in-south"),
        pytest.param([{"role": "dsrsg"}], "north", ["grace.dsrsg"], id="mission-wide-north"),
        pytest.param([{"role": "dsrsg"}], "south", ["grace.dsrsg"], id="mission-wide-south"),
        pytest.param([{"role": "dsrsg"}], "beni", ["grace.dsrsg"], id="mission-wide-beni"),
        pytest.param(
            [{"role": "head_of_field_office", "scope": "mission"}],
            "north",
            ["awa.hfo"],
            id="scope-mission-ignores-sector",
        ),
        pytest.param(
            [{"person": "amani.cla"}], "north", ["amani.cla"], id="person-target-any-sector"
        ),
        pytest.param(
            [
                {"role": "head_of_field_office"},
                {"role": "sector_commander"},
                {"role": "police_focal_point"},
            ],
            "beni",
            ["awa.hfo", "col.okafor", "insp.diallo"],
            id="joint-level-in-target-order",
        ),
        pytest.param(
            [
                {"role": "head_of_office"},
                {"person": "lucas.ho"},
                {"role": "head_of_field_office"},
                {"person": "awa.hfo"},
                {"role": "head_of_office", "scope": "mission"},
            ],
            "beni",
            ["lucas.ho", "awa.hfo"],
            id="duplicates-removed-first-occurrence-order",
        ),
        pytest.param([{"role": "no_such_role"}], "beni", [], id="unknown-role-nobody"),
    ],
)
def test_resolve_targets(
    directory: Directory, targets: list[dict[str, str]], sector: str, expected: list[str]
) -> None:
    people = resolve_targets(directory, level(*targets), sector)
    assert [p.id for p in people] == expected


@pytest.mark.parametrize("sector", ["north", "south", "beni"])
def test_mission_wide_person_covers_every_sector(directory: Directory, sector: str) -> None:
    operator = directory.person("jo.operator")
    assert operator is not None
    assert operator.sectors == ["*"]
    assert operator.covers(sector)
    assert [p.id for p in resolve_targets(directory, level({"role": "joc_operator"}), sector)] == [
        "jo.operator"
    ]


@pytest.mark.parametrize(
    ("policy_id", "sector", "expected"),
    [
        pytest.param("poc-urgent", "beni", ["awa.hfo"], id="urgent-beni"),
        pytest.param("poc-urgent", "north", [], id="urgent-north"),
        pytest.param("poc-joint", "beni", ["awa.hfo", "col.okafor", "insp.diallo"], id="joint"),
        pytest.param("poc-default", "beni", ["awa.hfo"], id="default-beni"),
    ],
)
def test_first_level_of_reference_policies(
    directory: Directory, policy_id: str, sector: str, expected: list[str]
) -> None:
    first = directory.policy(policy_id).levels[0]
    assert [p.id for p in resolve_targets(directory, first, sector)] == expected


# --------------------------------------------------------------------------- usable_contact


def person(*contacts: tuple[str, str]) -> Person:
    return Person(
        id="p",
        name="P",
        component="civilian",
        contacts=[Contact(channel=c, address=a) for c, a in contacts],
    )


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        pytest.param(
            person(("webhook", "http://h/awa"), ("email", "a@example.org")),
            ("webhook", "http://h/awa"),
            id="webhook-first",
        ),
        pytest.param(
            person(("email", "a@example.org"), ("webhook", "http://h/a")),
            ("webhook", "http://h/a"),
            id="webhook-preferred-even-if-listed-later",
        ),
        pytest.param(
            person(("webhook", "http://h/1"), ("webhook", "http://h/2")),
            ("webhook", "http://h/1"),
            id="first-webhook-of-several",
        ),
        pytest.param(person(("sms", "+243000000001")), None, id="sms-only-none"),
        pytest.param(person(), None, id="no-contacts-none"),
    ],
)
def test_usable_contact(who: Person, expected: tuple[str, str] | None) -> None:
    contact = usable_contact(who)
    assert (None if contact is None else (contact.channel, contact.address)) == expected


@pytest.mark.parametrize(
    ("person_id", "expected"),
    [
        pytest.param("awa.hfo", "http://127.0.0.1:9101/awa", id="awa-webhook-not-email"),
        pytest.param("amani.cla", None, id="amani-sms-only"),
        pytest.param("jo.operator", None, id="operator-no-contacts"),
    ],
)
def test_usable_contact_in_reference_directory(
    directory: Directory, person_id: str, expected: str | None
) -> None:
    who = directory.person(person_id)
    assert who is not None
    contact = usable_contact(who)
    assert (None if contact is None else contact.address) == expected
