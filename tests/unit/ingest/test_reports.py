"""The arithmetic of the "is it heeded?" report, over rows built by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from services.ingest.alerts.tables import AlertViewRecord
from services.ingest.recommendations.tables import RecommendationViewRecord
from services.ingest.reports.service import (
    RecommendationGroup,
    summarise_alerts,
    summarise_recommendations,
)

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=5)


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def rec(
    *,
    sector: str = "beni",
    component: str | None = "military",
    status: str = "issued",
    due: float = 60,
    ack: float | None = None,
    answer: tuple[str, float] | None = None,
    reason: str | None = None,
    escalated: float | None = None,
) -> RecommendationViewRecord:
    """A view row submitted at T0, due ``due`` minutes later; times in minutes after T0."""
    response, responded = answer if answer else (None, None)
    return RecommendationViewRecord(
        recommendation_id=str(uuid4()),
        author="jo.operator",
        addressee={"role": "sector_commander"},
        sector=sector,
        action="Patrol",
        rationale="Abductions",
        due_by=minutes(due),
        alert_id=None,
        classification="unclassified",
        submitted_at=T0,
        status=status if answer is None else response,
        addressees=["col.okafor"] if component else [],
        addressee_component=component,
        acknowledged_by="col.okafor" if ack is not None else None,
        acknowledged_at=minutes(ack) if ack is not None else None,
        response=response,
        reason=reason,
        responded_by="col.okafor" if answer else None,
        responded_at=minutes(responded) if responded is not None else None,
        escalated_at=minutes(escalated) if escalated is not None else None,
        escalated_to=[],
        version=1,
    )


def counts(group: RecommendationGroup) -> dict[str, Any]:
    return group.model_dump(exclude={"sector", "addressee_component"})


ZERO = {
    "issued": 0,
    "undeliverable": 0,
    "acknowledged": 0,
    "acknowledged_in_time": 0,
    "accepted": 0,
    "declined": 0,
    "declined_reasons": [],
    "done": 0,
    "overdue": 0,
    "median_seconds_to_acknowledge": None,
    "median_seconds_to_respond": None,
}


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        pytest.param([], {}, id="nothing"),
        pytest.param(
            [rec(due=600)],
            {"issued": 1},
            id="issued-not-yet-due",
        ),
        pytest.param(
            [rec(due=60)],
            {"issued": 1, "overdue": 1},
            id="unanswered-past-due-is-overdue",
        ),
        pytest.param(
            [rec(due=60, status="acknowledged", ack=10)],
            {
                "issued": 1,
                "acknowledged": 1,
                "acknowledged_in_time": 1,
                "overdue": 1,
                "median_seconds_to_acknowledge": 600.0,
            },
            id="acknowledged-but-unanswered-past-due-is-overdue",
        ),
        pytest.param(
            [rec(due=60, ack=60, answer=("accepted", 90))],
            {
                "issued": 1,
                "acknowledged": 1,
                "acknowledged_in_time": 1,
                "accepted": 1,
                "median_seconds_to_acknowledge": 3600.0,
                "median_seconds_to_respond": 5400.0,
            },
            id="acknowledged-exactly-at-due-is-in-time-answered-late-not-overdue",
        ),
        pytest.param(
            [rec(due=60, ack=61, answer=("done", 120))],
            {
                "issued": 1,
                "acknowledged": 1,
                "done": 1,
                "median_seconds_to_acknowledge": 3660.0,
                "median_seconds_to_respond": 7200.0,
            },
            id="acknowledged-late",
        ),
        pytest.param(
            [rec(due=60, ack=90, answer=("declined", 100), reason="No troops", escalated=60)],
            {
                "issued": 1,
                "acknowledged": 1,
                "declined": 1,
                "declined_reasons": ["No troops"],
                "overdue": 1,
                "median_seconds_to_acknowledge": 5400.0,
                "median_seconds_to_respond": 6000.0,
            },
            id="escalated-then-answered-stays-overdue",
        ),
        pytest.param(
            [rec(ack=1), rec(ack=2), rec(ack=10)],
            {
                "issued": 3,
                "acknowledged": 3,
                "acknowledged_in_time": 3,
                "overdue": 3,
                "median_seconds_to_acknowledge": 120.0,
            },
            id="median-of-odd-count",
        ),
        pytest.param(
            [
                rec(ack=1, answer=("accepted", 2)),
                rec(ack=2, answer=("done", 4)),
                rec(ack=3, answer=("declined", 10), reason="A"),
                rec(ack=20, answer=("declined", 30), reason="B"),
            ],
            {
                "issued": 4,
                "acknowledged": 4,
                "acknowledged_in_time": 4,
                "accepted": 1,
                "done": 1,
                "declined": 2,
                "declined_reasons": ["A", "B"],
                "median_seconds_to_acknowledge": 150.0,
                "median_seconds_to_respond": 420.0,
            },
            id="median-of-even-count-and-each-answer",
        ),
        pytest.param(
            [rec(status="undeliverable", component=None, due=1)],
            {"undeliverable": 1},
            id="undeliverable-is-not-issued-nor-overdue",
        ),
        pytest.param(
            [rec(status="submitted", component=None, due=1)],
            {},
            id="still-being-issued-is-left-out",
        ),
    ],
)
def test_recommendation_totals(
    rows: list[RecommendationViewRecord], expected: dict[str, Any]
) -> None:
    report = summarise_recommendations(rows, NOW)
    assert counts(report.totals) == {**ZERO, **expected}
    assert (report.totals.sector, report.totals.addressee_component) == ("*", "*")


def test_groups_per_sector_and_component_sorted_with_totals() -> None:
    rows = [
        rec(sector="north", component="police", ack=5, answer=("accepted", 6)),
        rec(sector="beni", component="military", ack=2),
        rec(sector="beni", component="civilian", ack=4, answer=("declined", 8), reason="Rain"),
        rec(sector="beni", component="military", ack=30, due=600),
        rec(sector="beni", component=None, status="undeliverable"),
        rec(sector="beni", component=None, status="submitted"),
    ]
    report = summarise_recommendations(rows, NOW)
    keys = [(g.sector, g.addressee_component) for g in report.groups]
    assert keys == [
        ("beni", None),
        ("beni", "civilian"),
        ("beni", "military"),
        ("north", "police"),
    ]
    by_key = {(g.sector, g.addressee_component): g for g in report.groups}
    military = by_key["beni", "military"]
    assert (military.issued, military.acknowledged, military.overdue) == (2, 2, 1)
    assert military.median_seconds_to_acknowledge == 16 * 60.0
    assert by_key["beni", None].undeliverable == 1
    assert by_key["beni", "civilian"].declined_reasons == ["Rain"]
    totals = report.totals
    assert (totals.issued, totals.undeliverable, totals.acknowledged) == (4, 1, 4)
    assert (totals.accepted, totals.declined, totals.overdue) == (1, 1, 1)
    # the median of all acknowledgements (2, 4, 5, 30 min), not of the groups' medians
    assert totals.median_seconds_to_acknowledge == 4.5 * 60


# --------------------------------------------------------------------------- alerts


def alert(
    *,
    sector: str = "beni",
    acks: tuple[float, ...] = (),
    level: int | None = 1,
    loop: int = 0,
    origin: str = "civilian",
    receipt: bool = False,
    feedback: float | None = None,
) -> AlertViewRecord:
    """An alert raised at T0 acknowledged at ``acks`` (minutes after T0); of ``origin``,
    its reporter sent a receipt, and feedback at ``feedback`` minutes."""
    return AlertViewRecord(
        alert_id=str(uuid4()),
        status="acknowledged" if acks else "triggered",
        sector=sector,
        raised_at=T0,
        level=level,
        loop=loop,
        origin=origin,
        receipt_at=T0 if receipt else None,
        feedback_at=minutes(feedback) if feedback is not None else None,
        acknowledgements=[
            {"person_id": f"p{n}", "component": "civilian", "at": minutes(m).isoformat()}
            for n, m in enumerate(acks)
        ],
    )


@pytest.mark.parametrize(
    ("rows", "escalated", "expected"),
    [
        pytest.param([], [], (0, 0, None, None, 0), id="nothing"),
        pytest.param([alert()], [], (1, 0, None, 0.0, 0), id="not-acknowledged"),
        pytest.param([alert(acks=(5,))], [], (1, 1, 300.0, 1.0, 0), id="ack-at-first-level"),
        pytest.param(
            [alert(acks=(30,), level=2)], [0], (1, 1, 1800.0, 0.0, 1), id="ack-after-escalation"
        ),
        pytest.param(
            [alert(acks=(5,), level=1, loop=1)],
            [0, 0, 0],
            (1, 1, 300.0, 0.0, 3),
            id="level-1-of-second-loop-is-not-first-level",
        ),
        pytest.param(
            [alert(acks=(9, 3)), alert(acks=(1,)), alert(), alert(acks=(20,), level=3)],
            [3, 3],
            (4, 3, 180.0, 0.5, 2),
            id="first-ack-of-a-quorum-and-the-median",
        ),
    ],
)
def test_alert_totals(
    rows: list[AlertViewRecord],
    escalated: list[int],
    expected: tuple[int, int, float | None, float | None, int],
) -> None:
    escalations: dict[str, int] = {}
    for index in escalated:
        escalations[rows[index].alert_id] = escalations.get(rows[index].alert_id, 0) + 1
    totals = summarise_alerts(rows, escalations).totals
    assert totals.sector == "*"
    assert (
        totals.raised,
        totals.acknowledged,
        totals.median_seconds_to_acknowledge,
        totals.share_acknowledged_at_first_level,
        totals.escalations,
    ) == expected


def test_alerts_per_sector() -> None:
    rows = [alert(sector="north", acks=(2,)), alert(acks=(4,)), alert(level=2)]
    escalations = {rows[2].alert_id: 1}
    report = summarise_alerts(rows, escalations)
    assert [(s.sector, s.raised, s.acknowledged, s.escalations) for s in report.sectors] == [
        ("beni", 2, 1, 1),
        ("north", 1, 1, 0),
    ]
    assert report.sectors[0].share_acknowledged_at_first_level == 0.5


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        pytest.param([alert()], (0, None, None, None), id="no-community-alert"),
        pytest.param(
            [alert(origin="community")], (1, 0.0, 0.0, None), id="raised-on-the-board-no-receipt"
        ),
        pytest.param(
            [
                alert(origin="community", receipt=True, feedback=10),
                alert(origin="community", receipt=True, feedback=30),
                alert(origin="community", receipt=True),
                alert(origin="community"),
                alert(receipt=True, feedback=1),  # not community: in none of the figures
            ],
            (4, 0.75, 0.5, 1200.0),
            id="shares-over-community-alerts-and-the-median-of-those-told",
        ),
    ],
)
def test_the_community_loop_figures(
    rows: list[AlertViewRecord], expected: tuple[int, float | None, float | None, float | None]
) -> None:
    totals = summarise_alerts(rows, {}).totals
    assert (
        totals.community,
        totals.share_community_with_receipt,
        totals.share_community_with_feedback,
        totals.median_seconds_to_feedback,
    ) == expected
