"""Routing rules of the router against the reference directory (table-driven)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from services.router.alerts.escalation import LevelSnapshot, PolicySnapshot
from services.router.alerts.routing import (
    AlertFacts,
    resolve_targets,
    select_policies,
    snapshot_policy,
)
from shared.addressing import contact_points, joc_operators
from shared.directory import Contact, Directory, Person, PolicyLevel, Route
from tests.support.directories import (
    EXAMPLE_DIRECTORY,
    directory_with_unreachable_target,
    example_directory,
)


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


# --------------------------------------------------------------------------- contact_points


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
            [("webhook", "http://h/awa"), ("email", "a@example.org")],
            id="webhook-then-email",
        ),
        pytest.param(
            person(("email", "a@example.org"), ("webhook", "http://h/a")),
            [("email", "a@example.org"), ("webhook", "http://h/a")],
            id="directory-order-kept-email-first",
        ),
        pytest.param(
            person(("webhook", "http://h/1"), ("webhook", "http://h/2")),
            [("webhook", "http://h/1"), ("webhook", "http://h/2")],
            id="several-webhooks-in-order",
        ),
        pytest.param(
            person(("radio", "HF 7"), ("email", "a@example.org"), ("pager", "42")),
            [("email", "a@example.org")],
            id="unsupported-channels-dropped",
        ),
        pytest.param(
            person(("email", "a@example.org"), ("email", "b@example.org")),
            [("email", "a@example.org"), ("email", "b@example.org")],
            id="email-only",
        ),
        pytest.param(
            person(("sms", "+243990000001")), [("sms", "+243990000001")], id="sms-supported"
        ),
        pytest.param(person(("radio", "HF 7")), [], id="radio-only-none"),
        pytest.param(person(), [], id="no-contacts-none"),
    ],
)
def test_contact_points(who: Person, expected: list[tuple[str, str]]) -> None:
    assert [(c.channel, c.address) for c in contact_points(who)] == expected


@pytest.mark.parametrize(
    ("person_id", "expected"),
    [
        pytest.param(
            "awa.hfo",
            [("webhook", "http://127.0.0.1:9101/awa"), ("email", "awa.ndiaye@example.org")],
            id="awa-webhook-then-email",
        ),
        pytest.param(
            "lucas.ho", [("webhook", "http://127.0.0.1:9101/lucas")], id="lucas-webhook-only"
        ),
        pytest.param("amani.cla", [], id="amani-radio-only"),
        pytest.param("jo.operator", [], id="operator-no-contacts"),
    ],
)
def test_contact_points_in_reference_directory(
    directory: Directory, person_id: str, expected: list[tuple[str, str]]
) -> None:
    who = directory.person(person_id)
    assert who is not None
    assert [(c.channel, c.address) for c in contact_points(who)] == expected


# --------------------------------------------------------------------------- snapshot_policy


def lvl(
    targets: tuple[str, ...], components: dict[str, str], delay: float, *, quorum: bool = False
) -> LevelSnapshot:
    return LevelSnapshot(targets=targets, components=components, delay_seconds=delay, quorum=quorum)


CIV = "civilian"
AWA = lvl(("awa.hfo",), {"awa.hfo": CIV}, 600.0)
LUCAS_900 = lvl(("lucas.ho",), {"lucas.ho": CIV}, 900.0)
GRACE_900 = lvl(("grace.dsrsg",), {"grace.dsrsg": CIV}, 900.0)
JOINT_COMPONENTS = {"awa.hfo": CIV, "col.okafor": "military", "insp.diallo": "police"}
JOINT_TARGETS = ("awa.hfo", "col.okafor", "insp.diallo")


@pytest.mark.parametrize(
    ("policy_ids", "sector", "expected"),
    [
        pytest.param(
            ["poc-urgent"],
            "beni",
            PolicySnapshot(
                policy_id="poc-urgent",
                policy_ids=("poc-urgent",),
                levels=(AWA, LUCAS_900, GRACE_900),
                repeat=1,
                ack_timeout_seconds=3600.0,
            ),
            id="urgent-beni-three-levels",
        ),
        pytest.param(
            ["poc-urgent"],
            "north",
            PolicySnapshot(
                policy_id="poc-urgent",
                policy_ids=("poc-urgent",),
                levels=(lvl((), {}, 600.0), LUCAS_900, GRACE_900),
                repeat=1,
                ack_timeout_seconds=3600.0,
            ),
            id="urgent-north-level-one-empty",
        ),
        pytest.param(
            ["poc-urgent"],
            "south",
            PolicySnapshot(
                policy_id="poc-urgent",
                policy_ids=("poc-urgent",),
                levels=(lvl((), {}, 600.0), lvl((), {}, 900.0), GRACE_900),
                repeat=1,
                ack_timeout_seconds=3600.0,
            ),
            id="urgent-south-only-the-dsrsg",
        ),
        pytest.param(
            ["poc-joint"],
            "beni",
            PolicySnapshot(
                policy_id="poc-joint",
                policy_ids=("poc-joint",),
                levels=(
                    lvl(JOINT_TARGETS, JOINT_COMPONENTS, 1200.0, quorum=True),
                    lvl(("lucas.ho",), {"lucas.ho": CIV}, 1800.0),
                ),
                repeat=0,
                ack_timeout_seconds=None,
            ),
            id="joint-beni-quorum-per-component",
        ),
        pytest.param(
            ["poc-default"],
            "beni",
            PolicySnapshot(
                policy_id="poc-default",
                policy_ids=("poc-default",),
                levels=(
                    lvl(("awa.hfo",), {"awa.hfo": CIV}, 1800.0),
                    lvl(("lucas.ho",), {"lucas.ho": CIV}, 3600.0),
                ),
            ),
            id="default-beni",
        ),
        pytest.param(
            ["poc-urgent", "poc-joint"],
            "beni",
            PolicySnapshot(
                policy_id="poc-urgent",
                policy_ids=("poc-urgent", "poc-joint"),
                levels=(
                    # joint's level-1 people join level 1 (awa once); the first policy's
                    # quorum (none), delays and later levels apply
                    lvl(JOINT_TARGETS, JOINT_COMPONENTS, 600.0),
                    LUCAS_900,
                    GRACE_900,
                ),
                repeat=1,
                ack_timeout_seconds=3600.0,
            ),
            id="continue-adds-level-one-targets",
        ),
        pytest.param(
            ["poc-joint", "poc-urgent"],
            "beni",
            PolicySnapshot(
                policy_id="poc-joint",
                policy_ids=("poc-joint", "poc-urgent"),
                levels=(
                    lvl(JOINT_TARGETS, JOINT_COMPONENTS, 1200.0, quorum=True),
                    lvl(("lucas.ho",), {"lucas.ho": CIV}, 1800.0),
                ),
            ),
            id="continue-level-one-already-there-once",
        ),
        pytest.param([], "beni", None, id="no-policy-no-snapshot"),
    ],
)
def test_snapshot_policy(
    directory: Directory, policy_ids: list[str], sector: str, expected: PolicySnapshot | None
) -> None:
    assert snapshot_policy(directory, policy_ids, sector) == expected


@pytest.mark.parametrize(
    ("policy_ids", "sector", "chain"),
    [
        pytest.param(["poc-urgent"], "beni", ["awa.hfo", "lucas.ho", "grace.dsrsg"], id="urgent"),
        pytest.param(["poc-urgent"], "north", ["lucas.ho", "grace.dsrsg"], id="urgent-north"),
        pytest.param(["poc-joint"], "beni", [*JOINT_TARGETS, "lucas.ho"], id="joint"),
        pytest.param(
            # only level 1 of a continue policy joins: poc-urgent's dsrsg is not on the chain
            ["poc-joint", "poc-urgent"],
            "beni",
            [*JOINT_TARGETS, "lucas.ho"],
            id="continue-only-level-one-joins",
        ),
    ],
)
def test_snapshot_chain_is_every_level_target_once(
    directory: Directory, policy_ids: list[str], sector: str, chain: list[str]
) -> None:
    snapshot = snapshot_policy(directory, policy_ids, sector)
    assert snapshot is not None
    assert snapshot.chain == chain


def test_snapshot_continue_policy_with_a_person_target() -> None:
    directory = directory_with_unreachable_target()
    snapshot = snapshot_policy(directory, ["poc-default", "can-relay"], "beni")
    assert snapshot is not None
    assert snapshot.levels[0].targets == ("awa.hfo", "amani.cla", "lucas.ho")
    assert snapshot.levels[0].components == {
        "awa.hfo": "civilian",
        "amani.cla": "civilian",
        "lucas.ho": "civilian",
    }
    assert snapshot.levels[1].targets == ("lucas.ho",)


def test_snapshot_is_a_value_later_directory_edits_leave_it_alone(directory: Directory) -> None:
    snapshot = snapshot_policy(directory, ["poc-urgent"], "beni")
    data = yaml.safe_load(EXAMPLE_DIRECTORY.read_text(encoding="utf-8"))
    data["escalation_policies"][0]["levels"][0]["delay"] = "1m"
    edited = Directory.model_validate(data)
    assert snapshot_policy(edited, ["poc-urgent"], "beni") != snapshot
    assert snapshot is not None
    assert snapshot.levels[0].delay_seconds == 600.0


# --------------------------------------------------------------------------- joc_operators


def with_people(*people: dict[str, Any]) -> Directory:
    data = yaml.safe_load(EXAMPLE_DIRECTORY.read_text(encoding="utf-8"))
    data["people"].extend(people)
    return Directory.model_validate(data)


def joc(
    person_id: str, sectors: list[str], roles: tuple[str, ...] = ("joc_operator",)
) -> dict[str, Any]:
    return {
        "id": person_id,
        "name": person_id,
        "component": "civilian",
        "roles": list(roles),
        "sectors": sectors,
        "contacts": [],
    }


@pytest.mark.parametrize(
    ("extra", "sector", "expected"),
    [
        pytest.param([], "beni", ["jo.operator"], id="mission-wide-beni"),
        pytest.param([], "north", ["jo.operator"], id="mission-wide-north"),
        pytest.param([], "south", ["jo.operator"], id="mission-wide-south"),
        pytest.param(
            [joc("joc.north", ["north"])],
            "north",
            ["jo.operator", "joc.north"],
            id="sector-joc-added-in-directory-order",
        ),
        pytest.param(
            [joc("joc.north", ["north"])], "beni", ["jo.operator"], id="other-sector-joc-not"
        ),
        pytest.param(
            [joc("joc.both", ["north", "beni"], ("analyst", "joc_operator"))],
            "beni",
            ["jo.operator", "joc.both"],
            id="joc-among-other-roles",
        ),
        pytest.param(
            [joc("watcher", ["*"], ("analyst",))], "beni", ["jo.operator"], id="other-role-not"
        ),
    ],
)
def test_joc_operators(extra: list[dict[str, Any]], sector: str, expected: list[str]) -> None:
    directory = with_people(*extra)
    assert [p.id for p in joc_operators(directory, sector)] == expected


def test_no_joc_operator_is_an_empty_list(directory: Directory) -> None:
    without = directory.model_copy(
        update={"people": [p for p in directory.people if "joc_operator" not in p.roles]}
    )
    assert joc_operators(without, "beni") == []
