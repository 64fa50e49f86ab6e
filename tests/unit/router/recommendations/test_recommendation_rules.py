"""The recommendation state machine: a transition table and properties over random commands."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.router.recommendations.rules import (
    Decision,
    RecommendationState,
    Status,
    acknowledge,
    on_due,
    respond,
)
from shared.contracts.recommendations import Response

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
DUE = T0 + timedelta(hours=1)
ACK_AT = T0 + timedelta(minutes=5)
ANSWER_AT = T0 + timedelta(minutes=20)
NOW = T0 + timedelta(minutes=30)
ADDRESSEES = ("lucas.ho", "omar.ho")

ISSUED = RecommendationState(status=Status.ISSUED, addressees=ADDRESSEES, due_by=DUE)
ACKNOWLEDGED = replace(
    ISSUED, status=Status.ACKNOWLEDGED, acknowledged_by="lucas.ho", acknowledged_at=ACK_AT
)


def answered(response: Response, reason: str | None = None) -> RecommendationState:
    return replace(
        ACKNOWLEDGED,
        status=Status(response.value),
        response=response,
        reason=reason,
        responded_by="lucas.ho",
        responded_at=ANSWER_AT,
    )


ACCEPTED = answered(Response.ACCEPTED)
DECLINED = answered(Response.DECLINED, "no vehicles")
DONE = answered(Response.DONE)
UNDELIVERABLE = replace(ISSUED, status=Status.UNDELIVERABLE)
STATES = {
    "issued": ISSUED,
    "acknowledged": ACKNOWLEDGED,
    "accepted": ACCEPTED,
    "declined": DECLINED,
    "done": DONE,
    "undeliverable": UNDELIVERABLE,
}


@dataclass(frozen=True)
class Command:
    """An acknowledgement (``response`` None) or an answer of ``person_id``."""

    person_id: str
    response: Response | None = None
    reason: str | None = None


def run(state: RecommendationState, command: Command, now: datetime = NOW) -> Decision:
    if command.response is None:
        return acknowledge(state, command.person_id, now)
    return respond(state, command.person_id, command.response, command.reason, now)


def ack(person_id: str = "lucas.ho") -> Command:
    return Command(person_id)


def answer(response: Response, reason: str | None = None, person_id: str = "lucas.ho") -> Command:
    return Command(person_id, response, reason)


ACCEPT = answer(Response.ACCEPTED)
DECLINE = answer(Response.DECLINED, "no vehicles available")
FINISH = answer(Response.DONE)


@pytest.mark.parametrize(
    ("before", "command", "after"),
    [
        # acknowledge
        pytest.param("issued", ack(), Status.ACKNOWLEDGED, id="issued-ack-addressee"),
        pytest.param(
            "issued", ack("omar.ho"), Status.ACKNOWLEDGED, id="issued-ack-other-addressee"
        ),
        pytest.param(
            "issued",
            ack("outsider"),
            "outsider is not an addressee of this recommendation",
            id="issued-ack-non-addressee",
        ),
        pytest.param(
            "acknowledged", ack(), "already acknowledged by lucas.ho", id="ack-twice-same-person"
        ),
        pytest.param(
            "acknowledged",
            ack("omar.ho"),
            "already acknowledged by lucas.ho",
            id="ack-twice-other-addressee",
        ),
        pytest.param(
            "acknowledged",
            ack("outsider"),
            "not an addressee",
            id="acknowledged-ack-non-addressee",
        ),
        # respond before acknowledging
        pytest.param("issued", ACCEPT, "acknowledge", id="issued-accepted"),
        pytest.param("issued", DECLINE, "acknowledge", id="issued-declined"),
        pytest.param("issued", FINISH, "acknowledge", id="issued-done"),
        pytest.param(
            "issued", answer(Response.DONE, person_id="outsider"), "not an addressee", id="issued-x"
        ),
        # respond after acknowledging
        pytest.param("acknowledged", ACCEPT, Status.ACCEPTED, id="acknowledged-accepted"),
        pytest.param("acknowledged", DECLINE, Status.DECLINED, id="acknowledged-declined"),
        pytest.param("acknowledged", FINISH, Status.DONE, id="acknowledged-done"),
        pytest.param(
            "acknowledged",
            answer(Response.ACCEPTED, person_id="omar.ho"),
            Status.ACCEPTED,
            id="acknowledged-accepted-by-the-other-addressee",
        ),
        pytest.param(
            "acknowledged",
            answer(Response.ACCEPTED, person_id="outsider"),
            "outsider is not an addressee",
            id="acknowledged-respond-non-addressee",
        ),
        pytest.param(
            "acknowledged",
            answer(Response.DECLINED),
            "a declined recommendation needs a reason",
            id="declined-without-reason",
        ),
        pytest.param(
            "acknowledged",
            answer(Response.DECLINED, ""),
            "needs a reason",
            id="declined-empty-reason",
        ),
        pytest.param(
            "acknowledged",
            answer(Response.DECLINED, "  \n"),
            "needs a reason",
            id="declined-blank-reason",
        ),
        # accepted: only done is left
        pytest.param("accepted", FINISH, Status.DONE, id="accepted-done"),
        pytest.param("accepted", DECLINE, "only answer left is done", id="accepted-declined"),
        pytest.param("accepted", ACCEPT, "already accepted", id="accepted-accepted"),
        pytest.param("accepted", ack(), "already accepted", id="accepted-ack"),
        # final states refuse everything
        *[
            pytest.param(final, command, f"already {final}", id=f"{final}-{name}")
            for final in ("declined", "done", "undeliverable")
            for name, command in (
                ("ack", ack()),
                ("accepted", ACCEPT),
                ("declined", DECLINE),
                ("done", FINISH),
            )
        ],
    ],
)
def test_transitions(before: str, command: Command, after: Status | str) -> None:
    state = STATES[before]
    decision = run(state, command)
    if isinstance(after, Status):
        assert decision.rejected is None
        assert decision.changed
        assert decision.state.status is after
    else:
        assert decision.rejected is not None
        assert after in decision.rejected
        assert not decision.changed
        assert decision.state == state


def test_acknowledging_records_who_and_when() -> None:
    decision = acknowledge(ISSUED, "omar.ho", NOW)
    assert decision.state == replace(
        ISSUED, status=Status.ACKNOWLEDGED, acknowledged_by="omar.ho", acknowledged_at=NOW
    )


@pytest.mark.parametrize(
    ("command", "reason"),
    [
        pytest.param(ACCEPT, None, id="accepted"),
        pytest.param(DECLINE, "no vehicles available", id="declined"),
        pytest.param(answer(Response.DONE, "patrol sent", "omar.ho"), "patrol sent", id="done"),
    ],
)
def test_responding_records_the_answer(command: Command, reason: str | None) -> None:
    assert command.response is not None
    decision = run(ACKNOWLEDGED, command)
    assert decision.state == replace(
        ACKNOWLEDGED,
        status=Status(command.response.value),
        response=command.response,
        reason=reason,
        responded_by=command.person_id,
        responded_at=NOW,
    )
    assert decision.state.acknowledged_by == "lucas.ho"  # the acknowledgement is kept


def test_done_after_accepted_keeps_the_acknowledgement() -> None:
    decision = respond(ACCEPTED, "omar.ho", Response.DONE, None, NOW)
    assert decision.state.status is Status.DONE
    assert decision.state.response is Response.DONE
    assert (decision.state.responded_by, decision.state.responded_at) == ("omar.ho", NOW)
    assert (decision.state.acknowledged_by, decision.state.acknowledged_at) == ("lucas.ho", ACK_AT)


# --- in time -------------------------------------------------------------------------------

MOMENTS = [
    pytest.param(DUE - timedelta(seconds=1), True, id="before-due"),
    pytest.param(DUE, True, id="at-due"),
    pytest.param(DUE + timedelta(seconds=1), False, id="after-due"),
]


@pytest.mark.parametrize(("now", "in_time"), MOMENTS)
def test_acknowledgement_in_time(now: datetime, in_time: bool) -> None:
    decision = acknowledge(ISSUED, "lucas.ho", now)
    assert decision.changed
    assert decision.in_time is in_time


@pytest.mark.parametrize(("now", "in_time"), MOMENTS)
@pytest.mark.parametrize("command", [ACCEPT, DECLINE, FINISH], ids=["accepted", "declined", "done"])
def test_answer_in_time(command: Command, now: datetime, in_time: bool) -> None:
    decision = run(ACKNOWLEDGED, command, now)
    assert decision.changed
    assert decision.in_time is in_time


def test_a_late_answer_after_escalation_is_allowed_and_late() -> None:
    escalated = on_due(ACKNOWLEDGED, DUE).state
    decision = respond(escalated, "lucas.ho", Response.DONE, None, DUE + timedelta(minutes=5))
    assert decision.changed
    assert not decision.in_time
    assert decision.state.status is Status.DONE
    assert decision.state.escalated_at == DUE


# --- due time ------------------------------------------------------------------------------


@pytest.mark.parametrize("before", ["issued", "acknowledged"])
def test_an_unanswered_recommendation_escalates_at_the_due_time(before: str) -> None:
    state = STATES[before]
    decision = on_due(state, DUE)
    assert decision.changed
    assert not decision.in_time
    assert decision.state == replace(state, escalated_at=DUE)


@pytest.mark.parametrize("before", ["accepted", "declined", "done", "undeliverable"])
def test_an_answered_or_final_recommendation_does_not_escalate(before: str) -> None:
    state = STATES[before]
    decision = on_due(state, DUE)
    assert decision.rejected == "answered or already escalated"
    assert decision.state == state


@pytest.mark.parametrize("before", ["issued", "acknowledged"])
def test_escalation_happens_once(before: str) -> None:
    once = on_due(STATES[before], DUE).state
    twice = on_due(once, DUE + timedelta(hours=1))
    assert not twice.changed
    assert twice.state.escalated_at == DUE


# --- properties over random command sequences ----------------------------------------------

PEOPLE = [*ADDRESSEES, "outsider"]
REASONS = [None, "", " ", "no vehicles"]

commands = st.lists(
    st.tuples(
        st.integers(0, 3600),  # seconds since the previous command
        st.one_of(
            st.none(),  # the due timer fires
            st.builds(Command, st.sampled_from(PEOPLE)),
            st.builds(
                Command,
                st.sampled_from(PEOPLE),
                st.sampled_from(list(Response)),
                st.sampled_from(REASONS),
            ),
        ),
    ),
    max_size=30,
)

ABSORBING = {Status.DECLINED, Status.DONE}
RESPONDED = {Status.ACCEPTED, Status.DECLINED, Status.DONE}


@settings(max_examples=500, deadline=None)
@given(commands)
def test_final_states_absorb_escalation_is_once_and_answers_follow_acknowledgements(
    steps: list[tuple[int, Command | None]],
) -> None:
    state = ISSUED
    now = T0
    escalations = 0
    for seconds, command in steps:
        now += timedelta(seconds=seconds)
        decision = on_due(state, now) if command is None else run(state, command, now)
        after = decision.state
        assert decision.changed is (decision.rejected is None)
        if not decision.changed:
            assert after == state
        if state.status in ABSORBING:
            assert not decision.changed
            assert after == state
        if state.escalated_at is not None:
            assert after.escalated_at == state.escalated_at
        elif after.escalated_at is not None:
            escalations += 1
        if after.status in RESPONDED:
            assert after.acknowledged_at is not None
            assert after.responded_at is not None
            assert after.acknowledged_at <= after.responded_at
            assert after.acknowledged_by in ADDRESSEES
            assert after.responded_by in ADDRESSEES
        if after.status is Status.DECLINED:
            assert (after.reason or "").strip()
        state = after
    assert escalations <= 1
