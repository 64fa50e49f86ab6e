"""Parsing and validation of the directory and policy file."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from shared.directory import (
    Directory,
    EscalationPolicy,
    Language,
    PolicyLevel,
    format_location,
    load_directory,
    reference_errors,
    validate_schema,
)
from shared.envelope import Classification
from tests.support.directories import EXAMPLE_DIRECTORY


@pytest.fixture
def data() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(EXAMPLE_DIRECTORY.read_text(encoding="utf-8"))
    return loaded


def test_reference_directory_loads() -> None:
    directory = load_directory(EXAMPLE_DIRECTORY)
    assert directory.sectors == ["north", "south", "beni"]
    assert [p.id for p in directory.escalation_policies] == [
        "poc-urgent",
        "poc-joint",
        "poc-default",
    ]
    urgent = directory.policy("poc-urgent")
    assert [lvl.delay for lvl in urgent.levels] == [
        timedelta(minutes=10),
        timedelta(minutes=15),
        timedelta(minutes=15),
    ]
    assert urgent.repeat == 1
    assert urgent.ack_timeout == timedelta(hours=1)
    assert directory.policy("poc-joint").levels[0].quorum == "per_component"
    assert directory.routes[-1].match.model_dump(exclude_none=True) == {}
    awa = directory.person("awa.hfo")
    assert awa is not None
    assert awa.clearance is Classification.STRICTLY_CONFIDENTIAL
    assert directory.person("nobody") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("90s", timedelta(seconds=90), id="90s"),
        pytest.param("15m", timedelta(minutes=15), id="15m"),
        pytest.param("2h", timedelta(hours=2), id="2h"),
        pytest.param("1d", timedelta(days=1), id="1d"),
        pytest.param("1.5h", timedelta(minutes=90), id="1.5h"),
        pytest.param("PT15M", timedelta(minutes=15), id="iso-PT15M"),
        pytest.param("PT1H30M", timedelta(minutes=90), id="iso-PT1H30M"),
        pytest.param(45, timedelta(seconds=45), id="number-of-seconds"),
    ],
)
def test_durations(text: str | int, expected: timedelta) -> None:
    parsed = PolicyLevel.model_validate({"targets": [{"role": "dsrsg"}], "delay": text})
    assert parsed.delay == expected


@pytest.mark.parametrize("text", ["15 minutes", "m15", "15x", "", "soon"])
def test_bad_durations_are_rejected(text: str) -> None:
    with pytest.raises(ValidationError) as error:
        PolicyLevel.model_validate({"targets": [{"role": "dsrsg"}], "delay": text})
    assert error.value.errors()[0]["loc"] == ("delay",)


def _route_to_unknown_policy(d: dict[str, Any]) -> None:
    d["routes"].append({"match": {}, "policy": "poc-typo"})


def _level_without_targets(d: dict[str, Any]) -> None:
    d["escalation_policies"][0]["levels"][0]["targets"] = []


def _target_with_role_and_person(d: dict[str, Any]) -> None:
    d["escalation_policies"][0]["levels"][0]["targets"] = [
        {"role": "head_of_field_office", "person": "awa.hfo"}
    ]


def _target_with_neither(d: dict[str, Any]) -> None:
    d["escalation_policies"][0]["levels"][0]["targets"] = [{"scope": "mission"}]


def _repeat_ten(d: dict[str, Any]) -> None:
    d["escalation_policies"][0]["repeat"] = 10


def _negative_repeat(d: dict[str, Any]) -> None:
    d["escalation_policies"][0]["repeat"] = -1


def _policy_without_levels(d: dict[str, Any]) -> None:
    d["escalation_policies"][0]["levels"] = []


def _bad_scope(d: dict[str, Any]) -> None:
    d["escalation_policies"][0]["levels"][0]["targets"] = [
        {"role": "head_of_field_office", "scope": "planet"}
    ]


def _bad_quorum(d: dict[str, Any]) -> None:
    d["escalation_policies"][1]["levels"][0]["quorum"] = "majority"


def _bad_clearance(d: dict[str, Any]) -> None:
    d["people"][0]["clearance"] = "top_secret"


def _unknown_language(d: dict[str, Any]) -> None:
    d["people"][0]["language"] = "de"


def _unknown_field_in_route(d: dict[str, Any]) -> None:
    d["routes"][0]["mtach"] = {"category": ["abduction"]}


def _duplicate_person(d: dict[str, Any]) -> None:
    d["people"].append(copy.deepcopy(d["people"][2]))


def _duplicate_policy(d: dict[str, Any]) -> None:
    d["escalation_policies"].append(copy.deepcopy(d["escalation_policies"][1]))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        pytest.param(_route_to_unknown_policy, "unknown policy 'poc-typo'", id="unknown-policy"),
        pytest.param(_level_without_targets, "at least 1 item", id="level-without-targets"),
        pytest.param(
            _target_with_role_and_person, "exactly one of role or person", id="role-and-person"
        ),
        pytest.param(_target_with_neither, "exactly one of role or person", id="neither"),
        pytest.param(_repeat_ten, "less than or equal to 9", id="repeat-over-9"),
        pytest.param(_negative_repeat, "greater than or equal to 0", id="repeat-negative"),
        pytest.param(_policy_without_levels, "at least one level", id="policy-without-levels"),
        pytest.param(_bad_scope, "pattern", id="bad-scope"),
        pytest.param(_bad_quorum, "pattern", id="bad-quorum"),
        pytest.param(_bad_clearance, "clearance", id="bad-clearance"),
        pytest.param(_unknown_language, "language", id="unknown-language"),
        pytest.param(_unknown_field_in_route, "mtach", id="unknown-field-typo"),
        pytest.param(_duplicate_person, "duplicate person id 'awa.hfo'", id="duplicate-person"),
        pytest.param(_duplicate_policy, "duplicate policy id 'poc-joint'", id="duplicate-policy"),
    ],
)
def test_invalid_directories_are_rejected(data: dict[str, Any], mutate: Any, message: str) -> None:
    broken = copy.deepcopy(data)
    mutate(broken)
    with pytest.raises(ValidationError) as error:
        Directory.model_validate(broken)
    assert message in str(error.value)


@pytest.mark.parametrize("repeat", [0, 9])
def test_repeat_bounds_accepted(repeat: int) -> None:
    policy = EscalationPolicy.model_validate(
        {"id": "p", "levels": [{"targets": [{"role": "r"}], "delay": "1m"}], "repeat": repeat}
    )
    assert policy.repeat == repeat


def test_target_naming_a_person_missing_from_the_directory_is_rejected(
    data: dict[str, Any],
) -> None:
    # A typo in a person target would otherwise page nobody at that level, silently
    # (docs/design.md#notifications: "a target with no working channel is an event ..., never a
    # silent skip").
    data["escalation_policies"][0]["levels"][0]["targets"] = [{"person": "awa.hfoo"}]
    with pytest.raises(ValidationError, match=r"awa\.hfoo"):
        Directory.model_validate(data)


def test_load_directory_reports_the_file_problem(tmp_path: Path, data: dict[str, Any]) -> None:
    data["escalation_policies"][0]["repeat"] = 12
    path = tmp_path / "directory.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ValidationError, match="repeat"):
        load_directory(path)


def test_every_reference_error_is_in_the_message(data: dict[str, Any]) -> None:
    data["routes"].append({"match": {}, "policy": "poc-typo"})
    data["escalation_policies"][0]["levels"][0]["targets"].append({"person": "awa.hfoo"})
    with pytest.raises(ValidationError) as error:
        Directory.model_validate(data)
    text = str(error.value)
    assert "escalation_policies[0].levels[0].targets[1].person: policy 'poc-urgent'" in text
    assert "routes[3].policy: route names unknown policy 'poc-typo'" in text


def test_validate_schema_leaves_references_to_the_check(data: dict[str, Any]) -> None:
    data["routes"].append({"match": {}, "policy": "poc-typo"})
    data["escalation_policies"][2]["levels"] = []
    directory = validate_schema(data)
    assert reference_errors(directory) == [
        (("escalation_policies", 2, "levels"), "policy 'poc-default' has no level"),
        (("routes", 3, "policy"), "route names unknown policy 'poc-typo'"),
    ]
    assert reference_errors(directory, known_policies={"poc-typo"}) == [
        (("escalation_policies", 2, "levels"), "policy 'poc-default' has no level"),
    ]


@pytest.mark.parametrize(
    ("location", "text"),
    [
        pytest.param((), "(top level)", id="top"),
        pytest.param(("mission",), "mission", id="field"),
        pytest.param(("routes", 3, "policy"), "routes[3].policy", id="nested"),
        pytest.param(("sectors", 0), "sectors[0]", id="item"),
    ],
)
def test_format_location(location: tuple[str | int, ...], text: str) -> None:
    assert format_location(location) == text


def test_content_reads_back_to_the_same_directory() -> None:
    directory = load_directory(EXAMPLE_DIRECTORY)
    content = directory.content()
    assert json.loads(json.dumps(content)) == content
    assert content["escalation_policies"][0]["levels"][0]["delay"] == "PT10M"
    assert "continue" in content["routes"][0]
    assert Directory.model_validate(content) == directory


def test_a_persons_language_is_english_unless_the_directory_says_french(
    data: dict[str, Any],
) -> None:
    french = copy.deepcopy(data)
    french["people"][0]["language"] = "fr"
    directory = Directory.model_validate(french)
    first, second = directory.people[0], directory.people[1]
    assert (first.language, second.language) == (Language.FR, Language.EN)


# --------------------------------------------------------------------------- sms contacts


@pytest.mark.parametrize("address", ["+243000000001", "0990000111", "call me", "+243 12"])
def test_an_sms_contact_must_be_a_phone_number_with_its_country_code(
    data: dict[str, Any], address: str
) -> None:
    data["people"][0]["contacts"] = [{"channel": "sms", "address": address}]
    with pytest.raises(ValidationError, match="is not a phone number with its country code"):
        Directory.model_validate(data)


@pytest.mark.parametrize(
    ("sender", "region", "found"),
    [
        pytest.param("+243990000111", None, "awa.hfo", id="e164"),
        pytest.param("+243 990 000 111", None, "awa.hfo", id="spaced"),
        pytest.param("0990000111", "CD", "awa.hfo", id="national-in-its-region"),
        pytest.param("0990000111", None, None, id="national-without-a-region"),
        pytest.param("+243990000112", None, None, id="another-number"),
        pytest.param("junk", "CD", None, id="not-a-number"),
    ],
)
def test_a_person_is_found_by_their_sms_number(
    data: dict[str, Any], sender: str, region: str | None, found: str | None
) -> None:
    awa = next(p for p in data["people"] if p["id"] == "awa.hfo")
    awa["contacts"].append({"channel": "sms", "address": "+243 990 000 111"})
    person = Directory.model_validate(data).person_with_phone(sender, region)
    assert (person.id if person is not None else None) == found
