"""``coord directory check``: every problem of a directory file, each with where it is."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from services.router.alerts.routing import resolve_targets
from shared.contracts.notifications import SUPPORTED_CHANNELS
from shared.directory import Directory, load_directory, resolve_level
from shared.directory_check import Problem, ProblemKind, check_directory, check_text
from tests.support.directories import DEMO_DIRECTORY, EXAMPLE_DIRECTORY

CHANNELS = ("webhook", "email")
SCHEMA, REFERENCE, COVERAGE = ProblemKind.SCHEMA, ProblemKind.REFERENCE, ProblemKind.COVERAGE

Mutation = Callable[[dict[str, Any]], None]


@pytest.fixture
def demo() -> dict[str, Any]:
    """The demo directory: it passes the check."""
    data: dict[str, Any] = yaml.safe_load(DEMO_DIRECTORY.read_text(encoding="utf-8"))
    return data


def person(data: dict[str, Any], person_id: str) -> dict[str, Any]:
    return next(p for p in data["people"] if p["id"] == person_id)


def index_of(data: dict[str, Any], person_id: str) -> int:
    return next(i for i, p in enumerate(data["people"]) if p["id"] == person_id)


def found(problems: list[Problem]) -> list[tuple[str, ProblemKind]]:
    return [(p.location, p.kind) for p in problems]


# --------------------------------------------------------------------------- the files


def test_demo_directory_passes_with_the_routers_channels() -> None:
    text = DEMO_DIRECTORY.read_text(encoding="utf-8")
    assert check_text(text, SUPPORTED_CHANNELS) == []
    assert check_text(text, ("webhook",)) == []


def test_demo_directory_keeps_every_person_and_policy_of_the_example() -> None:
    example, demo = load_directory(EXAMPLE_DIRECTORY), load_directory(DEMO_DIRECTORY)
    # ... and gives the JOC duty officer, who has none there, a contact
    joc = demo.people[0]
    assert joc.id == "jo.operator"
    assert [c.channel for c in joc.contacts] == ["webhook"]
    assert example.people[0] == joc.model_copy(update={"contacts": []})
    assert demo.people[1 : len(example.people)] == example.people[1:]
    assert demo.escalation_policies == example.escalation_policies
    assert demo.routes == example.routes
    assert demo.sectors == example.sectors


def test_example_directory_has_sector_gaps_and_an_unheard_joc_only() -> None:
    problems = check_text(EXAMPLE_DIRECTORY.read_text(encoding="utf-8"), CHANNELS)
    unheard, problems = problems[:3], problems[3:]
    assert [(p.location, p.kind) for p in unheard] == [
        ("sectors[0]", COVERAGE),
        ("sectors[1]", COVERAGE),
        ("sectors[2]", COVERAGE),
    ]
    assert all(p.message.endswith("(webhook, email): jo.operator") for p in unheard)
    gaps = [
        (p.location, p.message.split(" pages nobody in sector ")[1].split()[0]) for p in problems
    ]
    assert gaps == [
        ("escalation_policies[0].levels[0]", "'north'"),
        ("escalation_policies[0].levels[0]", "'south'"),
        ("escalation_policies[0].levels[1]", "'south'"),
        ("escalation_policies[1].levels[0]", "'north'"),
        ("escalation_policies[1].levels[0]", "'south'"),
        ("escalation_policies[1].levels[1]", "'south'"),
        ("escalation_policies[2].levels[0]", "'north'"),
        ("escalation_policies[2].levels[0]", "'south'"),
        ("escalation_policies[2].levels[1]", "'south'"),
    ]
    assert all(p.kind is COVERAGE and not p.blocking for p in problems)
    assert all(p.line is not None for p in problems)
    assert "policy 'poc-urgent' level 1" in problems[0].message
    assert "head_of_field_office" in problems[0].message


# --------------------------------------------------------------------------- each kind


def _bad_clearance(d: dict[str, Any]) -> None:
    d["people"][0]["clearance"] = "top_secret"


def _unknown_top_level_field(d: dict[str, Any]) -> None:
    d["policies"] = []


def _missing_mission(d: dict[str, Any]) -> None:
    del d["mission"]


def _bad_duration(d: dict[str, Any]) -> None:
    d["escalation_policies"][1]["levels"][1]["delay"] = "half an hour"


def _target_with_role_and_person(d: dict[str, Any]) -> None:
    d["escalation_policies"][0]["levels"][2]["targets"] = [
        {"role": "dsrsg", "person": "grace.dsrsg"}
    ]


def _repeat_ten(d: dict[str, Any]) -> None:
    d["escalation_policies"][0]["repeat"] = 10


def _typo_in_route(d: dict[str, Any]) -> None:
    d["routes"][1]["mtach"] = d["routes"][1].pop("match")


def _route_to_unknown_policy(d: dict[str, Any]) -> None:
    d["routes"][1]["policy"] = "poc-jiont"


def _policy_without_levels(d: dict[str, Any]) -> None:
    d["escalation_policies"][2]["levels"] = []


def _policy_without_levels_key(d: dict[str, Any]) -> None:
    del d["escalation_policies"][2]["levels"]


def _unknown_person_target(d: dict[str, Any]) -> None:
    d["escalation_policies"][0]["levels"][2]["targets"].append({"person": "grace.dsrg"})


def _duplicate_person(d: dict[str, Any]) -> None:
    d["people"].append({**person(d, "awa.hfo"), "name": "Awa again"})


def _duplicate_policy(d: dict[str, Any]) -> None:
    d["escalation_policies"].append(copy.deepcopy(d["escalation_policies"][0]))


def _person_in_unknown_sector(d: dict[str, Any]) -> None:
    person(d, "col.okafor")["sectors"] = ["beni", "east"]


def _route_matching_unknown_category(d: dict[str, Any]) -> None:
    d["routes"][0]["match"]["category"] = ["abduction", "kidnapping"]


def _route_matching_unknown_sector(d: dict[str, Any]) -> None:
    d["routes"][1]["match"]["sector"] = ["beni", "east"]


def _role_nobody_has(d: dict[str, Any]) -> None:
    d["escalation_policies"][0]["levels"][2]["targets"] = [{"role": "srsg", "scope": "mission"}]


def _sector_without_head_of_office(d: dict[str, Any]) -> None:
    d["people"] = [p for p in d["people"] if p["id"] != "fatou.ho"]


def _new_sector_nobody_covers(d: dict[str, Any]) -> None:
    d["sectors"].append("east")


def _target_without_supported_contact(d: dict[str, Any]) -> None:
    person(d, "lucas.ho")["contacts"] = [{"channel": "radio", "address": "HF 2"}]


def _person_target_without_contact(d: dict[str, Any]) -> None:
    d["escalation_policies"][2]["levels"][1]["targets"].append({"person": "amani.cla"})


def _route_after_catch_all(d: dict[str, Any]) -> None:
    d["routes"].append({"match": {"category": ["looting"]}, "policy": "poc-joint"})


@pytest.mark.parametrize(
    ("mutate", "location", "kind", "message"),
    [
        pytest.param(
            _bad_clearance, "people[0].clearance", SCHEMA, "'top_secret'", id="schema-enum"
        ),
        pytest.param(
            _unknown_top_level_field, "policies", SCHEMA, "Extra inputs", id="schema-extra-field"
        ),
        pytest.param(_missing_mission, "mission", SCHEMA, "Field required", id="schema-missing"),
        pytest.param(
            _bad_duration,
            "escalation_policies[1].levels[1].delay",
            SCHEMA,
            "a duration is like 90s",
            id="schema-duration",
        ),
        pytest.param(
            _target_with_role_and_person,
            "escalation_policies[0].levels[2].targets[0]",
            SCHEMA,
            "exactly one of role or person",
            id="schema-target",
        ),
        pytest.param(
            _repeat_ten,
            "escalation_policies[0].repeat",
            SCHEMA,
            "less than or equal to 9",
            id="schema-repeat",
        ),
        pytest.param(_typo_in_route, "routes[1].mtach", SCHEMA, "Extra inputs", id="schema-typo"),
        pytest.param(
            _route_to_unknown_policy,
            "routes[1].policy",
            REFERENCE,
            "unknown policy 'poc-jiont'",
            id="unknown-policy",
        ),
        pytest.param(
            _policy_without_levels,
            "escalation_policies[2].levels",
            REFERENCE,
            "policy 'poc-default' has no level",
            id="no-level",
        ),
        pytest.param(
            _policy_without_levels_key,
            "escalation_policies[2].levels",
            REFERENCE,
            "has no level",
            id="no-levels-key",
        ),
        pytest.param(
            _unknown_person_target,
            "escalation_policies[0].levels[2].targets[1].person",
            REFERENCE,
            "level 3 names unknown person 'grace.dsrg'",
            id="unknown-person",
        ),
        pytest.param(
            _duplicate_person, "people[15].id", REFERENCE, "duplicate person id", id="dup-person"
        ),
        pytest.param(
            _duplicate_policy,
            "escalation_policies[3].id",
            REFERENCE,
            "duplicate policy id 'poc-urgent'",
            id="dup-policy",
        ),
        pytest.param(
            _person_in_unknown_sector,
            "people[5].sectors[1]",
            REFERENCE,
            "unknown sector 'east'",
            id="person-unknown-sector",
        ),
        pytest.param(
            _route_matching_unknown_category,
            "routes[0].match.category[1]",
            REFERENCE,
            "unknown category 'kidnapping'",
            id="route-unknown-category",
        ),
        pytest.param(
            _route_matching_unknown_sector,
            "routes[1].match.sector[1]",
            REFERENCE,
            "unknown sector 'east'",
            id="route-unknown-sector",
        ),
        pytest.param(
            _role_nobody_has,
            "escalation_policies[0].levels[2].targets[0].role",
            COVERAGE,
            "role 'srsg' that no person has",
            id="role-nobody-has",
        ),
        pytest.param(
            _target_without_supported_contact,
            "people[3].contacts",
            COVERAGE,
            "lucas.ho is a target of poc-urgent level 2, poc-joint level 2, poc-default level 2",
            id="role-target-without-contact",
        ),
        pytest.param(
            _person_target_without_contact,
            "people[1].contacts",
            COVERAGE,
            "amani.cla is a target of poc-default level 2 but has no contact on a supported "
            "channel (webhook, email); has: radio",
            id="person-target-without-contact",
        ),
        pytest.param(
            _route_after_catch_all,
            "routes[3]",
            COVERAGE,
            "never reached: an earlier route (to 'poc-default') matches every alert",
            id="route-never-reached",
        ),
    ],
)
def test_each_problem_is_named_with_its_location(
    demo: dict[str, Any], mutate: Mutation, location: str, kind: ProblemKind, message: str
) -> None:
    mutate(demo)
    problems = check_directory(demo, CHANNELS)
    assert found(problems) == [(location, kind)], problems
    assert message in problems[0].message
    assert problems[0].blocking is (kind is not COVERAGE)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        pytest.param(
            _sector_without_head_of_office,
            [
                ("escalation_policies[0].levels[1]", "'south'"),
                ("escalation_policies[1].levels[1]", "'south'"),
                ("escalation_policies[2].levels[1]", "'south'"),
            ],
            id="south-without-head-of-office",
        ),
        pytest.param(
            _new_sector_nobody_covers,
            [
                ("escalation_policies[0].levels[0]", "'east'"),
                ("escalation_policies[0].levels[1]", "'east'"),
                ("escalation_policies[1].levels[0]", "'east'"),
                ("escalation_policies[1].levels[1]", "'east'"),
                ("escalation_policies[2].levels[0]", "'east'"),
                ("escalation_policies[2].levels[1]", "'east'"),
            ],
            id="new-sector",  # level 3 of poc-urgent: the DSRSG is mission-wide
        ),
    ],
)
def test_levels_paging_nobody_in_a_sector(
    demo: dict[str, Any], mutate: Mutation, expected: list[tuple[str, str]]
) -> None:
    mutate(demo)
    problems = check_directory(demo, CHANNELS)
    assert all(p.kind is COVERAGE for p in problems)
    assert [
        (p.location, p.message.split("pages nobody in sector ")[1].split()[0]) for p in problems
    ] == expected


def test_mission_scoped_and_person_targets_have_no_sector_gaps(demo: dict[str, Any]) -> None:
    demo["sectors"].append("east")
    demo["escalation_policies"] = [
        {
            "id": "p",
            "levels": [
                {"targets": [{"role": "head_of_office", "scope": "mission"}], "delay": "5m"},
                {"targets": [{"person": "awa.hfo"}], "delay": "5m"},
            ],
        }
    ]
    demo["routes"] = [{"match": {}, "policy": "p"}]
    assert check_directory(demo, CHANNELS) == []


def test_a_level_pages_nobody_only_where_no_target_resolves(demo: dict[str, Any]) -> None:
    # poc-joint level 1 also targets the sector commander: in beni somebody is paged
    person(demo, "awa.hfo")["sectors"] = ["north"]
    problems = check_directory(demo, CHANNELS)
    assert [(p.location, "'beni'" in p.message) for p in problems] == [
        ("escalation_policies[0].levels[0]", True),
        ("escalation_policies[2].levels[0]", True),
    ]


def test_only_supported_channels_count(demo: dict[str, Any]) -> None:
    person(demo, "awa.hfo")["contacts"] = [{"channel": "email", "address": "awa@example.org"}]
    assert check_directory(demo, ("webhook", "email")) == []
    problems = check_directory(demo, ("webhook",))
    assert found(problems) == [(f"people[{index_of(demo, 'awa.hfo')}].contacts", COVERAGE)]
    assert "(webhook); has: email" in problems[0].message


def test_people_who_are_no_target_need_no_contact(demo: dict[str, Any]) -> None:
    # amani.cla (radio) and audit.one page nobody and are paged by no policy
    assert person(demo, "audit.one")["contacts"] == []
    assert check_directory(demo, ("webhook",)) == []


# --------------------------------------------------------------------------- the JOC


def _sectors_unheard(problems: list[Problem]) -> list[str]:
    assert all(p.kind is COVERAGE and not p.blocking for p in problems)
    return [p.message.split("the JOC of sector ")[1].split()[0] for p in problems]


@pytest.mark.parametrize(
    "contacts",
    [
        pytest.param([], id="no-contact"),
        pytest.param([{"channel": "radio", "address": "HF 9"}], id="unsupported-channel"),
    ],
)
def test_a_sector_whose_joc_cannot_be_told_is_warned_of(
    demo: dict[str, Any], contacts: list[dict[str, str]]
) -> None:
    person(demo, "jo.operator")["contacts"] = contacts
    problems = check_directory(demo, CHANNELS)
    assert _sectors_unheard(problems) == ["'north'", "'south'", "'beni'"]
    assert [p.location for p in problems] == ["sectors[0]", "sectors[1]", "sectors[2]"]
    assert "no joc_operator covering it has a contact on a supported channel" in problems[0].message
    assert problems[0].message.endswith("(webhook, email): jo.operator")


def test_a_sector_no_joc_covers_is_warned_of(demo: dict[str, Any]) -> None:
    person(demo, "jo.operator")["sectors"] = ["north", "south"]
    problems = check_directory(demo, CHANNELS)
    assert _sectors_unheard(problems) == ["'beni'"]
    assert "nobody with role joc_operator covers it" in problems[0].message


def test_one_reachable_joc_of_the_sector_is_enough(demo: dict[str, Any]) -> None:
    person(demo, "jo.operator")["contacts"] = []
    demo["people"].append(
        {
            "id": "beni.joc",
            "name": "JOC Beni",
            "component": "civilian",
            "roles": ["joc_operator"],
            "sectors": ["beni"],
            "clearance": "confidential",
            "contacts": [{"channel": "email", "address": "joc.beni@example.org"}],
        }
    )
    assert _sectors_unheard(check_directory(demo, CHANNELS)) == ["'north'", "'south'"]


# --------------------------------------------------------------------------- all at once


def test_every_problem_is_reported_not_only_the_first(demo: dict[str, Any]) -> None:
    for mutate in (
        _bad_clearance,
        _bad_duration,
        _unknown_person_target,
        _route_to_unknown_policy,
        _policy_without_levels,
        _route_matching_unknown_category,
    ):
        mutate(demo)
    demo["routes"].append({"match": {}, "policy": "poc-joint", "continue": "perhaps"})
    assert found(check_directory(demo, CHANNELS)) == [
        ("people[0].clearance", SCHEMA),
        ("escalation_policies[1].levels[1].delay", SCHEMA),
        ("routes[3].continue", SCHEMA),
        ("escalation_policies[0].levels[2].targets[1].person", REFERENCE),
        ("escalation_policies[2].levels", REFERENCE),
        ("routes[1].policy", REFERENCE),
        ("routes[0].match.category[1]", REFERENCE),
        # (coverage is not computed: a person failed the schema)
    ]


def test_references_into_items_that_failed_the_schema(demo: dict[str, Any]) -> None:
    # poc-joint has a bad delay: it exists all the same, so its route is not dangling,
    # and its own targets are still checked
    _bad_duration(demo)
    demo["escalation_policies"][1]["levels"][0]["targets"].append({"person": "nobody.here"})
    demo["routes"].append({"match": {"category": "looting"}, "policy": "poc-gone"})
    problems = check_directory(demo, CHANNELS)
    assert found(problems) == [
        ("escalation_policies[1].levels[1].delay", SCHEMA),
        ("routes[3].match.category", SCHEMA),
        ("escalation_policies[1].levels[0].targets[3].person", REFERENCE),
        ("routes[3].policy", REFERENCE),
    ]


def test_locations_point_into_the_file_after_dropped_items(demo: dict[str, Any]) -> None:
    _repeat_ten(demo)  # escalation_policies[0] fails the schema
    _policy_without_levels(demo)  # escalation_policies[2], second of those kept
    assert found(check_directory(demo, CHANNELS)) == [
        ("escalation_policies[0].repeat", SCHEMA),
        ("escalation_policies[2].levels", REFERENCE),
    ]


# --------------------------------------------------------------------------- text


def test_lines_and_file_order() -> None:
    text = DEMO_DIRECTORY.read_text(encoding="utf-8")
    text = text.replace("policy: poc-joint", "policy: poc-jiont").replace(
        "clearance: top_secret", ""
    )
    text = text.replace("  - id: amani.cla\n", "  - id: amani.cla\n    rank: 3\n")
    problems = check_text(text, CHANNELS)
    lines = text.splitlines()
    assert [p.location for p in problems] == ["people[1].rank", "routes[1].policy"]
    assert "rank: 3" in lines[problems[0].line - 1]  # type: ignore[operator]
    assert "poc-jiont" in lines[problems[1].line - 1]  # type: ignore[operator]
    assert str(problems[1]) == (
        f"line {problems[1].line}: routes[1].policy: route names unknown policy 'poc-jiont'"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("mission: [x\n", "not valid YAML", id="syntax"),
        pytest.param("- a\n- b\n", "must be a mapping", id="a-list"),
        pytest.param("", "must be a mapping", id="empty"),
    ],
)
def test_files_that_are_no_directory(text: str, message: str) -> None:
    problems = check_text(text, CHANNELS)
    assert len(problems) == 1
    assert problems[0].kind is SCHEMA
    assert message in problems[0].message


def test_missing_sections_are_schema_problems() -> None:
    problems = check_text("mission: x\n", CHANNELS)
    assert found(problems) == [("sectors", SCHEMA), ("people", SCHEMA)]


# --------------------------------------------------------------------------- the router's rule


@pytest.mark.parametrize("path", [EXAMPLE_DIRECTORY, DEMO_DIRECTORY], ids=["example", "demo"])
def test_the_check_resolves_targets_as_the_router_does(path: Any) -> None:
    directory: Directory = load_directory(path)
    for policy in directory.escalation_policies:
        for level in policy.levels:
            for sector in directory.sectors:
                assert resolve_level(directory, level, sector) == resolve_targets(
                    directory, level, sector
                )
