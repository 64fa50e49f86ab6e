"""The optional chain of command of the directory (``superiors``) and its loop check."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.directory import Directory, load_directory, reference_errors, validate_schema
from tests.support.directories import DEMO_DIRECTORY, EXAMPLE_DIRECTORY

CHAIN = {
    "head_of_field_office": "head_of_office",
    "head_of_office": "dsrsg",
    "sector_commander": "force_commander",
}


def minimal(superiors: Any = None, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "mission": "test",
        "sectors": ["beni"],
        "people": [{"id": "awa.hfo", "name": "Awa", "component": "civilian"}],
        **extra,
    }
    if superiors is not None:
        data["superiors"] = superiors
    return data


def test_the_example_directory_without_superiors_still_loads() -> None:
    assert "superiors" not in yaml.safe_load(EXAMPLE_DIRECTORY.read_text(encoding="utf-8"))
    assert load_directory(EXAMPLE_DIRECTORY).superiors == {}


def test_the_demo_directory_chain_of_command_loads() -> None:
    superiors = load_directory(DEMO_DIRECTORY).superiors
    assert superiors["head_of_field_office"] == "head_of_office"
    assert superiors["head_of_office"] == "dsrsg"


def test_superiors_are_optional() -> None:
    assert Directory.model_validate(minimal()).superiors == {}


def test_superiors_survive_the_round_trip() -> None:
    directory = Directory.model_validate(minimal(CHAIN))
    assert directory.superiors == CHAIN
    assert Directory.model_validate(directory.content()) == directory


@pytest.mark.parametrize(
    "superiors",
    [
        pytest.param({}, id="empty"),
        pytest.param({"a": "b"}, id="one-step"),
        pytest.param(CHAIN, id="two-chains"),
        pytest.param({"a": "c", "b": "c", "c": "d"}, id="two-roles-report-to-one"),
        pytest.param({"a": "not_held_by_anyone"}, id="superior-role-nobody-holds"),
    ],
)
def test_a_chain_without_a_loop_is_accepted(superiors: dict[str, str]) -> None:
    directory = Directory.model_validate(minimal(superiors))
    assert directory.superiors == superiors
    assert reference_errors(directory) == []


@pytest.mark.parametrize(
    ("superiors", "errors"),
    [
        pytest.param(
            {"a": "a"},
            [(("superiors", "a"), "the chain of command loops: a -> a")],
            id="own-superior",
        ),
        pytest.param(
            {"a": "b", "b": "a"},
            [
                (("superiors", "a"), "the chain of command loops: a -> b -> a"),
                (("superiors", "b"), "the chain of command loops: b -> a -> b"),
            ],
            id="two-roles",
        ),
        pytest.param(
            {"hfo": "ho", "ho": "dsrsg", "dsrsg": "hfo"},
            [
                (("superiors", "hfo"), "the chain of command loops: hfo -> ho -> dsrsg -> hfo"),
                (("superiors", "ho"), "the chain of command loops: ho -> dsrsg -> hfo -> ho"),
                (("superiors", "dsrsg"), "the chain of command loops: dsrsg -> hfo -> ho -> dsrsg"),
            ],
            id="three-roles",
        ),
        pytest.param(
            {"cla": "hfo", "hfo": "ho", "ho": "hfo"},
            [
                (("superiors", "hfo"), "the chain of command loops: hfo -> ho -> hfo"),
                (("superiors", "ho"), "the chain of command loops: ho -> hfo -> ho"),
            ],
            id="a-role-below-a-loop-is-not-named",
        ),
    ],
)
def test_a_loop_is_named_with_its_chain(
    superiors: dict[str, str], errors: list[tuple[tuple[str, ...], str]]
) -> None:
    assert reference_errors(validate_schema(minimal(superiors))) == errors


@pytest.mark.parametrize(
    ("superiors", "message"),
    [
        pytest.param({"a": "a"}, "superiors.a: the chain of command loops: a -> a", id="self"),
        pytest.param(
            {"x": "y", "a": "b", "b": "a"},
            "superiors.a: the chain of command loops: a -> b -> a",
            id="two-roles",
        ),
    ],
)
def test_a_directory_with_a_loop_is_refused(superiors: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match="the chain of command loops") as raised:
        Directory.model_validate(minimal(superiors))
    assert message in str(raised.value)


def test_the_schema_stage_lets_a_loop_through() -> None:
    assert validate_schema(minimal({"a": "a"})).superiors == {"a": "a"}


def test_a_loop_is_reported_with_the_other_reference_errors_in_file_order() -> None:
    data = minimal(
        {"a": "a"},
        escalation_policies=[{"id": "p", "levels": [{"targets": [{"role": "x"}], "delay": "5m"}]}],
        routes=[{"policy": "missing"}],
    )
    errors = reference_errors(validate_schema(data))
    assert [where for where, _ in errors] == [("superiors", "a"), ("routes", 0, "policy")]


@pytest.mark.parametrize(
    "superiors",
    [
        pytest.param({"a": ["b"]}, id="list-superior"),
        pytest.param(["a", "b"], id="list-instead-of-map"),
        pytest.param({"a": None}, id="no-superior"),
    ],
)
def test_superiors_is_a_map_of_role_to_role(superiors: Any) -> None:
    with pytest.raises(ValidationError, match="superiors"):
        validate_schema(minimal(superiors))


# --- property: a map is refused exactly when following it from some role comes back -------

ROLES = ["r0", "r1", "r2", "r3", "r4"]


def loops(superiors: dict[str, str]) -> set[str]:
    """The roles that are on a loop, found by walking at most len(superiors) steps."""
    on_loop = set()
    for role, superior in superiors.items():
        current: str | None = superior
        for _ in range(len(superiors)):
            if current == role:
                on_loop.add(role)
                break
            current = superiors.get(current) if current is not None else None
    return on_loop


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(ROLES), st.sampled_from(ROLES), max_size=5))
def test_exactly_the_roles_on_a_loop_are_named(superiors: dict[str, str]) -> None:
    errors = reference_errors(validate_schema(minimal(superiors)))
    named = [where[1] for where, _ in errors]
    assert named == [role for role in superiors if role in loops(superiors)]
    for where, message in errors:
        chain = message.removeprefix("the chain of command loops: ").split(" -> ")
        assert chain[0] == chain[-1] == where[1]
        assert all(superiors[a] == b for a, b in pairwise(chain))
        assert len(set(chain[:-1])) == len(chain) - 1
    if named:
        with pytest.raises(ValidationError):
            Directory.model_validate(minimal(superiors))
    else:
        assert Directory.model_validate(minimal(superiors)).superiors == superiors
