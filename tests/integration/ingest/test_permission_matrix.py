"""Every ``/v1`` endpoint x every role: allowed ones succeed, the rest get 403/404.

The world, made through the API and decided by the real router (an in-process
``Pump`` does the broker's work): a CONFIDENTIAL alert in beni raised by
amani.cla, whose chain (poc-default) is awa.hfo then lucas.ho; a message from
jo.operator delivered to awa.hfo asking for an acknowledgement; two
recommendations from grace.dsrsg issued to col.okafor (one still to acknowledge,
one acknowledged and waiting for an answer). Each person of the example
directory (one per role) then calls every endpoint. A command (acknowledge,
resolve, note, read, respond) that the router decides acts on a fresh object of
its kind, made the same way, so that no cell depends on the one before.

Ingest decides the ``role`` cells (the permissions table: 403 at once, nothing
staged) and what a read shows; the router decides every other command cell,
and its ``*.command_rejected`` must carry the refusal the cell says.

``EXPECTED`` is the specification, written out cell by cell from
``shared.permissions`` (``PERMISSIONS`` and need-to-know), not copied from what
the code answers; ``test_the_expected_matrix_follows_the_permissions_table``
keeps its 403-by-role cells exactly where ``PERMISSIONS`` refuses the action.
Cells:

- ``ok``    2xx.
- ``role``  403: none of the person's roles grants the endpoint's action.
- ``deny``  403: the role allows it and the person sees the object, but the
            router refuses (``not_allowed``: acknowledging an alert they are not
            on the chain of, answering a recommendation they only wrote).
- ``404``   need-to-know: the object does not concern them (the router's
            ``not_found`` for a command); never a 403, never a hint that it exists.
- ``409``   allowed and concerned: the permission and need-to-know checks
            passed, and the object's state refuses (``wrong_state``: the sender
            of a message cannot mark it read or acknowledge it).

A command the router accepts answers ``200``; it must not be left pending (``202``).

Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import uuid4

import httpx
import pytest
from fastapi import FastAPI
from fastapi import routing as fastapi_routing
from fastapi.routing import APIRoute

from services.ingest.alerts.tables import AlertViewRecord, TimelineRecord
from services.ingest.board.install import PAGES
from services.ingest.messages.tables import MessageViewRecord
from services.ingest.recommendations.tables import (
    RecommendationTimelineRecord,
    RecommendationViewRecord,
)
from services.ingest.service import IngestService
from services.ingest.stream.hub import StreamHub, Subscriber
from services.ingest.tables import OUTBOX, CommandVerdictRecord, IdempotencyKeyRecord
from shared.auth import mint_token
from shared.contracts import (
    ALERT_ACKNOWLEDGE,
    ALERT_ADD_NOTE,
    ALERT_RELEASE,
    ALERT_RESOLVE,
    MESSAGE_ACKNOWLEDGE,
    MESSAGE_MARK_READ,
    RECOMMENDATION_ACKNOWLEDGE,
    RECOMMENDATION_RESPOND,
)
from shared.directory import Directory, Person
from shared.envelope import Envelope, utc_now
from shared.permissions import Action, allowed, refusal
from shared.settings import Settings
from tests.support.builders import alert_request
from tests.support.database import Database
from tests.support.directories import EXAMPLE_DIRECTORY, example_directory
from tests.support.ingest_client import IngestClient, ingest_client

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


def _cap_message() -> bytes:
    """A partner's CAP 1.2 warning, new each time, placed in beni by coord's own geocode."""
    return f"""<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>matrix-{uuid4()}</identifier><sender>ops@partner.example</sender>
  <sent>2026-11-23T10:00:00+00:00</sent><status>Actual</status><msgType>Alert</msgType>
  <scope>Public</scope>
  <info><category>Security</category><event>Attack</event><urgency>Immediate</urgency>
    <severity>Severe</severity><certainty>Observed</certainty><headline>Attack</headline>
    <area><areaDesc>Mavivi</areaDesc>
      <geocode><valueName>coord:sector</valueName><value>beni</value></geocode></area>
  </info>
</alert>""".encode()


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
    command: str | None = None  # the command it stages for the router, which decides it

    @property
    def subjects(self) -> list[str]:
        """The world's objects the path names."""
        return [self.objects.get(name, name) for name in _parameters(self.path)]

    @property
    def route(self) -> tuple[str, str]:
        return self.method, self.path

    def url(self, world: Mapping[str, str]) -> str:
        names = {name: world[self.objects.get(name, name)] for name in _parameters(self.path)}
        return self.path.format(**names)

    def subject_url(self, world: Mapping[str, str]) -> str:
        """A command's object (the URL less the command)."""
        return self.url(world).rsplit("/", 1)[0]


def _parameters(path: str) -> list[str]:
    return re.findall(r"\{(\w+)\}", path)  # "/v1/alerts/{alert_id}.cap" too


A = Action
ENDPOINTS: Mapping[str, Endpoint] = {
    "alert.raise": Endpoint("POST", "/v1/alerts", A.RAISE_ALERT, alert_request),
    "alert.list": Endpoint("GET", "/v1/alerts", A.READ),
    "alert.get": Endpoint("GET", "/v1/alerts/{alert_id}", A.READ),
    "alert.cap": Endpoint("GET", "/v1/alerts/{alert_id}.cap", A.READ),
    "cap.import": Endpoint("POST", "/v1/cap", A.RAISE_ALERT, _cap_message),
    "alert.acknowledge": Endpoint(
        "POST", "/v1/alerts/{alert_id}/acknowledge", A.ACKNOWLEDGE, command=ALERT_ACKNOWLEDGE
    ),
    "alert.resolve": Endpoint(
        "POST",
        "/v1/alerts/{alert_id}/resolve",
        A.RESOLVE,
        lambda: {"note": "Patrol back"},
        command=ALERT_RESOLVE,
    ),
    "alert.note": Endpoint(
        "POST",
        "/v1/alerts/{alert_id}/notes",
        A.POST_MESSAGE,
        lambda: {"text": "Patrol sent"},
        command=ALERT_ADD_NOTE,
    ),
    "alert.release": Endpoint(
        "POST",
        "/v1/alerts/{alert_id}/release",
        A.RELEASE,
        objects={"alert_id": "unclassified_alert_id"},
        command=ALERT_RELEASE,
    ),
    "stream": Endpoint("GET", "/v1/stream", A.READ),
    "message.send": Endpoint("POST", "/v1/messages", A.POST_MESSAGE, _message_body),
    "message.list": Endpoint("GET", "/v1/messages", A.READ),
    "message.get": Endpoint("GET", "/v1/messages/{message_id}", A.READ),
    "message.read": Endpoint(
        "POST", "/v1/messages/{message_id}/read", A.READ, command=MESSAGE_MARK_READ
    ),
    "message.acknowledge": Endpoint(
        "POST", "/v1/messages/{message_id}/acknowledge", A.ACKNOWLEDGE, command=MESSAGE_ACKNOWLEDGE
    ),
    "thread.get": Endpoint("GET", "/v1/threads/{thread_id}", A.READ),
    "recommendation.submit": Endpoint(
        "POST", "/v1/recommendations", A.RECOMMEND, _recommendation_body
    ),
    "recommendation.list": Endpoint("GET", "/v1/recommendations", A.READ),
    "recommendation.get": Endpoint("GET", "/v1/recommendations/{recommendation_id}", A.READ),
    "recommendation.acknowledge": Endpoint(
        "POST",
        "/v1/recommendations/{recommendation_id}/acknowledge",
        A.ACKNOWLEDGE,
        command=RECOMMENDATION_ACKNOWLEDGE,
    ),
    "recommendation.respond": Endpoint(
        "POST",
        "/v1/recommendations/{recommendation_id}/respond",
        A.RESPOND,
        lambda: {"response": "accepted"},
        objects={"recommendation_id": "acknowledged_recommendation_id"},
        command=RECOMMENDATION_RESPOND,
    ),
    "report": Endpoint("GET", "/v1/reports/recommendations", A.REPORT),
    "audit.events": Endpoint("GET", "/v1/audit/events", A.AUDIT),
}

# The specification. Why each non-obvious cell is what it is:
# - alert.*: it concerns amani (raised it), awa and lucas (its chain: poc-default, which
#   stops at the head of office) and jo (the JOC runs every sector's board); the auditor
#   sees every alert. grace, okafor and diallo are not on this alert's chain: 404, though
#   their roles would allow the action.
# - alert.acknowledge: only the chain acknowledges; jo and amani see it but are refused.
# - alert.note: the chain or the sector's JOC; amani raised it but is neither.
# - alert.release: the same alert, UNCLASSIFIED (a classified one is never released: its
#   409 is in test_cap_feed.py); the JOC and senior civilians release, if it concerns them.
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
alert.cap                   ok    ok    ok    ok    404   404    404    ok
cap.import                  ok    ok    ok    ok    ok    ok     ok     role
alert.acknowledge           deny  deny  ok    ok    404   404    404    role
alert.resolve               ok    role  ok    ok    404   404    404    role
alert.note                  ok    deny  ok    ok    404   404    404    role
alert.release               ok    role  ok    ok    404   role   role   role
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

# A partner's token, not a person's (shared.partners): tests/integration/ingest/test_cap_feed.py.
PARTNER_ROUTES = frozenset({("GET", "/v1/cap/feed"), ("GET", "/v1/cap/alerts/{alert_id}")})

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


def _board_routes() -> list[APIRoute]:
    return [route for router in PAGES for route in router.routes if isinstance(route, APIRoute)]


def test_every_route_of_the_app_is_in_the_matrix() -> None:
    settings = Settings(jwt_secret=JWT_SECRET, directory=EXAMPLE_DIRECTORY)
    served = app_routes(IngestService(settings).app)
    listed = {endpoint.route for endpoint in ENDPOINTS.values()}
    # The board's pages act through the same functions under the same table; they are held
    # to the API by tests/integration/ingest/test_board_pages.py (parity, CSRF on each post).
    pages = {(method, route.path) for route in _board_routes() for method in route.methods or ()}
    unlisted = served - PUBLIC_ROUTES - PARTNER_ROUTES - pages - listed
    assert unlisted == set(), "routes missing from the matrix"
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

    def subscribe(
        self, person: Person, *, directory: Callable[[], Directory], expires_at: datetime
    ) -> Subscriber:
        subscriber = super().subscribe(person, directory=directory, expires_at=expires_at)
        subscriber.queue.put_nowait(None)  # the end-of-stream marker
        return subscriber


def bearer(person_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(person_id, JWT_SECRET)}"}


@pytest.fixture
async def client(db: Database) -> AsyncIterator[IngestClient]:
    async with ingest_client(db, JWT_SECRET, stream=OneShotHub(db.sessions), router=True) as client:
        yield client


async def created(client: httpx.AsyncClient, path: str, body: Any, person_id: str) -> str:
    response = await client.post(path, json=body, headers=bearer(person_id))
    assert response.status_code in {201, 202}, response.text
    return str(response.json()["id"])


async def raise_alert(client: IngestClient) -> str:
    """Raised by amani.cla; moderate, so poc-default: awa.hfo, then lucas.ho."""
    return await created(client, "/v1/alerts", alert_request(severity="moderate"), "amani.cla")


async def raise_unclassified_alert(client: IngestClient) -> str:
    """The same, UNCLASSIFIED: one that may be released to partners."""
    body = alert_request(severity="moderate", classification="unclassified")
    return await created(client, "/v1/alerts", body, "amani.cla")


async def send_message(client: IngestClient) -> str:
    body = {**_message_body(), "to": {"persons": ["awa.hfo"]}}
    return await created(client, "/v1/messages", body, "jo.operator")


async def issue_recommendation(client: IngestClient) -> str:
    return await created(client, "/v1/recommendations", _recommendation_body(), "grace.dsrsg")


async def acknowledged_recommendation(client: IngestClient) -> str:
    recommendation_id = await issue_recommendation(client)
    response = await client.post(
        f"/v1/recommendations/{recommendation_id}/acknowledge", headers=bearer("col.okafor")
    )
    assert response.status_code == 200, response.text
    return recommendation_id


# The world's objects: how each is made, and who reads it to see a refusal changed nothing.
MAKERS: Mapping[str, tuple[Callable[[IngestClient], Awaitable[str]], str]] = {
    "alert_id": (raise_alert, "amani.cla"),
    "unclassified_alert_id": (raise_unclassified_alert, "amani.cla"),
    "message_id": (send_message, "jo.operator"),
    "recommendation_id": (issue_recommendation, "grace.dsrsg"),
    "acknowledged_recommendation_id": (acknowledged_recommendation, "grace.dsrsg"),
}


async def build_world(client: IngestClient) -> dict[str, str]:
    """The objects of the matrix, made through the API and decided by the router; their ids."""
    world = {key: await make(client) for key, (make, _) in MAKERS.items()}
    world["thread_id"] = world["message_id"]  # a first message opens its thread
    await client.pump.settle()
    alert = await client.get(f"/v1/alerts/{world['alert_id']}", headers=bearer("amani.cla"))
    assert alert.json()["chain"] == ["awa.hfo", "lucas.ho"], alert.text
    return world


async def fresh(client: IngestClient, endpoint: Endpoint) -> dict[str, str]:
    """New objects for a command to act on, made like the world's."""
    return {key: await MAKERS[key][0](client) for key in endpoint.subjects}


WRITTEN = (
    OUTBOX,
    AlertViewRecord,
    TimelineRecord,
    IdempotencyKeyRecord,
    MessageViewRecord,
    RecommendationViewRecord,
    RecommendationTimelineRecord,
    CommandVerdictRecord,
)


async def written(db: Database, client: IngestClient) -> tuple[int, ...]:
    """Row counts of every table a request writes (the outbox first), and envelopes delivered."""
    return (*[await db.count(table) for table in WRITTEN], len(client.pump.moved))


def _without_history(view: dict[str, Any]) -> dict[str, Any]:
    # A refused command is on its object's history (and its refusal); nothing else changes.
    return {k: v for k, v in view.items() if k not in {"timeline", "history"}}


async def subject_state(
    client: IngestClient, endpoint: Endpoint, world: Mapping[str, str]
) -> dict[str, Any]:
    """A command's object as someone it concerns sees it, its history aside."""
    [key] = endpoint.subjects
    reader = MAKERS[key][1]
    response = await client.get(endpoint.subject_url(world), headers=bearer(reader))
    assert response.status_code == 200, response.text
    return _without_history(response.json())


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
    if isinstance(body, bytes):  # CAP's XML
        headers = bearer(person_id) | {"Content-Type": "application/cap+xml"}
        return await client.request(
            endpoint.method, endpoint.url(world), content=body, headers=headers
        )
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


_REFUSALS = {
    Outcome.HIDDEN: "not_found",
    Outcome.DENY: "not_allowed",
    Outcome.CONFLICT: "wrong_state",
}


async def check_cell(
    db: Database, client: IngestClient, name: str, world: Mapping[str, str], person_id: str
) -> tuple[int, list[str]]:
    """Call endpoint ``name`` as ``person_id``: the status, and what is wrong with the answer."""
    endpoint = ENDPOINTS[name]
    want = expected_now(name, person_id)
    routers = endpoint.command is not None and want is not Outcome.ROLE  # the router decides
    if routers:  # on an object of its own: the cell does not depend on the one before
        world = {**world, **await fresh(client, endpoint)}
    await client.pump.settle()  # nothing in flight: what changes below is this call's doing
    before = await written(db, client)
    delivered = len(client.pump.moved)
    expect_refusal = endpoint.command is not None and want is not Outcome.OK
    seen = await subject_state(client, endpoint, world) if expect_refusal else None
    response = await call(client, endpoint, world, person_id)
    await client.pump.settle()
    status = response.status_code
    cell = f"{endpoint.method} {endpoint.path} as {person_id}: {status} {response.text[:200]}"
    problems = [] if want.matches(status) else [f"{cell}, expected {want}"]
    if endpoint.command is not None and want is Outcome.OK and status != 200:
        problems.append(f"{cell}: the router decides a command at once: 200")
    detail = "" if status < 400 else str(response.json().get("detail", ""))
    refused = not 200 <= status < 300
    if not routers:
        # Ingest's own answer: a refusal stages nothing for the router and writes no view.
        if refused and (after := await written(db, client)) != before:
            problems.append(f"{cell}: refused, yet row counts went {before} -> {after}")
    else:  # the router's answer
        since = client.pump.moved[delivered:]
        problems += _routers_answer(
            since, endpoint, world, person_id, want=want, answer=(cell, detail)
        )
    if refused and seen is not None and await subject_state(client, endpoint, world) != seen:
        problems.append(f"{cell}: refused, yet the {endpoint.subjects[0]} changed")
    table_says = _table_refusal(person_id, endpoint)
    named = person_id in detail and _words(endpoint.action) in detail
    if status == 403 and want is Outcome.ROLE and not (named and detail == table_says):
        problems.append(f"{cell}: the 403 is not the table's, naming the caller and the action")
    if status == 403 and want is not Outcome.ROLE and table_says in detail:
        problems.append(f"{cell}: the permissions table's 403 for an action the role has")
    return status, problems


def _table_refusal(person_id: str, endpoint: Endpoint) -> str:
    person = example_directory().person(person_id)
    assert person is not None
    return refusal(person, endpoint.action)


def _routers_answer(
    since: list[Envelope],
    endpoint: Endpoint,
    world: Mapping[str, str],
    person_id: str,
    *,
    want: Outcome,
    answer: tuple[str, str],
) -> list[str]:
    """The command was staged once, and the router's verdict is the one the cell says.

    ``since``: the envelopes delivered since the call; ``answer``: the cell and the detail.
    """
    cell, detail = answer
    [key] = endpoint.subjects
    moved = [e for e in since if str(e.correlation_id) == world[key]]
    staged = [e.actor for e in moved if e.type == endpoint.command]
    problems = [] if staged == [person_id] else [f"{cell}: staged {staged}, not one command"]
    rejected = [e.payload for e in moved if e.type.endswith(".command_rejected")]
    if want is Outcome.OK and rejected:
        problems.append(f"{cell}: accepted, yet the router rejected it: {rejected}")
    refused = [(r["refusal"], r["reason"]) for r in rejected]
    if want in _REFUSALS and refused != [(_REFUSALS[want], detail)]:
        problems.append(f"{cell}: the router's rejections were {refused}")
    return problems


async def test_every_endpoint_for_every_role(db: Database, client: IngestClient) -> None:
    world = await build_world(client)
    observed = Observed()
    for name in ENDPOINTS:
        row = observed.outcomes.setdefault(name, {})
        for person_id in PEOPLE.values():
            row[person_id], problems = await check_cell(db, client, name, world, person_id)
            observed.problems += problems
    assert observed.problems == [], "\n".join([*observed.problems, "", render(observed)])


async def test_the_stream_answers_an_event_stream(client: IngestClient) -> None:
    async with client.stream("GET", "/v1/stream", headers=bearer("awa.hfo")) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        text = (await response.aread()).decode()
    assert text.startswith(": connected")


async def test_the_alert_list_shows_the_alert_to_those_who_may_get_it(
    client: IngestClient,
) -> None:
    world = await build_world(client)
    for person_id in PEOPLE.values():
        response = await client.get("/v1/alerts", headers=bearer(person_id))
        assert response.status_code == 200, response.text
        listed = world["alert_id"] in {item["id"] for item in response.json()["items"]}
        assert listed == (EXPECTED["alert.get"][person_id] is Outcome.OK), person_id
