"""A state goes onto its row whole and comes back equal (shared.state_rows)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from services.ingest.alerts.tables import AlertViewRecord
from services.router.alerts.escalation import Acknowledgement, EscalationState, TimerKind
from services.router.alerts.store import state_of, store_state
from services.router.alerts.tables import AlertRecord
from services.router.recommendations.rules import RecommendationState
from services.router.recommendations.tables import RecommendationRecord
from shared.contracts.escalation import AlertStateV1
from shared.contracts.recommendations import RecommendationStatus, Response
from shared.state_rows import state_from, take_state

AT = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)


def test_an_alert_state_round_trips_through_the_view_row() -> None:
    state = AlertStateV1.model_validate(
        {
            "alert_id": uuid4(),
            "version": 7,
            "status": "acknowledged",
            "policy_id": "poc-urgent",
            "level": 2,
            "loop": 1,
            "cycle": 1,
            "exhausted": False,
            "next_escalation_at": AT,
            "targets": ["awa.hfo", "lucas.ho"],
            "chain": ["awa.hfo", "lucas.ho", "grace.dsrsg"],
            "acknowledgements": [{"person_id": "awa.hfo", "component": "civilian", "at": AT}],
            "dedup_count": 3,
            "merged_into": uuid4(),
        }
    )
    row = AlertViewRecord(alert_id=str(state.alert_id), version=0)
    take_state(row, state, keep=frozenset({"alert_id"}))
    # Ids are stored as text, JSON columns as JSON (times as ISO text), the rest as is.
    assert row.merged_into == str(state.merged_into)
    assert row.acknowledgements == [
        {
            "person_id": "awa.hfo",
            "component": "civilian",
            "at": AT.isoformat().replace("+00:00", "Z"),
        }
    ]
    assert (row.version, row.level, row.next_escalation_at) == (7, 2, AT)
    # The view has no ``cycle`` column: it must be given to read the state back.
    back = state_from(AlertStateV1, row, cycle=1)
    assert back == state


def test_a_state_field_no_row_keeps_must_be_given() -> None:
    row = AlertViewRecord(alert_id=str(uuid4()), status="triggered", version=1, loop=0)
    with pytest.raises(ValueError, match="cycle"):
        state_from(AlertStateV1, row)


@pytest.mark.parametrize(
    "state",
    [
        RecommendationState(
            status=RecommendationStatus.ISSUED, addressees=("col.okafor",), due_by=AT
        ),
        RecommendationState(
            status=RecommendationStatus.DECLINED,
            addressees=("col.okafor", "gen.force"),
            due_by=AT,
            acknowledged_by="col.okafor",
            acknowledged_at=AT - timedelta(hours=1),
            response=Response.DECLINED,
            reason="No troops to spare",
            responded_by="col.okafor",
            responded_at=AT,
            escalated_at=None,
        ),
    ],
    ids=["issued", "declined"],
)
def test_a_rules_dataclass_round_trips_through_the_router_row(state: RecommendationState) -> None:
    row = RecommendationRecord(recommendation_id=str(uuid4()), version=1)
    take_state(row, state)
    assert row.status == state.status.value  # enums are stored as their text
    assert row.addressees == list(state.addressees)
    assert state_from(RecommendationState, row) == state


def test_the_escalation_state_round_trips_through_the_alert_row() -> None:
    state = EscalationState(
        status="triggered",
        cycle=2,
        loop=1,
        level=3,
        acknowledgements=(Acknowledgement("awa.hfo", "civilian", AT),),
        paged=("awa.hfo", "lucas.ho"),
        timer=TimerKind.ESCALATE,
        timer_due_at=AT,
    )
    row = AlertRecord(alert_id=str(uuid4()), version=4)
    store_state(row, state)
    assert (row.targets, row.timer_kind, row.version) == (["awa.hfo", "lucas.ho"], "escalate", 5)
    assert state_of(row) == state
