"""Every ``/v1`` endpoint x every role: allowed ones succeed, the rest get 403/404.

The world: a CONFIDENTIAL alert in beni raised by amani.cla and routed to
awa.hfo and lucas.ho; a message from jo.operator delivered to awa.hfo asking for
an acknowledgement; two recommendations from grace.dsrsg issued to col.okafor
(one still to acknowledge, one acknowledged and waiting for an answer). Each
person of the example directory (one per role) then calls every endpoint.

``EXPECTED`` is the specification, written out cell by cell from
``shared.permissions`` (``PERMISSIONS`` and need-to-know), not copied from what
the code answers; ``test_the_expected_matrix_follows_the_permissions_table``
keeps its 403-by-role cells exactly where ``PERMISSIONS`` refuses the action.
Cells:

- ``ok``    2xx.
- ``role``  403: none of the person's roles grants the endpoint's action.
- ``deny``  403: the role allows it and the person sees the object, but the
            domain rule refuses (acknowledging an alert they are not on the
            chain of, answering a recommendation they only wrote).
- ``404``   need-to-know: the object does not concern them; never a 403,
            never a hint that it exists.
- ``409``   allowed and concerned: the permission and need-to-know checks
            passed, and the object's state refuses (the sender of a message
            cannot mark it read or acknowledge it).

Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI
from fastapi import routing as fastapi_routing

from services.ingest.message_projections import apply_message_event
from services.ingest.message_tables import MessageViewRecord
from services.ingest.projections import apply_event
from services.ingest.recommendation_projections import apply_recommendation_event
from services.ingest.recommendation_tables import (
    RecommendationTimelineRecord,
    RecommendationViewRecord,
)
from services.ingest.service import IngestService
from services.ingest.stream import StreamHub, Subscriber
from services.ingest.tables import OUTBOX, AlertViewRecord, IdempotencyKeyRecord, TimelineRecord
from shared.auth import mint_token
from shared.contracts import MESSAGE_STATE_CHANGED
from shared.contracts.messages import AddresseeState, MessageStateV1
from shared.directory import Person
from shared.envelope import Envelope, utc_now
from shared.permissions import Action, allowed
from shared.settings import Settings
from tests.integration.conftest import Database
from tests.integration.ingest_client import ingest_client
from tests.unit.helpers import (
    EXAMPLE_DIRECTORY,
    alert_request,
    example_directory,
    recommendation_state_changed,
    state_changed,
)

pytestmark = pytest.mark.integration

JWT_SECRET = "permission-matrix-jwt-secret-" + "0123456789abcdef" * 3

# The columns: one person per role of the example directory.
PEOPLE: Mapping[str, str] = {
    "jo": "jo.operator",  # joc_operator, mission-wide, confidential
    "amani": "amani.cla",  # community_liaison, beni, confidential
    "awa": "awa.hfo",  # head_of_field_office, beni, strictly confidential
    "lucas": "lucas.ho",  # head_of_office, north + beni, strictly confidential
    "grace": "grace.dsrsg",  # dsrsg, mission-wide, strictly confidential
    "okafor": "col.okafor",  # sector_commander, beni, confidential
    "diallo": "insp.diallo",  # police_focal_point, beni, confidential
    "audit": "audit.one",  # auditor, mission-wide, confidential
}


class Outcome(StrEnum):
    """What one person gets from one endpoint (see the module docstring)."""

    OK = "ok"
    ROLE = "role"
    DENY = "deny"
    HIDDEN = "404"
    CONFLICT = "409"

    def matches(self, status: int) -> bool:
        """Whether an HTTP status is this outcome."""
        if self is Outcome.OK:
            return 200 <= status < 300
        return status == _STATUS[self]


_STATUS = {Outcome.ROLE: 403, Outcome.DENY: 403, Outcome.HIDDEN: 404, Outcome.CONFLICT: 409}


def _in(minutes: int) -> str:
    return (utc_now() + timedelta(minutes=minutes)).isoformat()


def _message_body() -> dict[str, Any]:
    # Two addressees, so that whoever sends it there is someone else to deliver to.
    return {
        "to": {"persons": ["awa.hfo", "col.okafor"]},
        "subject": "Patrol to Mavivi at 14:00",
        "body": "Joint patrol leaves Beni base at 14:00.",
        "classification": "confidential",
        "requires_ack": True,
        "ack_due_at": _in(30),
    }


def _recommendation_body() -> dict[str, Any]:
    return {
        "addressee": {"person": "col.okafor"},
        "sector": "beni",
        "action": "Deploy a patrol to Mavivi before nightfall",
        "rationale": "Two abductions on the Mavivi road in 48 hours",
        "due_by": _in(120),
        "classification": "confidential",
    }


@dataclass(frozen=True)
class Endpoint:
    """One route: its method and path template (as FastAPI has them), and what it requires."""

    method: str
    path: str
    action: Action  # the column of PERMISSIONS the route checks first
    body: Callable[[], Any] | None = None
    # Path parameter -> the world's object to use, when not the one named like the parameter.
    objects: Mapping[str, str] = field(default_factory=dict)

    @property
    def route(self) -> tuple[str, str]:
        return self.method, self.path

    def url(self, world: Mapping[str, str]) -> str:
        names = {name: world[self.objects.get(name, name)] for name in _parameters(self.path)}
        return self.path.format(**names)


def _parameters(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


A = Action
ENDPOINTS: Mapping[str, Endpoint] = {
    "alert.raise": Endpoint("POST", "/v1/alerts", A.RAISE_ALERT, alert_request),
    "alert.list": Endpoint("GET", "/v1/alerts", A.READ),
    "alert.get": Endpoint("GET", "/v1/alerts/{alert_id}", A.READ),
    "alert.acknowledge": Endpoint("POST", "/v1/alerts/{alert_id}/acknowledge", A.ACKNOWLEDGE),
    "alert.resolve": Endpoint(
        "POST", "/v1/alerts/{alert_id}/resolve", A.RESOLVE, lambda: {"note": "Patrol back"}
    ),
    "alert.note": Endpoint(
        "POST", "/v1/alerts/{alert_id}/notes", A.POST_MESSAGE, lambda: {"text": "Patrol sent"}
    ),
    "stream": Endpoint("GET", "/v1/stream", A.READ),
    "message.send": Endpoint("POST", "/v1/messages", A.POST_MESSAGE, _message_body),
    "message.list": Endpoint("GET", "/v1/messages", A.READ),
    "message.get": Endpoint("GET", "/v1/messages/{message_id}", A.READ),
    "message.read": Endpoint("POST", "/v1/messages/{message_id}/read", A.READ),
    "message.acknowledge": Endpoint("POST", "/v1/messages/{message_id}/acknowledge", A.ACKNOWLEDGE),
    "thread.get": Endpoint("GET", "/v1/threads/{thread_id}", A.READ),
    "recommendation.submit": Endpoint(
        "POST", "/v1/recommendations", A.RECOMMEND, _recommendation_body
    ),
    "recommendation.list": Endpoint("GET", "/v1/recommendations", A.READ),
    "recommendation.get": Endpoint("GET", "/v1/recommendations/{recommendation_id}", A.READ),
    "recommendation.acknowledge": Endpoint(
        "POST", "/v1/recommendations/{recommendation_id}/acknowledge", A.ACKNOWLEDGE
    ),
    "recommendation.respond": Endpoint(
        "POST",
        "/v1/recommendations/{recommendation_id}/respond",
        A.RESPOND,
        lambda: {"response": "accepted"},
        objects={"recommendation_id": "acknowledged_recommendation_id"},
    ),
    "report": Endpoint("GET", "/v1/reports/recommendations", A.REPORT),
    "audit.events": Endpoint("GET", "/v1/audit/events", A.AUDIT),
}

# The specification. Why each non-obvious cell is what it is:
# - alert.*: it concerns amani (raised it), awa and lucas (its chain) and jo (the JOC runs
#   every sector's board); the auditor sees every alert. grace, okafor and diallo are not
#   on this alert's chain: 404, though their roles would allow the action.
# - alert.acknowledge: only the chain acknowledges; jo and amani see it but are refused.
# - alert.note: the chain or the sector's JOC; amani raised it but is neither.
# - message.*: it concerns its sender (jo) and awa (delivered); the auditor sees every
#   message but it is not addressed to them, so /read (their role allows reading) is 404
#   like for any other outsider; the sender's own /read and /acknowledge are 409.
# - recommendation.*: it concerns grace (author) and okafor (issued to); the auditor sees
#   it. Only an addressee answers: grace is refused.
EXPECTED_TABLE = """
endpoint                    jo    amani awa   lucas grace okafor diallo audit
alert.raise                 ok    ok    ok    ok    ok    ok     ok     role
alert.list                  ok    ok    ok    ok    ok    ok     ok     ok
alert.get                   ok    ok    ok    ok    404   404    404    ok
alert.acknowledge           deny  deny  ok    ok    404   404    404    role
alert.resolve               ok    role  ok    ok    404   404    404    role
alert.note                  ok    deny  ok    ok    404   404    404    role
stream                      ok    ok    ok    ok    ok    ok     ok     ok
message.send                ok    ok    ok    ok    ok    ok     ok     role
message.list                ok    ok    ok    ok    ok    ok     ok     ok
message.get                 ok    404   ok    404   404   404    404    ok
message.read                409   404   ok    404   404   404    404    404
message.acknowledge         409   404   ok    404   404   404    404    role
thread.get                  ok    404   ok    404   404   404    404    ok
recommendation.submit       ok    role  ok    ok    ok    role   role   role
recommendation.list         ok    ok    ok    ok    ok    ok     ok     ok
recommendation.get          404   404   404   404   ok    ok     404    ok
recommendation.acknowledge  404   404   404   404   deny  ok     404    role
recommendation.respond      role  role  404   404   deny  ok     404    role
report                      role  role  ok    ok    ok    role   role   ok
audit.events                role  role  role  role  role  role   role   ok
"""

# KNOWN GAPS: cells where the app contradicts the rule, (endpoint, column) -> what it answers
# today, and why that is wrong. Kept strict: once fixed, the test fails until the entry goes.
KNOWN_GAPS: Mapping[tuple[str, str], tuple[Outcome, str]] = {}

# Served to anyone, outside the permissions table.
PUBLIC_ROUTES = frozenset(
    {
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/metrics"),
        ("GET", "/openapi.json"),
        ("GET", "/docs"),
        ("GET", "/docs/oauth2-redirect"),
        ("GET", "/redoc"),
    }
)


def parse_table(text: str) -> dict[str, dict[str, Outcome]]:
    """``EXPECTED_TABLE`` as endpoint -> person id -> outcome (strict: every cell filled)."""
    header, *lines = [line.split() for line in text.strip().splitlines()]
    columns = header[1:]
    assert columns == list(PEOPLE), f"columns {columns} are not {list(PEOPLE)}"
    table: dict[str, dict[str, Outcome]] = {}
    for endpoint, *cells in lines:
        assert endpoint not in table, f"{endpoint} twice in the table"
        assert len(cells) == len(columns), f"{endpoint}: {len(cells)} cells"
        table[endpoint] = {PEOPLE[c]: Outcome(cell) for c, cell in zip(columns, cells, strict=True)}
    return table


EXPECTED = parse_table(EXPECTED_TABLE)


# --------------------------------------------------------------------------- the table itself


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path template) the app serves, routers included (HEAD aside)."""
    found: set[tuple[str, str]] = set()
    for route in _flat_routes(app):
        path = getattr(route, "path", None)
        methods: set[str] = getattr(route, "methods", None) or set()
        assert path is not None, f"a route without a path: {route!r}"
        found |= {(method, path) for method in methods - {"HEAD"}}
    return found


def _flat_routes(app: FastAPI) -> Iterator[Any]:
    # FastAPI >= 0.16x includes routers lazily; iter_route_contexts flattens them.
    iterate = getattr(fastapi_routing, "iter_route_contexts", None)
    yield from iterate(app.routes) if iterate is not None else app.routes


def test_every_route_of_the_app_is_in_the_matrix() -> None:
    settings = Settings(jwt_secret=JWT_SECRET, directory=EXAMPLE_DIRECTORY)
    served = app_routes(IngestService(settings).app)
    listed = {endpoint.route for endpoint in ENDPOINTS.values()}
    assert served - PUBLIC_ROUTES - listed == set(), "routes missing from the matrix"
    assert listed - served == set(), "the matrix lists routes the app does not serve"
    assert all(path.startswith("/v1/") for _, path in listed)


def test_the_table_has_a_row_per_endpoint() -> None:
    assert list(EXPECTED) == list(ENDPOINTS)


def test_the_expected_matrix_follows_the_permissions_table() -> None:
    """A 403-by-role cell exactly where PERMISSIONS does not give the action."""
    directory = example_directory()
    people = {person_id: _person(directory.person(person_id)) for person_id in PEOPLE.values()}
    assert len({tuple(p.roles) for p in people.values()}) == len(people), "one role per column"
    wrong = [
        f"{name}: {person_id} is {EXPECTED[name][person_id]} but PERMISSIONS "
        f"{'grants' if allowed(person, endpoint.action) else 'refuses'} {endpoint.action}"
        for name, endpoint in ENDPOINTS.items()
        for person_id, person in people.items()
        if (EXPECTED[name][person_id] is Outcome.ROLE) == allowed(person, endpoint.action)
    ]
    assert wrong == []


def test_known_gaps_name_cells_of_the_table() -> None:
    for (name, column), (got, _) in KNOWN_GAPS.items():
        assert got is not EXPECTED[name][PEOPLE[column]]


def _person(person: Person | None) -> Person:
    assert person is not None
    return person


# --------------------------------------------------------------------------- the world


class OneShotHub(StreamHub):
    """A stream that ends right after ``: connected``, so a test can read the whole answer."""

    def subscribe(self, person: Person) -> Subscriber:
        subscriber = super().subscribe(person)
        subscriber.queue.put_nowait(None)  # the end-of-stream marker
        return subscriber


def bearer(person_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(person_id, JWT_SECRET)}"}


@pytest.fixture
async def client(db: Database) -> AsyncIterator[httpx.AsyncClient]:
    async with ingest_client(db, JWT_SECRET, stream=OneShotHub(db.sessions)) as client:
        yield client


async def created(client: httpx.AsyncClient, path: str, body: Any, person_id: str) -> str:
    response = await client.post(path, json=body, headers=bearer(person_id))
    assert response.status_code in {201, 202}, response.text
    return str(response.json()["id"])


def message_delivered(message_id: str, thread_id: str, person_id: str) -> Envelope:
    state = MessageStateV1(
        message_id=UUID(message_id),
        version=1,
        addressees=[AddresseeState(person_id=person_id, delivered=True)],
        next_escalation_at=None,
    )
    return Envelope(
        type=MESSAGE_STATE_CHANGED,
        producer="router",
        actor="router",
        correlation_id=UUID(thread_id),
        classification="confidential",
        payload=state.model_dump(mode="json"),
    )


async def build_world(db: Database, client: httpx.AsyncClient) -> dict[str, str]:
    """The objects of the matrix, put in their state the way the projections do; their ids."""
    alert_id = await created(client, "/v1/alerts", alert_request(), "amani.cla")
    routed = state_changed(
        alert_id, level=2, targets=["awa.hfo", "lucas.ho"], chain=["awa.hfo", "lucas.ho"]
    )
    message_id = await created(
        client,
        "/v1/messages",
        {**_message_body(), "to": {"persons": ["awa.hfo"]}},
        "jo.operator",
    )
    recommendation_id = await created(
        client, "/v1/recommendations", _recommendation_body(), "grace.dsrsg"
    )
    acknowledged_id = await created(
        client, "/v1/recommendations", _recommendation_body(), "grace.dsrsg"
    )
    async with db.sessions() as session, session.begin():
        await apply_event(session, routed)
        await apply_message_event(session, message_delivered(message_id, message_id, "awa.hfo"))
        await apply_recommendation_event(session, recommendation_state_changed(recommendation_id))
        await apply_recommendation_event(
            session,
            recommendation_state_changed(
                acknowledged_id,
                status="acknowledged",
                acknowledged_by="col.okafor",
                acknowledged_at=utc_now().isoformat(),
            ),
        )
    return {
        "alert_id": alert_id,
        "message_id": message_id,
        "thread_id": message_id,  # a first message opens its thread
        "recommendation_id": recommendation_id,
        "acknowledged_recommendation_id": acknowledged_id,
    }


WRITTEN = (
    OUTBOX,
    AlertViewRecord,
    TimelineRecord,
    IdempotencyKeyRecord,
    MessageViewRecord,
    RecommendationViewRecord,
    RecommendationTimelineRecord,
)


async def written(db: Database) -> tuple[int, ...]:
    """Row counts of every table a command writes (the outbox first)."""
    return tuple([await db.count(table) for table in WRITTEN])


# --------------------------------------------------------------------------- the matrix


@dataclass
class Observed:
    """What the app answered, cell by cell, and what a refusal must not have done."""

    outcomes: dict[str, dict[str, int]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


async def call(
    client: httpx.AsyncClient, endpoint: Endpoint, world: Mapping[str, str], person_id: str
) -> httpx.Response:
    body = endpoint.body() if endpoint.body is not None else None
    return await client.request(
        endpoint.method, endpoint.url(world), json=body, headers=bearer(person_id)
    )


def _words(action: Action) -> str:
    return action.value.replace("_", " ")


def expected_now(name: str, person_id: str) -> Outcome:
    """The cell as the app answers it today: the specification, or its known gap."""
    column = next(c for c, p in PEOPLE.items() if p == person_id)
    gap = KNOWN_GAPS.get((name, column))
    return gap[0] if gap else EXPECTED[name][person_id]


def render(observed: Observed) -> str:
    """The observed matrix as a table, a mismatch marked ``got!expected``."""
    width = max(map(len, ENDPOINTS)) + 2
    lines = ["endpoint".ljust(width) + " ".join(c.ljust(12) for c in PEOPLE)]
    for name in ENDPOINTS:
        cells = []
        for person_id, status in observed.outcomes[name].items():
            want = expected_now(name, person_id)
            cell = str(status) if want.matches(status) else f"{status}!{want}"
            cells.append(cell.ljust(12))
        lines.append(name.ljust(width) + " ".join(cells))
    return "\n".join(lines)


async def check_cell(
    db: Database, client: httpx.AsyncClient, name: str, world: Mapping[str, str], person_id: str
) -> tuple[int, list[str]]:
    """Call endpoint ``name`` as ``person_id``: the status, and what is wrong with the answer."""
    endpoint = ENDPOINTS[name]
    before = await written(db)
    response = await call(client, endpoint, world, person_id)
    status, want = response.status_code, expected_now(name, person_id)
    cell = f"{endpoint.method} {endpoint.path} as {person_id}: {status} {response.text[:200]}"
    problems = [] if want.matches(status) else [f"{cell}, expected {want}"]
    if not 200 <= status < 300:
        after = await written(db)
        if after != before:  # a refusal stages nothing for the router and writes no view
            problems.append(f"{cell}: refused, yet row counts went {before} -> {after}")
    if status == 403 and want is Outcome.ROLE:
        detail = str(response.json().get("detail", ""))
        if person_id not in detail or _words(endpoint.action) not in detail:
            problems.append(f"{cell}: the 403 does not name the caller and the action")
    return status, problems


async def test_every_endpoint_for_every_role(db: Database, client: httpx.AsyncClient) -> None:
    world = await build_world(db, client)
    observed = Observed()
    for name in ENDPOINTS:
        row = observed.outcomes.setdefault(name, {})
        for person_id in PEOPLE.values():
            row[person_id], problems = await check_cell(db, client, name, world, person_id)
            observed.problems += problems
    assert observed.problems == [], "\n".join([*observed.problems, "", render(observed)])


async def test_the_stream_answers_an_event_stream(db: Database, client: httpx.AsyncClient) -> None:
    async with client.stream("GET", "/v1/stream", headers=bearer("awa.hfo")) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        text = (await response.aread()).decode()
    assert text.startswith(": connected")


async def test_the_alert_list_shows_the_alert_to_those_who_may_get_it(
    db: Database, client: httpx.AsyncClient
) -> None:
    world = await build_world(db, client)
    for person_id in PEOPLE.values():
        response = await client.get("/v1/alerts", headers=bearer(person_id))
        assert response.status_code == 200, response.text
        listed = world["alert_id"] in {item["id"] for item in response.json()["items"]}
        assert listed == (EXPECTED["alert.get"][person_id] is Outcome.OK), person_id
