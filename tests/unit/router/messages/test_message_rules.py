"""Per-addressee rules of a coordination message: reads, acknowledgements, escalation timing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.router.messages.rules import acknowledge, awaiting_ack, mark_read, next_due
from shared.contracts.messages import AddresseeState

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
NOW = T0 + timedelta(minutes=10)
WINDOW = timedelta(minutes=30)


def addressee(person_id: str, **fields: Any) -> AddresseeState:
    return AddresseeState(person_id=person_id, delivered=fields.pop("delivered", True), **fields)


UNREAD = addressee("awa.hfo")
READ = addressee("lucas.ho", read_at=T0)
ACKED = addressee("grace.dsrsg", read_at=T0, acknowledged_at=T0)
UNDELIVERED = addressee(
    "amani.cla",
    delivered=False,
    reason="amani.cla is cleared for unclassified only; the message is confidential",
)
ESCALATED = addressee("col.okafor", escalation_level=1, escalated_to=["gen.fc"])
ENDED = addressee("insp.diallo", escalation_level=1, escalated_to=["x"], escalation_ended=True)
EVERYONE = [UNREAD, READ, ACKED, UNDELIVERED, ESCALATED, ENDED]


def by_id(addressees: list[AddresseeState]) -> dict[str, AddresseeState]:
    return {a.person_id: a for a in addressees}


# --- reads ---------------------------------------------------------------------------------


def test_the_first_read_is_recorded_and_nobody_else_changes() -> None:
    before = [a.model_copy() for a in EVERYONE]
    after = mark_read(EVERYONE, "awa.hfo", NOW)
    assert after is not None
    assert [a.person_id for a in after] == [a.person_id for a in EVERYONE]
    assert after[0] == UNREAD.model_copy(update={"read_at": NOW})
    assert after[1:] == EVERYONE[1:]
    assert before == EVERYONE  # the input is not changed


@pytest.mark.parametrize(
    "person_id",
    [
        pytest.param("lucas.ho", id="already-read"),
        pytest.param("grace.dsrsg", id="already-acknowledged"),
        pytest.param("amani.cla", id="not-delivered"),
        pytest.param("nobody", id="not-an-addressee"),
    ],
)
def test_mark_read_changes_nothing(person_id: str) -> None:
    assert mark_read(EVERYONE, person_id, NOW) is None


def test_a_second_read_keeps_the_first_time() -> None:
    first = mark_read([UNREAD], "awa.hfo", T0)
    assert first is not None
    assert mark_read(first, "awa.hfo", NOW) is None
    assert first[0].read_at == T0


# --- acknowledgements ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("person_id", "read_at"),
    [
        pytest.param("awa.hfo", NOW, id="unread-counts-as-read"),
        pytest.param("lucas.ho", T0, id="read-keeps-the-first-read"),
        pytest.param("col.okafor", NOW, id="escalated-may-still-acknowledge"),
    ],
)
def test_acknowledge(person_id: str, read_at: datetime) -> None:
    after, refused = acknowledge(EVERYONE, person_id, requires_ack=True, now=NOW)
    assert refused is None
    assert after is not None
    changed = by_id(after)[person_id]
    assert changed == by_id(EVERYONE)[person_id].model_copy(
        update={"acknowledged_at": NOW, "read_at": read_at}
    )
    assert [a for a in after if a.person_id != person_id] == [
        a for a in EVERYONE if a.person_id != person_id
    ]
    assert [a.person_id for a in after] == [a.person_id for a in EVERYONE]


@pytest.mark.parametrize(
    ("person_id", "requires_ack", "refusal"),
    [
        pytest.param(
            "amani.cla",
            True,
            "amani.cla is not a delivered addressee of this message",
            id="not-delivered",
        ),
        pytest.param(
            "nobody", True, "nobody is not a delivered addressee of this message", id="unknown"
        ),
        pytest.param(
            "awa.hfo",
            False,
            "this message does not ask for an acknowledgement",
            id="no-ack-required",
        ),
        pytest.param("grace.dsrsg", True, "grace.dsrsg already acknowledged", id="twice"),
    ],
)
def test_acknowledge_refused(person_id: str, requires_ack: bool, refusal: str) -> None:
    before = [a.model_copy() for a in EVERYONE]
    assert acknowledge(EVERYONE, person_id, requires_ack, NOW) == (None, refusal)
    assert before == EVERYONE


def test_acknowledging_twice_is_refused_after_a_first_acknowledgement() -> None:
    first, _ = acknowledge([UNREAD], "awa.hfo", requires_ack=True, now=T0)
    assert first is not None
    again, refused = acknowledge(first, "awa.hfo", requires_ack=True, now=NOW)
    assert again is None
    assert refused == "awa.hfo already acknowledged"


# --- who is awaited, and when the next step is due ----------------------------------------


@pytest.mark.parametrize(
    ("addressees", "awaited"),
    [
        pytest.param(EVERYONE, ["awa.hfo", "lucas.ho", "col.okafor"], id="mixed"),
        pytest.param([ACKED], [], id="acknowledged"),
        pytest.param([UNDELIVERED], [], id="undelivered"),
        pytest.param([ENDED], [], id="escalation-ended"),
        pytest.param([ESCALATED], ["col.okafor"], id="escalated-not-ended"),
        pytest.param([], [], id="nobody"),
    ],
)
def test_awaiting_ack(addressees: list[AddresseeState], awaited: list[str]) -> None:
    assert [a.person_id for a in awaiting_ack(addressees)] == awaited


@pytest.mark.parametrize(
    ("addressees", "expected"),
    [
        pytest.param(EVERYONE, T0 + WINDOW, id="someone-awaited"),
        pytest.param([ACKED, ESCALATED], T0 + WINDOW, id="an-escalated-one-awaited"),
        pytest.param([ACKED, UNDELIVERED, ENDED], None, id="nobody-awaited"),
        pytest.param([], None, id="no-addressee"),
    ],
)
def test_next_due(addressees: list[AddresseeState], expected: datetime | None) -> None:
    assert next_due(addressees, T0, WINDOW) == expected


def test_next_due_is_none_once_the_last_one_acknowledges() -> None:
    after, _ = acknowledge([UNREAD, ACKED], "awa.hfo", requires_ack=True, now=NOW)
    assert after is not None
    assert next_due([UNREAD, ACKED], T0, WINDOW) == T0 + WINDOW
    assert next_due(after, T0, WINDOW) is None


# --- properties over random reads and acknowledgements -------------------------------------

PEOPLE = ["a", "b", "c", "ghost"]

addressee_lists = st.lists(
    st.builds(
        AddresseeState,
        person_id=st.sampled_from(PEOPLE[:-1]),
        delivered=st.booleans(),
        escalation_ended=st.booleans(),
    ),
    unique_by=lambda a: a.person_id,
    max_size=3,
)
commands = st.lists(
    st.tuples(st.sampled_from(["read", "ack"]), st.sampled_from(PEOPLE), st.integers(0, 3600)),
    max_size=20,
)


@settings(max_examples=300, deadline=None)
@given(addressee_lists, commands, st.booleans())
def test_reads_and_acknowledgements_are_recorded_once_and_in_order(
    start: list[AddresseeState], steps: list[tuple[str, str, int]], requires_ack: bool
) -> None:
    state = start
    now = T0
    for command, person_id, seconds in steps:
        now += timedelta(seconds=seconds)
        if command == "read":
            after = mark_read(state, person_id, now)
        else:
            after, refused = acknowledge(state, person_id, requires_ack, now)
            assert (after is None) != (refused is None)
        if after is None:
            continue
        assert [a.person_id for a in after] == [a.person_id for a in state]
        for old, new in zip(state, after, strict=True):
            if old.person_id != person_id:
                assert new == old
                continue
            assert old.delivered  # only a delivered addressee ever changes
            assert new.delivered
            if old.read_at is not None:
                assert new.read_at == old.read_at  # the first read stays
            if old.acknowledged_at is not None:
                assert new.acknowledged_at == old.acknowledged_at
            if new.acknowledged_at is not None:
                assert new.read_at is not None
                assert new.read_at <= new.acknowledged_at
        state = after
    if not requires_ack:
        assert all(a.acknowledged_at is None for a in state)
    awaited = {a.person_id for a in awaiting_ack(state)}
    assert (next_due(state, T0, WINDOW) is None) == (not awaited)
