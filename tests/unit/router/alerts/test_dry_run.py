"""``coord policy dry-run``: who is paged, on which channels, when (table-driven)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import yaml

from coord.dry_run_output import plain_lines
from services.router.alerts.dry_run import (
    DryRun,
    UnknownSector,
    format_duration,
    format_offset,
    plan_dry_run,
)
from services.router.alerts.routing import AlertFacts, snapshot_policy
from shared.directory import Directory, load_directory
from tests.support.directories import (
    DEMO_DIRECTORY,
    EXAMPLE_DIRECTORY,
    directory_with_unreachable_target,
    example_directory,
)

CHANNELS = ("webhook", "email")


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
    return AlertFacts(category, severity, sector, origin, classification)


def timeline(plan: DryRun) -> list[tuple[str, int, int, list[str]]]:
    return [
        (format_offset(s.at), s.loop, s.level, [p.person_id for p in s.pages]) for s in plan.steps
    ]


URGENT_BENI = [
    ("T+0", 1, 1, ["awa.hfo"]),
    ("T+10m", 1, 2, ["lucas.ho"]),
    ("T+25m", 1, 3, ["grace.dsrsg"]),
    ("T+40m", 2, 1, ["awa.hfo"]),
    ("T+50m", 2, 2, ["lucas.ho"]),
    ("T+65m", 2, 3, ["grace.dsrsg"]),
]


@pytest.mark.parametrize(
    ("alert", "policy", "steps", "exhausted", "ack_timeout"),
    [
        pytest.param(
            facts("abduction", "severe"), "poc-urgent", URGENT_BENI, "T+80m", "1h", id="urgent"
        ),
        pytest.param(
            facts(
                "attack_on_civilians", "extreme", origin="military", classification="confidential"
            ),
            "poc-urgent",
            URGENT_BENI,
            "T+80m",
            "1h",
            id="urgent-attack",
        ),
        pytest.param(
            facts("armed_group_movement", "minor"),
            "poc-joint",
            [
                ("T+0", 1, 1, ["awa.hfo", "col.okafor", "insp.diallo"]),
                ("T+20m", 1, 2, ["lucas.ho"]),
            ],
            "T+50m",
            None,
            id="joint",
        ),
        pytest.param(
            facts("abduction", "moderate"),
            "poc-default",
            [("T+0", 1, 1, ["awa.hfo"]), ("T+30m", 1, 2, ["lucas.ho"])],
            "T+90m",
            None,
            id="default",
        ),
        pytest.param(
            facts("abduction", "severe", sector="north"),
            "poc-urgent",
            [
                ("T+0", 1, 1, []),
                ("T+10m", 1, 2, ["lucas.ho"]),
                ("T+25m", 1, 3, ["grace.dsrsg"]),
                ("T+40m", 2, 1, []),
                ("T+50m", 2, 2, ["lucas.ho"]),
                ("T+65m", 2, 3, ["grace.dsrsg"]),
            ],
            "T+80m",
            "1h",
            id="urgent-north-level-1-nobody",
        ),
        pytest.param(
            facts("displacement", "unknown", sector="south"),
            "poc-default",
            [("T+0", 1, 1, []), ("T+30m", 1, 2, [])],
            "T+90m",
            None,
            id="default-south-nobody",
        ),
    ],
)
def test_plan_level_by_level_and_loop_by_loop(
    directory: Directory,
    *,
    alert: AlertFacts,
    policy: str,
    steps: list[tuple[str, int, int, list[str]]],
    exhausted: str,
    ack_timeout: str | None,
) -> None:
    plan = plan_dry_run(directory, alert, CHANNELS)
    assert plan.policy_id == policy
    assert timeline(plan) == steps
    assert plan.exhausted_at is not None
    assert format_offset(plan.exhausted_at) == exhausted
    assert (format_duration(plan.ack_timeout) if plan.ack_timeout else None) == ack_timeout
    assert [p.person_id for p in plan.joc] == ["jo.operator"]


def test_the_plan_follows_the_routers_snapshot(directory: Directory) -> None:
    for alert in (
        facts("abduction", "severe"),
        facts("armed_group_movement", "minor"),
        facts("abduction", "severe", sector="north"),
    ):
        plan = plan_dry_run(directory, alert, CHANNELS)
        snapshot = snapshot_policy(directory, list(plan.policy_ids), alert.sector)
        assert snapshot is not None
        first_loop = [s for s in plan.steps if s.loop == 1]
        assert [tuple(p.person_id for p in s.pages) for s in first_loop] == [
            level.targets for level in snapshot.levels
        ]
        assert [s.delay.total_seconds() for s in first_loop] == [
            level.delay_seconds for level in snapshot.levels
        ]
        assert [s.quorum for s in first_loop] == [level.quorum for level in snapshot.levels]
        assert plan.loops == snapshot.repeat + 1


def test_route_and_quorum(directory: Directory) -> None:
    plan = plan_dry_run(directory, facts("armed_group_movement", "minor"), CHANNELS)
    assert [(r.index, r.policy_id, r.match) for r in plan.routes] == [
        (1, "poc-joint", {"category": ["armed_group_movement"]})
    ]
    assert [s.quorum for s in plan.steps] == [True, False]
    assert [p.component for p in plan.steps[0].pages] == ["civilian", "military", "police"]


@pytest.mark.parametrize(
    ("channels", "expected"),
    [
        pytest.param(
            ("webhook", "email"),
            [("webhook", "http://127.0.0.1:9101/awa"), ("email", "awa.ndiaye@example.org")],
            id="webhook-and-email",
        ),
        pytest.param(("webhook",), [("webhook", "http://127.0.0.1:9101/awa")], id="webhook"),
        pytest.param(
            ("email", "webhook"),
            [("webhook", "http://127.0.0.1:9101/awa"), ("email", "awa.ndiaye@example.org")],
            id="directory-order",
        ),
    ],
)
def test_channels_are_the_supported_contacts_in_directory_order(
    directory: Directory, channels: tuple[str, ...], expected: list[tuple[str, str]]
) -> None:
    plan = plan_dry_run(directory, facts("abduction", "severe"), channels)
    awa = plan.steps[0].pages[0]
    assert [(c.channel, c.address) for c in awa.contacts] == expected


def test_continue_routes_add_their_level_1_targets(directory: Directory) -> None:
    data: dict[str, Any] = yaml.safe_load(EXAMPLE_DIRECTORY.read_text(encoding="utf-8"))
    data["routes"].insert(
        0, {"match": {"category": ["abduction"]}, "policy": "poc-joint", "continue": True}
    )
    plan = plan_dry_run(Directory.model_validate(data), facts("abduction", "severe"), CHANNELS)
    assert plan.policy_ids == ("poc-joint", "poc-urgent")
    assert [(r.index, r.continue_) for r in plan.routes] == [(0, True), (1, False)]
    assert timeline(plan) == [
        ("T+0", 1, 1, ["awa.hfo", "col.okafor", "insp.diallo"]),
        ("T+20m", 1, 2, ["lucas.ho"]),
    ]
    assert [p.policy_id for p in plan.steps[0].pages] == ["poc-joint"] * 3


def test_no_route_matches(directory: Directory) -> None:
    data = directory.model_copy(update={"routes": directory.routes[:1]})
    plan = plan_dry_run(data, facts("looting", "minor"), CHANNELS)
    assert plan.unrouted
    assert plan.policy_id is None
    assert plan.steps == ()
    assert plan.exhausted_at is None
    assert plan.warnings[0] == "no route matches this alert: nobody is paged (alert.unrouted)"


def test_warnings(directory: Directory) -> None:
    plan = plan_dry_run(directory, facts("abduction", "severe", sector="north"), CHANNELS)
    assert plan.warnings == [
        "level 1 pages nobody in sector 'north'",
        "no joc_operator can be reached: exhaustion and failures go unheard",
    ]
    unreachable = plan_dry_run(
        directory_with_unreachable_target(), facts("displacement", "moderate"), CHANNELS
    )
    assert timeline(unreachable) == [("T+0", 1, 1, ["amani.cla", "lucas.ho"])]
    assert not unreachable.steps[0].pages[0].reachable
    assert (
        "amani.cla has no contact on a supported channel: the JOC is told instead "
        "(alert.target_unreachable)"
    ) in unreachable.warnings


def test_unknown_sector_is_refused(directory: Directory) -> None:
    with pytest.raises(UnknownSector, match="known sectors: north, south, beni"):
        plan_dry_run(directory, facts("abduction", "severe", sector="east"), CHANNELS)


def test_demo_directory_pages_someone_at_every_level_in_every_sector() -> None:
    demo = load_directory(DEMO_DIRECTORY)
    plan = plan_dry_run(demo, facts("abduction", "severe", sector="north"), CHANNELS)
    assert timeline(plan)[:3] == [
        ("T+0", 1, 1, ["noor.hfo"]),
        ("T+10m", 1, 2, ["lucas.ho"]),
        ("T+25m", 1, 3, ["grace.dsrsg"]),
    ]
    for category, severity in (("abduction", "severe"), ("looting", "minor")):
        for sector in demo.sectors:
            steps = plan_dry_run(demo, facts(category, severity, sector), CHANNELS).steps
            assert all(step.pages for step in steps)


@pytest.mark.parametrize(
    ("duration", "offset", "text"),
    [
        pytest.param(timedelta(0), "T+0", "0s", id="zero"),
        pytest.param(timedelta(minutes=10), "T+10m", "10m", id="10m"),
        pytest.param(timedelta(minutes=80), "T+80m", "80m", id="80m"),
        pytest.param(timedelta(hours=2), "T+2h", "2h", id="2h"),
        pytest.param(timedelta(days=1), "T+1d", "1d", id="1d"),
        pytest.param(timedelta(seconds=90), "T+90s", "90s", id="90s"),
        pytest.param(timedelta(seconds=2), "T+2s", "2s", id="2s"),
        pytest.param(timedelta(seconds=1.5), "T+1.5s", "1.5s", id="1.5s"),
    ],
)
def test_formatting_times(duration: timedelta, offset: str, text: str) -> None:
    assert format_offset(duration) == offset
    assert format_duration(duration) == text


def test_plain_text(directory: Directory) -> None:
    plan = plan_dry_run(directory, facts("abduction", "severe"), CHANNELS)
    lines = plain_lines(plan, "example")
    assert lines[:4] == [
        "alert: abduction, severe, sector beni, origin community, unclassified",
        "directory: example",
        "route: routes[0] (category: attack_on_civilians, abduction; severity: extreme, severe) "
        "-> poc-urgent (snapshotted policy)",
        "policy: poc-urgent, 3 level(s), 2 loop(s) (repeat 1), ack timeout 1h",
    ]
    assert lines[4] == (
        "T+0    loop 1 level 1: awa.hfo (Awa Ndiaye, civilian): "
        "webhook http://127.0.0.1:9101/awa, email awa.ndiaye@example.org"
    )
    assert lines[7].startswith("T+40m  loop 2 level 1: awa.hfo")
    assert lines[10].startswith("T+80m  escalation exhausted: nobody acknowledged in 2 loop(s)")
    assert lines[11].startswith("ack timeout: acknowledged but not resolved within 1h")


def test_people_not_cleared_for_the_alert_are_shown_as_not_paged(directory: Directory) -> None:
    # A strictly confidential military alert: poc-joint's level 1 holds the sector
    # commander and the police focal point (both cleared confidential) - the router
    # would not page them, and the JOC (confidential too) could not be told.
    plan = plan_dry_run(
        directory,
        facts("armed_group_movement", "moderate", origin="military",
              classification="strictly_confidential"),
        CHANNELS,
    )  # fmt: skip
    level_one = {p.person_id: p.reachable for p in plan.steps[0].pages}
    assert level_one == {"awa.hfo": True, "col.okafor": False, "insp.diallo": False}
    assert (
        "col.okafor is not cleared for a strictly_confidential alert: "
        "the JOC is told instead (alert.target_unreachable)"
    ) in plan.warnings
    assert "no joc_operator can be reached: exhaustion and failures go unheard" in plan.warnings
    cleared = plan_dry_run(
        directory,
        facts("armed_group_movement", "moderate", origin="military", classification="confidential"),
        CHANNELS,
    )
    assert all(p.cleared for p in cleared.steps[0].pages)
