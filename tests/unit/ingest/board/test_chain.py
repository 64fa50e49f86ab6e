"""What the board says is ahead of an alert (services/ingest/board/chain.py).

A joint level (``quorum: per_component``) waits for one acknowledgement per component: one
entry per component, filled from the acknowledgements. The levels ahead page the people
the directory resolves, each due when the one before has waited its delay.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.ingest.board.chain import ComponentAcknowledgement, LevelAhead, levels_ahead, quorum
from shared.contracts.escalation import AcknowledgementView
from shared.directory import Directory

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def _person(person_id: str, component: str, role: str, sectors: list[str]) -> dict[str, object]:
    return {
        "id": person_id,
        "name": person_id,
        "component": component,
        "roles": [role],
        "sectors": sectors,
    }


DIRECTORY = Directory.model_validate(
    {
        "mission": "test",
        "sectors": ["beni", "north"],
        "people": [
            _person("hfo.beni", "civilian", "head_of_field_office", ["beni"]),
            _person("hfo.north", "civilian", "head_of_field_office", ["north"]),
            _person("cmdr.beni", "military", "sector_commander", ["beni"]),
            _person("cmdr.two", "military", "sector_commander", ["beni"]),
            _person("pol.beni", "police", "police_focal_point", ["beni"]),
            _person("ho.all", "civilian", "head_of_office", ["*"]),
            _person("dsrsg", "civilian", "dsrsg", ["*"]),
        ],
        "escalation_policies": [
            {
                "id": "joint",
                "levels": [
                    {
                        "targets": [
                            {"role": "head_of_field_office"},
                            {"role": "sector_commander"},
                            {"role": "police_focal_point"},
                        ],
                        "delay": "20m",
                        "quorum": "per_component",
                    },
                    {"targets": [{"role": "head_of_office"}], "delay": "30m"},
                    {"targets": [{"role": "dsrsg"}, {"person": "hfo.north"}], "delay": "15m"},
                ],
            },
            {
                "id": "plain",
                "levels": [
                    {"targets": [{"role": "head_of_field_office"}], "delay": "10m"},
                    {"targets": [{"role": "head_of_office"}], "delay": "1h"},
                ],
            },
        ],
        "routes": [{"match": {}, "policy": "plain"}],
    }
)


def ack(person_id: str, component: str, minutes: int = 1) -> AcknowledgementView:
    return AcknowledgementView(
        person_id=person_id, component=component, at=T0 + timedelta(minutes=minutes)
    )


# --------------------------------------------------------------------------- quorum


@pytest.mark.parametrize(
    ("acknowledgements", "expected"),
    [
        pytest.param(
            [],
            [("civilian", None), ("military", None), ("police", None)],
            id="nobody-yet",
        ),
        pytest.param(
            [ack("cmdr.beni", "military")],
            [("civilian", None), ("military", "cmdr.beni"), ("police", None)],
            id="one-component",
        ),
        pytest.param(
            [ack("cmdr.beni", "military", 1), ack("cmdr.two", "military", 2)],
            [("civilian", None), ("military", "cmdr.beni"), ("police", None)],
            id="first-of-a-component-counts",
        ),
        pytest.param(
            [ack("pol.beni", "police"), ack("hfo.beni", "civilian"), ack("cmdr.two", "military")],
            [("civilian", "hfo.beni"), ("military", "cmdr.two"), ("police", "pol.beni")],
            id="all-components",
        ),
        pytest.param(
            [ack("someone", "community")],
            [("civilian", None), ("military", None), ("police", None)],
            id="a-component-not-waited-for-is-left-out",
        ),
    ],
)
def test_a_joint_level_has_one_entry_per_component(
    acknowledgements: list[AcknowledgementView], expected: list[tuple[str, str | None]]
) -> None:
    found = quorum(DIRECTORY, "joint", 1, "beni", acknowledgements)
    assert found == [ComponentAcknowledgement(c, who) for c, who in expected]


def test_a_joint_level_waits_for_the_components_the_sector_has() -> None:
    # In the north only a head of field office covers the sector: one component.
    assert quorum(DIRECTORY, "joint", 1, "north", []) == [
        ComponentAcknowledgement("civilian", None)
    ]


@pytest.mark.parametrize(
    ("policy_id", "level"),
    [
        pytest.param("joint", 2, id="a-level-without-quorum"),
        pytest.param("joint", 3, id="the-last-level"),
        pytest.param("plain", 1, id="a-policy-without-quorum"),
        pytest.param("joint", None, id="not-routed-yet"),
        pytest.param(None, 1, id="no-policy"),
        pytest.param("gone", 1, id="a-policy-no-longer-in-the-directory"),
        pytest.param("joint", 0, id="level-zero"),
        pytest.param("joint", 4, id="beyond-the-last-level"),
        pytest.param("joint", -1, id="negative-level"),
    ],
)
def test_otherwise_there_is_no_quorum(policy_id: str | None, level: int | None) -> None:
    assert quorum(DIRECTORY, policy_id, level, "beni", [ack("cmdr.beni", "military")]) == []


# --------------------------------------------------------------------------- levels ahead


def test_the_levels_ahead_are_due_one_delay_after_the_other() -> None:
    assert levels_ahead(DIRECTORY, "joint", 1, "beni", T0) == [
        LevelAhead(2, T0, ("ho.all",)),
        # level 2 waits its 30 minutes before level 3 pages
        LevelAhead(3, T0 + timedelta(minutes=30), ("dsrsg", "hfo.north")),
    ]


def test_from_the_middle_only_what_is_after() -> None:
    assert levels_ahead(DIRECTORY, "joint", 2, "beni", T0) == [
        LevelAhead(3, T0, ("dsrsg", "hfo.north"))
    ]


def test_the_people_of_a_level_are_those_of_the_sector() -> None:
    [second] = levels_ahead(DIRECTORY, "plain", 1, "north", T0)
    assert second.people == ("ho.all",)
    assert levels_ahead(DIRECTORY, "plain", 0, "north", T0)[0] == LevelAhead(1, T0, ("hfo.north",))


def test_without_a_due_time_no_level_has_one() -> None:
    ahead = levels_ahead(DIRECTORY, "joint", 1, "beni", None)
    assert [a.level for a in ahead] == [2, 3]
    assert [a.due_at for a in ahead] == [None, None]


@pytest.mark.parametrize(
    ("policy_id", "level"),
    [
        pytest.param("joint", 3, id="at-the-last-level"),
        pytest.param("joint", 9, id="beyond-the-last-level"),
        pytest.param("joint", None, id="not-routed-yet"),
        pytest.param(None, 1, id="no-policy"),
        pytest.param("gone", 1, id="a-policy-no-longer-in-the-directory"),
    ],
)
def test_nothing_ahead(policy_id: str | None, level: int | None) -> None:
    assert levels_ahead(DIRECTORY, policy_id, level, "beni", T0) == []
