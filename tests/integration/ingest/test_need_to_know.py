"""Need-to-know twice over: the SQL filter of ``GET /v1/alerts`` and ``may_see_alert`` agree.

Random alerts (classification, sector, who raised them, whom the router paged
and put on the chain) are written as ingest writes them: the view the raise
inserts, then the router's ``alert.triggered`` / ``alert.state_changed``
through ``services.ingest.alerts.projections.apply_event``, which also fills
``ingest_alert_people``. For every person, walking the list page by page
(``services.ingest.alerts.queries.list_alerts``, what the route calls) yields exactly
the alerts ``shared.permissions.may_see_alert`` lets them see, and a cursor,
even one made from an alert they may not see, never lets another one through.

Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from services.ingest.alerts import queries
from services.ingest.alerts.projections import apply_event
from services.ingest.alerts.tables import AlertPersonRecord, AlertViewRecord, TimelineRecord
from shared.contracts import ALERT_TRIGGERED
from shared.contracts.alerts import AlertTriggeredV1
from shared.directory import Person
from shared.envelope import Classification, Envelope
from shared.permissions import AlertAudience, may_see_alert
from tests.support.builders import state_changed
from tests.support.database import Database
from tests.support.directories import example_directory

pytestmark = pytest.mark.integration

SECTORS = ("north", "south", "beni")
STATUSES = ("triggered", "acknowledged", "resolved")
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def _person(person_id: str, roles: list[str], sectors: list[str], clearance: str) -> Person:
    return Person.model_validate(
        {
            "id": person_id,
            "name": person_id,
            "component": "civilian",
            "roles": roles,
            "sectors": sectors,
            "clearance": clearance,
        }
    )


# Everyone of the example directory, and readers it lacks: a JOC of one sector, an uncleared
# JOC, an uncleared CLA, an uncleared auditor, someone holding two roles.
READERS: tuple[Person, ...] = (
    *example_directory().people,
    _person("joc.north", ["joc_operator"], ["north"], "confidential"),
    _person("joc.south", ["joc_operator"], ["south"], "unclassified"),
    _person("cla.south", ["community_liaison"], ["south"], "unclassified"),
    _person("audit.low", ["auditor"], ["*"], "unclassified"),
    _person("two.hats", ["police_focal_point", "joc_operator"], ["beni"], "strictly_confidential"),
)
PEOPLE = tuple(p.id for p in READERS)


@dataclass(frozen=True)
class Generated:
    """One alert as raised, and what the router said of it (if it said anything yet)."""

    alert_id: UUID
    classification: Classification
    sector: str
    raised_by: str
    raised_at: datetime
    origin: str  # community alerts concern their sector's CLAs too
    triggered: frozenset[str] | None  # alert.triggered: level 1's targets
    status: str | None  # alert.state_changed, when one came: its status,
    targets: frozenset[str]  # whom it paged so far,
    chain: frozenset[str]  # and everyone who may acknowledge

    @property
    def named(self) -> frozenset[str]:
        """The people the view names (targets and chain) once every event is applied."""
        if self.status is not None:
            return self.targets | self.chain
        return self.triggered or frozenset()

    @property
    def audience(self) -> AlertAudience:
        return AlertAudience(
            self.classification, self.sector, self.raised_by, self.named, self.origin
        )


people = st.sampled_from(PEOPLE)
groups = st.frozensets(people, max_size=4)


@st.composite
def generated_alerts(draw: st.DrawFn) -> Generated:
    routed = draw(st.sampled_from(["not yet", "triggered", "state", "triggered then state"]))
    targets, chain = draw(groups), draw(groups)
    triggered: frozenset[str] | None = None
    if routed == "triggered":
        triggered = draw(groups)
    elif routed == "triggered then state":
        # Level 1 is on the chain: the router's later states only ever name more people.
        paged = sorted(targets | chain)
        triggered = draw(st.frozensets(st.sampled_from(paged))) if paged else frozenset()
    return Generated(
        alert_id=draw(st.uuids(version=4)),
        classification=draw(st.sampled_from(Classification)),
        sector=draw(st.sampled_from(SECTORS)),
        raised_by=draw(people),
        raised_at=T0 + timedelta(minutes=draw(st.integers(0, 3))),  # ties, on purpose
        origin=draw(st.sampled_from(["community", "civilian"])),
        triggered=triggered,
        status=draw(st.sampled_from(STATUSES)) if "state" in routed else None,
        targets=targets,
        chain=chain,
    )


def the_view(alert: Generated) -> AlertViewRecord:
    """The view as ``POST /v1/alerts`` inserts it (``services.ingest.alerts.service``)."""
    return AlertViewRecord(
        alert_id=str(alert.alert_id),
        status="raised",
        title="Abduction reported near Mavivi",
        description="Two farmers taken",
        category="abduction",
        severity="severe",
        urgency="immediate",
        certainty="observed",
        sector=alert.sector,
        location={"name": "Mavivi"},
        origin=alert.origin,
        classification=alert.classification.value,
        raised_by=alert.raised_by,
        raised_at=alert.raised_at,
        policy_id=None,
        level=None,
        targets=[],
    )


def triggered_event(alert: Generated, targets: frozenset[str]) -> Envelope:
    payload = AlertTriggeredV1(
        alert_id=alert.alert_id, policy_id="poc-urgent", level=1, targets=sorted(targets)
    )
    return Envelope(
        type=ALERT_TRIGGERED,
        producer="router",
        actor="router",
        correlation_id=alert.alert_id,
        classification=alert.classification,
        payload=payload.model_dump(mode="json"),
    )


async def write(db: Database, alerts: list[Generated]) -> None:
    """Only these alerts in the read side, written as ingest and its projections write them."""
    async with db.sessions() as session, session.begin():
        for table in (AlertPersonRecord, TimelineRecord, AlertViewRecord):
            await session.execute(delete(table))
    for alert in alerts:
        async with db.sessions() as session, session.begin():
            session.add(the_view(alert))
        async with db.sessions() as session, session.begin():
            if alert.triggered is not None:
                await apply_event(session, triggered_event(alert, alert.triggered))
            if alert.status is not None:
                state = state_changed(
                    alert.alert_id,
                    status=alert.status,
                    targets=sorted(alert.targets),
                    chain=sorted(alert.chain),
                )
                await apply_event(session, state)


async def walk(
    db: Database,
    person: Person,
    where: queries.AlertFilter,
    limit: int,
    cursor: str | None = None,
) -> list[str]:
    """Every id ``GET /v1/alerts`` lists for ``person``, following ``next_cursor`` to the end."""
    ids: list[str] = []
    for _ in range(100):
        async with db.sessions() as session:
            page = await queries.list_alerts(session, person, where, limit, cursor)
        assert len(page.items) <= limit
        ids += [str(item.id) for item in page.items]
        if page.next_cursor is None:
            return ids
        cursor = page.next_cursor
    raise AssertionError("the list did not end")


def newest_first(alerts: list[Generated]) -> list[str]:
    """The order of the list: newest first, ties broken by id (descending)."""
    ordered = sorted(alerts, key=lambda a: (a.raised_at, str(a.alert_id)), reverse=True)
    return [str(a.alert_id) for a in ordered]


def matches(alert: Generated, where: queries.AlertFilter) -> bool:
    status = alert.status or "raised"
    return (where.status in {None, status}) and (where.sector in {None, alert.sector})


@settings(
    max_examples=40,
    deadline=None,
    # The database is the test's (one migration, not one per example): each example
    # starts by emptying the alert tables, so no example sees another's alerts.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    alerts=st.lists(generated_alerts(), max_size=8, unique_by=lambda a: a.alert_id),
    limit=st.integers(1, 3),
    status=st.sampled_from([None, "raised", *STATUSES]),
    sector=st.sampled_from([None, *SECTORS]),
    start=st.integers(0, 7),
)
async def test_the_list_shows_exactly_the_alerts_may_see_alert_allows(  # noqa: PLR0917 - strategies
    db: Database,
    alerts: list[Generated],
    limit: int,
    status: str | None,
    sector: str | None,
    start: int,
) -> None:
    await write(db, alerts)
    async with db.sessions() as session:
        views = {v.alert_id: v for v in (await session.scalars(select(AlertViewRecord))).all()}
    where = queries.AlertFilter(status=status, sector=sector)
    for person in READERS:
        visible = [a for a in alerts if may_see_alert(person, a.audience)]
        # The views were written as modelled: the detail route's check agrees with the model.
        for alert in alerts:
            view = views[str(alert.alert_id)]
            shown = may_see_alert(person, queries.audience_of(view))
            assert shown == may_see_alert(person, alert.audience), (person.id, alert)

        expected = newest_first([a for a in visible if matches(a, where)])
        assert await walk(db, person, queries.AlertFilter(), len(alerts) + 1) == newest_first(
            visible
        ), person.id
        assert await walk(db, person, where, limit) == expected, person.id

        # A cursor at any alert, one they may not see too: only what they see, after it.
        if alerts:
            at = sorted(alerts, key=lambda a: str(a.alert_id))[start % len(alerts)]
            cursor = queries.encode_cursor(views[str(at.alert_id)])
            position = (at.raised_at, str(at.alert_id))
            after = [
                str(a.alert_id)
                for a in alerts
                if (a.raised_at, str(a.alert_id)) < position and str(a.alert_id) in expected
            ]
            got = await walk(db, person, where, limit, cursor)
            assert got == [i for i in expected if i in after], (person.id, at)


async def test_an_alert_raised_and_routed_later_is_listed_to_its_chain(db: Database) -> None:
    """Rows of ``ingest_alert_people`` accumulate: a later state adds the newly paged."""
    alert = Generated(
        alert_id=UUID("2b4e28ba-2fa1-11d2-883f-0016d3cca427"),
        classification=Classification.CONFIDENTIAL,
        sector="beni",
        raised_by="amani.cla",
        raised_at=T0,
        origin="community",
        triggered=frozenset({"awa.hfo"}),
        status="triggered",
        targets=frozenset({"awa.hfo", "lucas.ho"}),
        chain=frozenset({"awa.hfo", "lucas.ho"}),
    )
    await write(db, [alert])
    async with db.sessions() as session:
        named = set((await session.scalars(select(AlertPersonRecord.person_id))).all())
    assert named == {"awa.hfo", "lucas.ho"}
    by_id = {p.id: p for p in READERS}
    for person_id, listed in [
        ("awa.hfo", True),
        ("lucas.ho", True),
        ("amani.cla", True),  # raised it
        ("jo.operator", True),  # the JOC, mission-wide
        ("joc.north", False),  # a JOC of another sector
        ("grace.dsrsg", False),  # not on this chain
        ("audit.low", True),  # auditors see every alert, cleared or not
        ("cla.south", False),  # a CLA of another sector (and not cleared)
    ]:
        ids = await walk(db, by_id[person_id], queries.AlertFilter(), 10)
        assert ids == ([str(alert.alert_id)] if listed else []), person_id


async def test_a_community_alert_is_listed_to_its_sectors_cla_and_no_other(db: Database) -> None:
    """Raised by a focal point's SMS: the sector's CLA relays it, though it named nobody."""
    community = Generated(
        alert_id=UUID("3c4e28ba-2fa1-11d2-883f-0016d3cca427"),
        classification=Classification.CONFIDENTIAL,
        sector="beni",
        raised_by="community-sms",
        raised_at=T0,
        origin="community",
        triggered=None,
        status="triggered",
        targets=frozenset({"awa.hfo"}),
        chain=frozenset({"awa.hfo"}),
    )
    civilian = replace(
        community, alert_id=UUID("4d4e28ba-2fa1-11d2-883f-0016d3cca427"), origin="civilian"
    )
    await write(db, [community, civilian])
    by_id = {p.id: p for p in READERS}
    cla = by_id["amani.cla"]  # community_liaison of beni, cleared confidential
    assert await walk(db, cla, queries.AlertFilter(), 10) == [str(community.alert_id)]
    assert may_see_alert(cla, community.audience)
    assert not may_see_alert(cla, civilian.audience)
    assert await walk(db, by_id["cla.south"], queries.AlertFilter(), 10) == []


async def test_someone_without_read_is_listed_nothing(db: Database) -> None:
    admin = _person("dir.admin", ["directory_admin"], ["*"], "strictly_confidential")
    alert = Generated(
        alert_id=UUID("7d444840-9dc0-11d1-b245-5ffdce74fad2"),
        classification=Classification.UNCLASSIFIED,
        sector="beni",
        raised_by="amani.cla",
        raised_at=T0,
        origin="community",
        triggered=None,
        status="triggered",
        targets=frozenset({"dir.admin"}),
        chain=frozenset({"dir.admin"}),
    )
    await write(db, [alert])
    assert not may_see_alert(admin, alert.audience)
    assert await walk(db, admin, queries.AlertFilter(), 10) == []
