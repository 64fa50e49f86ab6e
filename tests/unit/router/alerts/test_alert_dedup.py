"""The dedup rule (issue 13, item 1): a dedup key merges only within its scope, for a raiser
who may see the open alert, and a merge never lowers what is paged.

Pure rules: ``may_merge`` and ``DedupScope`` (services/router/alerts/service.py), ``combine`` and
``widen`` (services/router/alerts/escalation.py), ``more_serious`` (shared/contracts/alerts.py).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from services.router.alerts.dedup import DedupScope, may_merge, plan_upgrade
from services.router.alerts.escalation import (
    ACKNOWLEDGED,
    TRIGGERED,
    Acknowledgement,
    EscalationState,
    LevelSnapshot,
    PolicySnapshot,
    TimerKind,
    combine,
    widen,
)
from services.router.alerts.service import raised_alert
from services.router.alerts.store import snapshot_to_json
from services.router.alerts.tables import AlertRecord
from shared.addressing import cleared_for
from shared.contracts.alerts import (
    SEVERITY_ORDER,
    URGENCY_ORDER,
    Category,
    Severity,
    Urgency,
    more_serious,
)
from shared.directory import Person
from shared.envelope import Classification
from shared.permissions import PERMISSIONS, AlertAudience, may_see_alert
from tests.support.builders import raised_envelope

NOW = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
KEYS = ["mavivi-road", "oicha-market"]
SECTORS = ["north", "south", "beni"]
CATEGORIES = [c.value for c in Category]
CLASSIFICATIONS = list(Classification)
PEOPLE = ["noor.hfo", "amani.cla", "awa.hfo", "jo.operator", "grace.dsrsg"]

scopes = st.builds(
    DedupScope,
    dedup_key=st.sampled_from(KEYS),
    sector=st.sampled_from(SECTORS),
    category=st.sampled_from(CATEGORIES),
    classification=st.sampled_from([c.value for c in CLASSIFICATIONS]),
)
people = st.builds(
    Person,
    id=st.sampled_from(PEOPLE),
    name=st.just("someone"),
    component=st.sampled_from(["civilian", "military", "police"]),
    roles=st.lists(st.sampled_from(sorted(PERMISSIONS)), max_size=3, unique=True),
    sectors=st.lists(st.sampled_from([*SECTORS, "*"]), max_size=3, unique=True),
    clearance=st.sampled_from(CLASSIFICATIONS),
)


@st.composite
def open_alerts(draw: st.DrawFn) -> tuple[DedupScope, AlertAudience]:
    """An open alert's scope and audience (its sector and classification are its scope's)."""
    scope = draw(scopes)
    seen = AlertAudience(
        classification=Classification(scope.classification),
        sector=scope.sector,
        raised_by=draw(st.sampled_from(PEOPLE)),
        chain=frozenset(draw(st.lists(st.sampled_from(PEOPLE), max_size=3))),
    )
    return scope, seen


# --------------------------------------------------------------------------- may_merge


FIELDS = {
    "dedup_key": st.sampled_from(KEYS),
    "sector": st.sampled_from(SECTORS),
    "category": st.sampled_from(CATEGORIES),
    "classification": st.sampled_from([c.value for c in CLASSIFICATIONS]),
}


@given(people, open_alerts(), st.data())
def test_no_merge_crosses_a_scope_or_a_clearance(
    raiser: Person, open_alert: tuple[DedupScope, AlertAudience], data: st.DataObject
) -> None:
    into, seen = open_alert
    # A near miss: the open alert's scope with some of its fields drawn again (often none,
    # so that merges happen and the property is not vacuously true).
    changed = data.draw(st.lists(st.sampled_from(sorted(FIELDS)), max_size=2, unique=True))
    duplicate = replace(into, **{name: data.draw(FIELDS[name]) for name in changed})
    if may_merge(raiser, duplicate, into, seen):
        assert duplicate == into
        assert cleared_for(raiser, seen.classification)
        assert may_see_alert(raiser, seen)
    elif duplicate == into and cleared_for(raiser, seen.classification):
        assert not may_see_alert(raiser, seen)


@given(people, open_alerts())
def test_within_its_scope_a_duplicate_merges_iff_its_raiser_may_see_the_open_alert(
    raiser: Person, open_alert: tuple[DedupScope, AlertAudience]
) -> None:
    into, seen = open_alert
    expected = cleared_for(raiser, seen.classification) and may_see_alert(raiser, seen)
    assert may_merge(raiser, into, into, seen) is expected


@given(scopes, open_alerts())
def test_a_raiser_unknown_to_the_directory_never_merges(
    duplicate: DedupScope, open_alert: tuple[DedupScope, AlertAudience]
) -> None:
    assert not may_merge(None, duplicate, *open_alert)


def test_the_probe_north_alert_and_beni_abduction_are_different_scopes() -> None:
    noor = raised_alert(
        raised_envelope(
            raised_by="noor.hfo",
            sector="north",
            category="looting",
            severity="minor",
            classification="strictly_confidential",
            dedup_key="mavivi-road",
        )
    )
    amani = raised_alert(
        raised_envelope(raised_by="amani.cla", severity="extreme", dedup_key="mavivi-road")
    )
    assert DedupScope.of_raised(noor) != DedupScope.of_raised(amani)
    assert DedupScope.of_raised(raised_alert(raised_envelope())) is None


# --------------------------------------------------------------------------- severity order


@given(st.sampled_from(list(Severity)), st.sampled_from(list(Severity)))
def test_more_serious_severity_is_one_of_both_and_below_neither(a: Severity, b: Severity) -> None:
    chosen = more_serious(SEVERITY_ORDER, a.value, b.value)
    assert chosen in {a.value, b.value}
    assert chosen == more_serious(SEVERITY_ORDER, b.value, a.value)
    rank = [s.value for s in SEVERITY_ORDER].index
    assert rank(chosen) <= min(rank(a.value), rank(b.value))


def test_severity_and_urgency_orders() -> None:
    assert more_serious(SEVERITY_ORDER, "minor", "extreme") == "extreme"
    assert more_serious(SEVERITY_ORDER, "unknown", "minor") == "minor"
    assert more_serious(URGENCY_ORDER, "expected", "immediate") == "immediate"
    assert more_serious(URGENCY_ORDER, "past", "future") == "future"


# --------------------------------------------------------------------------- combine / widen

PERSONS = ["awa.hfo", "lucas.ho", "grace.dsrsg", "col.okafor", "insp.diallo"]
levels = st.builds(
    lambda targets, delay, quorum: LevelSnapshot(
        targets=tuple(targets),
        components=dict.fromkeys(targets, "civilian"),
        delay_seconds=delay,
        quorum=quorum,
    ),
    st.lists(st.sampled_from(PERSONS), max_size=3, unique=True),
    st.sampled_from([60.0, 300.0, 600.0, 1800.0]),
    st.booleans(),
)
snapshots = st.builds(
    PolicySnapshot,
    policy_id=st.sampled_from(["poc-urgent", "poc-default", "poc-extreme"]),
    policy_ids=st.lists(
        st.sampled_from(["poc-urgent", "poc-default", "poc-extreme"]), min_size=1, unique=True
    ).map(tuple),
    levels=st.lists(levels, min_size=1, max_size=4).map(tuple),
    repeat=st.integers(0, 2),
    ack_timeout_seconds=st.sampled_from([None, 600.0, 3600.0]),
)


@given(snapshots, snapshots)
def test_combined_policy_is_never_less_insistent_than_either(
    first: PolicySnapshot, second: PolicySnapshot
) -> None:
    both = combine(first, second)
    assert len(both.levels) == max(len(first.levels), len(second.levels))
    for snapshot in (first, second):
        for number, level in enumerate(snapshot.levels):
            merged = both.levels[number]
            assert set(level.targets) <= set(merged.targets)
            assert merged.delay_seconds <= level.delay_seconds
            assert merged.quorum >= level.quorum
        assert both.repeat >= snapshot.repeat
        if snapshot.ack_timeout_seconds is not None:
            assert both.ack_timeout_seconds is not None
            assert both.ack_timeout_seconds <= snapshot.ack_timeout_seconds
    assert set(first.chain) | set(second.chain) == set(both.chain)
    assert combine(both, second) == both  # idempotent: a third duplicate adds nothing


states = st.builds(
    EscalationState,
    status=st.sampled_from([TRIGGERED, ACKNOWLEDGED]),
    loop=st.integers(0, 1),
    level=st.integers(1, 4),
    exhausted=st.booleans(),
    paged=st.lists(st.sampled_from(PERSONS), max_size=3, unique=True).map(tuple),
    timer=st.sampled_from([None, TimerKind.ESCALATE, TimerKind.ACK_TIMEOUT]),
    timer_due_at=st.sampled_from([None, NOW + timedelta(minutes=2), NOW + timedelta(hours=2)]),
)


@given(states, snapshots)
def test_widening_pages_only_the_added_and_never_puts_a_timer_back(
    state: EscalationState, snapshot: PolicySnapshot
) -> None:
    state = EscalationState(**{**state.__dict__, "level": min(state.level, len(snapshot.levels))})
    widened = widen(state, snapshot, NOW)
    paged_now = [p for page in widened.pages for p in page.people]
    assert len(paged_now) == len(set(paged_now))
    assert not set(paged_now) & set(state.paged)
    assert widened.state.paged == (*state.paged, *paged_now)
    reached = snapshot.levels if state.loop or state.exhausted else snapshot.levels[: state.level]
    assert set(widened.state.paged) >= {p for level in reached for p in level.targets}
    for field in ("status", "level", "loop", "cycle", "exhausted", "acknowledgements"):
        assert getattr(widened.state, field) == getattr(state, field)
    if state.timer is widened.state.timer and state.timer_due_at is not None:
        assert widened.state.timer_due_at is not None
        assert widened.state.timer_due_at <= state.timer_due_at


def _level(*targets: str, delay: float) -> LevelSnapshot:
    return LevelSnapshot(targets, dict.fromkeys(targets, "civilian"), delay)


DEFAULT = PolicySnapshot(
    "poc-default",
    ("poc-default",),
    (_level("awa.hfo", delay=1800), _level("lucas.ho", delay=3600)),
)
EXTREME = PolicySnapshot(
    "poc-extreme",
    ("poc-extreme",),
    (_level("awa.hfo", "grace.dsrsg", delay=300), _level("lucas.ho", delay=900)),
    ack_timeout_seconds=3600,
)


def test_widening_a_triggered_alert_pages_the_added_level_one_and_escalates_sooner() -> None:
    due = NOW + timedelta(minutes=25)
    state = EscalationState(paged=("awa.hfo",), timer=TimerKind.ESCALATE, timer_due_at=due)
    widened = widen(state, combine(DEFAULT, EXTREME), NOW)
    assert [(p.people, p.kind, p.level) for p in widened.pages] == [(("grace.dsrsg",), "page", 1)]
    assert widened.state.paged == ("awa.hfo", "grace.dsrsg")
    assert (widened.state.timer, widened.state.timer_due_at) == (
        TimerKind.ESCALATE,
        NOW + timedelta(minutes=5),
    )


def test_widening_an_acknowledged_alert_pages_the_added_and_starts_the_ack_timeout() -> None:
    ack = Acknowledgement("awa.hfo", "civilian", NOW - timedelta(minutes=1))
    state = EscalationState(status=ACKNOWLEDGED, paged=("awa.hfo",), acknowledgements=(ack,))
    widened = widen(state, combine(DEFAULT, EXTREME), NOW)
    assert [p.people for p in widened.pages] == [("grace.dsrsg",)]
    assert widened.state.status == ACKNOWLEDGED
    assert (widened.state.timer, widened.state.timer_due_at) == (
        TimerKind.ACK_TIMEOUT,
        NOW + timedelta(hours=1),
    )


def test_an_unrouted_alert_starts_escalating_under_the_duplicates_policy() -> None:
    widened = widen(EscalationState(), EXTREME, NOW)
    assert [p.people for p in widened.pages] == [("awa.hfo", "grace.dsrsg")]
    assert widened.state.timer_due_at == NOW + timedelta(minutes=5)


# --------------------------------------------------------------------------- plan_upgrade


def _open_alert(severity: str, urgency: str, snapshot: PolicySnapshot | None) -> AlertRecord:
    return AlertRecord(
        alert_id="00000000-0000-0000-0000-000000000001",
        status=TRIGGERED,
        level=1,
        targets=["awa.hfo"],
        sector="beni",
        category="abduction",
        severity=severity,
        summary={"severity": severity, "urgency": urgency, "classification": "confidential"},
        snapshot=snapshot_to_json(snapshot) if snapshot else {},
        cycle=1,
        loop=0,
        exhausted=False,
        acknowledgements=[],
        timer_kind="escalate",
        timer_due_at=NOW + timedelta(minutes=25),
    )


def test_a_duplicate_that_raises_nothing_is_a_plain_merge() -> None:
    duplicate = raised_alert(raised_envelope(severity="moderate", urgency="expected"))
    assert (
        plan_upgrade(_open_alert("severe", "immediate", DEFAULT), duplicate, DEFAULT, NOW) is None
    )


def test_a_more_serious_duplicate_raises_severity_urgency_and_policy() -> None:
    duplicate = raised_alert(raised_envelope(severity=Severity.EXTREME, urgency=Urgency.IMMEDIATE))
    upgrade = plan_upgrade(_open_alert("moderate", "expected", DEFAULT), duplicate, EXTREME, NOW)
    assert upgrade is not None
    assert (upgrade.severity, upgrade.urgency) == ("extreme", "immediate")
    assert upgrade.snapshot == combine(DEFAULT, EXTREME)
    assert [p.people for p in upgrade.transition.pages] == [("grace.dsrsg",)]


def test_a_more_serious_duplicate_routed_the_same_raises_only_the_label() -> None:
    duplicate = raised_alert(raised_envelope(severity="extreme", urgency="expected"))
    upgrade = plan_upgrade(_open_alert("severe", "expected", DEFAULT), duplicate, DEFAULT, NOW)
    assert upgrade is not None
    assert (upgrade.severity, upgrade.urgency, upgrade.snapshot) == ("extreme", "expected", DEFAULT)
    assert upgrade.transition.pages == ()
