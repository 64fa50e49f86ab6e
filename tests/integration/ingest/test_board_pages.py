"""The board's pages (services/ingest/board) on ingest's app in-process, on PostgreSQL.

People sign in with the development picker, each in a client of their own
(tests/support/board_client.py). Alerts are raised through the API with bearer tokens and
put into the router's states through the projections, as tests/integration/ingest/
test_ingest_api.py does; no router runs, so a command posted from a page is staged and
answered "pending" after ``command_wait``.

The tests that only read share one database, seeded once for the module (``seeded``:
seven alerts across classifications, sectors, raisers and chains); those that write get
a database of their own (``db``).

- Need-to-know: the board lists exactly what ``GET /v1/alerts`` lists for the same person
  (with the same filters), and an alert's page is 404 exactly when the API's is.
- Sessions: no session, or a forged / expired one, is the sign-in page; production has no
  person picker.
- Forms: a post without the session's CSRF token is 403 and stages nothing; with it, the
  command is staged for the signed-in person; a person without the right stages nothing.
- The raise form, the filters, the counters, the reports and the audit log, French.
"""

from __future__ import annotations

import base64
import importlib
import pkgutil
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import jwt
import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute
from pydantic import ValidationError

import services.ingest.board
from services.ingest.alerts.tables import AlertViewRecord, TimelineRecord
from services.ingest.board.i18n import LANGUAGE_COOKIE
from services.ingest.board.session import AUDIENCE, CSRF_FIELD, SESSION_COOKIE
from services.ingest.board.signin import SIGNIN_COOKIE
from services.ingest.tables import OUTBOX, IdempotencyKeyRecord
from shared.contracts import ALERT_RESOLVED
from shared.db import create_engine, session_factory
from shared.directory import Directory, load_directory
from shared.envelope import Envelope, utc_now
from shared.settings import DEV_SESSION_SECRET
from tests.support.board_client import (
    alert_ids,
    alert_links,
    apply,
    browser,
    counter_links,
    counters,
    hidden,
    next_of,
    set_state,
    visitor_of,
)
from tests.support.builders import SOURCE, alert_request
from tests.support.database import Database, Templates, fresh_pg_database, run_sync
from tests.support.directories import DEMO_DIRECTORY
from tests.support.ingest_client import IngestClient, ingest_client
from tests.support.tokens import JWT_SECRET, bearer

pytestmark = pytest.mark.integration

# The board's queries are the API's (run on both backends by test_ingest_api.py): the pages
# are checked on the production backend only, to keep this module quick.
ON_POSTGRESQL = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

DEMO = load_directory(DEMO_DIRECTORY)  # the example directory plus lt.mbeki, oios.chief...


@pytest.fixture
async def client(db: Database) -> AsyncIterator[IngestClient]:
    """Ingest's app on the test's own database."""
    async with ingest_client(db, JWT_SECRET, directory=DEMO) as client:
        yield client


@dataclass(frozen=True)
class Seeded:
    """A database shared by the module's reading tests: its URL and its alerts by name."""

    url: str
    ids: dict[str, str]


Seeding = Callable[[Database, IngestClient], Awaitable[dict[str, str]]]


@contextmanager
def shared_database(templates: Templates, seeding: Seeding) -> Iterator[Seeded]:
    """A migrated PostgreSQL database that ``seeding`` wrote to through ingest's app."""

    async def seed_at(url: str) -> dict[str, str]:
        engine = create_engine(url)
        try:
            db = Database(url, engine, session_factory(engine))
            async with ingest_client(db, JWT_SECRET, directory=DEMO) as client:
                return await seeding(db, client)
        finally:
            await engine.dispose()

    with fresh_pg_database() as url:
        templates.migrate(url)
        yield Seeded(url, run_sync(lambda: seed_at(url)))


@asynccontextmanager
async def reading(
    shared: Seeded, directory: Directory = DEMO, **settings: Any
) -> AsyncIterator[IngestClient]:
    """Ingest's app (with ``settings``) on a shared database; the test must write nothing."""
    engine = create_engine(shared.url)
    try:
        db = Database(shared.url, engine, session_factory(engine))
        before = await written(db)
        async with ingest_client(db, JWT_SECRET, directory=directory, **settings) as client:
            yield client
        assert await written(db) == before, "a reading test wrote to the shared database"
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def seeded(templates: Templates) -> Iterator[Seeded]:
    """``seed``'s seven alerts, for the tests that only read."""
    with shared_database(templates, seed) as shared:
        yield shared


@pytest.fixture
async def reader(seeded: Seeded) -> AsyncIterator[IngestClient]:
    """Ingest's app on ``seeded``."""
    async with reading(seeded) as client:
        yield client


@pytest.fixture
async def seeded_db(seeded: Seeded) -> AsyncIterator[Database]:
    """``seeded`` itself, to count what a test wrote to it (it must be nothing)."""
    engine = create_engine(seeded.url)
    try:
        yield Database(seeded.url, engine, session_factory(engine))
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def counted(templates: Templates) -> Iterator[Seeded]:
    """``seed_counted``'s alerts, in every state the board's counters count."""
    with shared_database(templates, seed_counted) as shared:
        yield shared


@pytest.fixture
async def counting(counted: Seeded) -> AsyncIterator[IngestClient]:
    """Ingest's app on ``counted``."""
    async with reading(counted) as client:
        yield client


async def raise_alert(client: httpx.AsyncClient, raiser: str = "jo.operator", **body: Any) -> str:
    """An alert raised through the API by ``raiser`` (tests.support.builders' body)."""
    response = await client.post("/v1/alerts", json=alert_request(**body), headers=bearer(raiser))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def outbox(db: Database) -> list[Envelope]:
    async with db.sessions() as session:
        rows = (await session.execute(OUTBOX.select().order_by(OUTBOX.c.position))).all()
    return [Envelope.model_validate_json(bytes(r.body)) for r in rows]


async def written(db: Database) -> tuple[int, ...]:
    """How many rows ingest wrote: outbox, alert views, timeline, idempotency keys."""
    return (
        await db.count(OUTBOX),
        await db.count(AlertViewRecord),
        await db.count(TimelineRecord),
        await db.count(IdempotencyKeyRecord),
    )


async def resolved_at(db: Database, alert_id: str, hours_ago: float) -> None:
    """The router's ``alert.resolved`` of ``alert_id``, ``hours_ago`` hours ago."""
    await apply(
        db,
        Envelope(
            type=ALERT_RESOLVED,
            producer="router",
            actor="router",
            correlation_id=UUID(alert_id),
            occurred_at=utc_now() - timedelta(hours=hours_ago),
            payload={"alert_id": alert_id, "person_id": "jo.operator", "note": ""},
        ),
    )


# --------------------------------------------------------------------------- need-to-know


async def seed(db: Database, client: httpx.AsyncClient) -> dict[str, str]:
    """Seven alerts across classifications, sectors, raisers and chains; name -> id."""
    ids: dict[str, str] = {}
    # confidential, beni, poc-urgent: paged awa.hfo, then lucas.ho, grace.dsrsg
    ids["urgent"] = await raise_alert(client)
    await set_state(db, ids["urgent"], code="4821")
    # raised by the CLA in the north, not routed yet, no position
    ids["north"] = await raise_alert(
        client,
        "amani.cla",
        sector="north",
        classification="unclassified",
        category="looting",
        severity="moderate",
        location={"name": "Oicha"},
    )
    # unclassified, joint level: lt.mbeki is on its chain
    ids["joint"] = await raise_alert(
        client, classification="unclassified", category="armed_group_movement", origin="military"
    )
    await set_state(
        db,
        ids["joint"],
        policy_id="poc-joint",
        targets=["awa.hfo", "col.okafor", "insp.diallo"],
        chain=["awa.hfo", "col.okafor", "insp.diallo", "lucas.ho", "lt.mbeki"],
    )
    # strictly confidential: above the JOC's clearance
    ids["strict"] = await raise_alert(client, "awa.hfo", classification="strictly_confidential")
    await set_state(db, ids["strict"], targets=["awa.hfo"], chain=["awa.hfo", "lucas.ho"])
    # lt.mbeki on the chain but not cleared for it
    ids["uncleared"] = await raise_alert(client, classification="confidential")
    await set_state(db, ids["uncleared"], targets=["lt.mbeki"], chain=["lt.mbeki"])
    # raised by lt.mbeki in the south
    ids["by_mbeki"] = await raise_alert(
        client, "lt.mbeki", sector="south", classification="unclassified", category="looting"
    )
    # resolved in the south
    ids["resolved"] = await raise_alert(client, sector="south")
    await set_state(
        db,
        ids["resolved"],
        status="resolved",
        policy_id="poc-default",
        targets=["tomas.hfo"],
        chain=["tomas.hfo", "fatou.ho"],
    )
    return ids


EVERYTHING = {"urgent", "north", "joint", "strict", "uncleared", "by_mbeki", "resolved"}
SEES = {
    "jo.operator": EVERYTHING - {"strict"},  # mission-wide JOC, cleared confidential
    "awa.hfo": {"urgent", "joint", "strict"},
    "lt.mbeki": {"joint", "by_mbeki"},  # not "uncleared": on its chain, not cleared
    "audit.one": EVERYTHING,
    "oios.chief": EVERYTHING,
    # raised "north"; and beni's community alerts (the seed's default origin) she is
    # cleared for: her network reported them
    "amani.cla": {"north", "urgent", "uncleared"},
    "col.okafor": {"joint"},
    "lucas.ho": {"urgent", "joint", "strict"},
    "grace.dsrsg": {"urgent"},
    "tomas.hfo": {"resolved"},
}
# (the board's query, the API's parameters for the same filter)
FILTERS = [
    ("", {}),
    ("sector=beni", {"sector": "beni"}),
    ("severity=severe", {"severity": "severe"}),
    ("category=looting", {"category": "looting"}),
    ("origin=military", {"origin": "military"}),
    ("status=resolved", {"status": "resolved"}),
    ("mine=1", {"mine": "true"}),
    ("sector=south&mine=1", {"sector": "south", "mine": "true"}),
]


async def api_list(client: httpx.AsyncClient, person_id: str, **params: str) -> list[str]:
    response = await client.get(
        "/v1/alerts", params={"limit": "200", **params}, headers=bearer(person_id)
    )
    assert response.status_code == 200, response.text
    assert response.json()["next_cursor"] is None
    return [str(item["id"]) for item in response.json()["items"]]


@pytest.mark.parametrize("person_id", sorted(SEES))
async def test_the_board_lists_what_the_api_lists(
    seeded: Seeded, reader: IngestClient, person_id: str
) -> None:
    client = reader
    name_of = {alert_id: name for name, alert_id in seeded.ids.items()}
    async with visitor_of(client, person_id) as visitor:
        for board_query, api_params in FILTERS:
            listed = await api_list(client, person_id, **api_params)
            page = await visitor.get(f"/board?{board_query}")
            assert page.status_code == 200, (board_query, page.text)
            assert alert_ids(page.text) == listed, board_query
            # every alert the page links to is one the API lists (menus, counters...)
            assert alert_links(page.text) <= set(listed), board_query
            if not board_query:  # the live part is the same rows, refreshed
                live = await visitor.get("/board/rows")
                assert alert_ids(live.text) == listed
            drawn = await visitor.get(f"/map?{board_query}")
            assert drawn.status_code == 200, drawn.text
            assert alert_links(drawn.text) == set(listed), board_query
            if not board_query:
                assert {name_of[i] for i in listed} == SEES[person_id]

        for alert_id in [*seeded.ids.values(), str(uuid4())]:
            api = await client.get(f"/v1/alerts/{alert_id}", headers=bearer(person_id))
            page = await visitor.get(f"/alerts/{alert_id}")
            assert api.status_code in (200, 404), api.text
            assert page.status_code == api.status_code, (name_of.get(alert_id), page.text)
            if page.status_code == 200:
                assert alert_links(page.text) <= {alert_id}


async def test_someone_who_may_not_read_sees_no_board(seeded: Seeded, reader: IngestClient) -> None:
    assert (await reader.get("/v1/alerts", headers=bearer("ops.admin"))).status_code == 403
    async with visitor_of(reader, "ops.admin") as admin:
        for path in ("/board", "/board/rows", "/map", f"/alerts/{seeded.ids['north']}"):
            response = await admin.get(path)
            assert response.status_code == 403, path
            assert not alert_ids(response.text)


# --------------------------------------------------------------------------- sessions


async def test_without_a_session_every_page_is_the_sign_in(
    seeded: Seeded, reader: IngestClient
) -> None:
    alert_id = seeded.ids["urgent"]
    async with browser(reader) as http:
        home = await http.get("/")
        assert (home.status_code, home.headers["location"]) == (303, "/board")
        for path in (
            "/board",
            "/board?severity=extreme&sector=beni",
            "/board/rows",
            "/map",
            f"/alerts/{alert_id}",
            "/alerts/new",
            "/messages",
            "/recommendations",
            "/reports",
            "/audit",
        ):
            response = await http.get(path)
            assert response.status_code == 303, path
            assert next_of(response.headers["location"]) == path
            assert "Mavivi" not in response.text
        # a post without a session stages nothing (``reader`` checks nothing was written)
        posted = await http.post(f"/alerts/{alert_id}/acknowledge", data={CSRF_FIELD: "x"})
        assert posted.status_code == 303
        assert next_of(posted.headers["location"]) == "/board"


def _token(**overrides: Any) -> str:
    secret = overrides.pop("secret", DEV_SESSION_SECRET)
    now = utc_now()
    claims: dict[str, Any] = {
        "sub": "jo.operator",
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + timedelta(hours=1),
        CSRF_FIELD: "token",
    }
    claims.update(overrides)
    return jwt.encode(claims, secret, algorithm="HS256")


SESSION_COOKIES: dict[str, Callable[[], str]] = {
    "forged": lambda: _token(secret="not-the-board-secret-" + "0123456789abcdef" * 2),
    "expired": lambda: _token(iat=utc_now() - timedelta(hours=13), exp=utc_now()),
    "other-audience": lambda: _token(aud="coord-board-signin"),
    "nobody-of-the-directory": lambda: _token(sub="ghost.person"),
    "not-a-token": lambda: "garbage",
}


async def test_a_forged_or_expired_session_is_the_sign_in(reader: IngestClient) -> None:
    async with browser(reader) as http:
        good = await http.get("/board", headers={"Cookie": f"{SESSION_COOKIE}={_token()}"})
        assert good.status_code == 200  # the same claims, well signed, are a session
        for case, made in SESSION_COOKIES.items():
            cookie = f"{SESSION_COOKIE}={made()}"
            response = await http.get("/board", headers={"Cookie": cookie})
            assert response.status_code == 303, case
            assert next_of(response.headers["location"]) == "/board", case


async def test_the_sign_in_form_needs_its_own_cookie(reader: IngestClient) -> None:
    async with browser(reader) as http:
        # another site's form: no coord_signin cookie to match
        response = await http.post(
            "/signin", data={"person": "jo.operator", CSRF_FIELD: "guess", "next": "/board"}
        )
        assert response.status_code == 303
        assert next_of(response.headers["location"]) == "/board"
        assert http.cookies.get(SESSION_COOKIE) is None
        await http.get("/signin")
        response = await http.post(
            "/signin", data={"person": "jo.operator", CSRF_FIELD: "guess", "next": "/board"}
        )
        assert response.status_code == 303
        assert http.cookies.get(SESSION_COOKIE) is None
        response = await http.post(
            "/signin", data={"person": "jo.operator", CSRF_FIELD: "é", "next": "/board"}
        )
        assert response.status_code == 303
        assert http.cookies.get(SESSION_COOKIE) is None
        # someone the directory does not have
        nonce = http.cookies.get(SIGNIN_COOKIE)
        response = await http.post(
            "/signin", data={"person": "ghost.person", CSRF_FIELD: nonce, "next": "/board"}
        )
        assert (response.status_code, response.headers["location"]) == (303, "/signin")
        assert http.cookies.get(SESSION_COOKIE) is None


async def test_signing_out_needs_the_session_token(reader: IngestClient) -> None:
    async with visitor_of(reader, "jo.operator") as jo:
        for forged in ("", "é", jo.csrf + "x"):
            response = await jo.post("/signout", csrf=forged)
            assert (response.status_code, response.headers["location"]) == (303, "/signin")
            assert (await jo.get("/board")).status_code == 200, forged  # still signed in
        response = await jo.post("/signout")
        assert (response.status_code, response.headers["location"]) == (303, "/signin")
        assert jo.http.cookies.get(SESSION_COOKIE) is None
        assert (await jo.get("/board")).status_code == 303


NEXT_PATHS = [
    ("/board?sector=beni&mine=1", "/board?sector=beni&mine=1"),
    ("//evil.example", "/board"),
    ("https://evil.example/board", "/board"),
    ("/\\evil.example", "/board"),
    ("javascript:alert(1)", "/board"),
]


async def test_signing_in_comes_back_to_a_page_of_the_board_only(reader: IngestClient) -> None:
    for wanted, lands in NEXT_PATHS:
        async with browser(reader) as http:
            page = await http.get("/signin", params={"next": wanted})
            assert f'name="next" value="{lands}"' in page.text.replace("&amp;", "&"), wanted
            nonce = http.cookies.get(SIGNIN_COOKIE)
            response = await http.post(
                "/signin", data={"person": "awa.hfo", CSRF_FIELD: nonce, "next": wanted}
            )
            assert (response.status_code, response.headers["location"]) == (303, lands)


def _secret() -> str:
    return secrets.token_urlsafe(48)


async def test_in_production_there_is_no_person_picker(seeded: Seeded) -> None:
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    production: dict[str, Any] = {
        "env": "production",
        "session_secret": _secret(),
        "link_secret": _secret(),
        "webhook_secret": _secret(),
        "source_keys": f"test-2026:{key}",
    }
    async with reading(seeded, **production) as client, browser(client, https=True) as http:
        page = await http.get("/signin")
        assert page.status_code == 200
        assert "data-person" not in page.text
        for person in DEMO.people:
            assert f'value="{person.id}"' not in page.text
        nonce = http.cookies.get(SIGNIN_COOKIE) or "none"
        response = await http.post(
            "/signin", data={"person": "jo.operator", CSRF_FIELD: nonce, "next": "/board"}
        )
        assert (response.status_code, response.headers["location"]) == (303, "/signin")
        assert SESSION_COOKIE not in response.cookies
        assert http.cookies.get(SESSION_COOKIE) is None
        board = await http.get("/board")
        assert board.status_code == 303
        # and the development session secret signs nothing there
        forged = await http.get("/board", headers={"Cookie": f"{SESSION_COOKIE}={_token()}"})
        assert forged.status_code == 303


# --------------------------------------------------------------------------- CSRF


EXEMPT = {
    "/signin",  # its own double-submit cookie (test_the_sign_in_form_needs_its_own_cookie)
    "/signout",  # signing out is harmless: without the token it does nothing
    "/l/{token}",  # a one-time link is its own proof, for someone not signed in
}
RAISE_FORM = {
    "title": "Armed men near Mavivi",
    "description": "Twenty armed men seen moving toward the IDP site",
    "category": "abduction",
    "severity": "severe",
    "urgency": "immediate",
    "certainty": "observed",
    "sector": "beni",
    "location.name": "Mavivi",
    "location.lat": "0,55",  # a decimal comma, as a French keyboard types it
    "location.lon": "29.47",
    "origin": "community",
    "classification": "confidential",
    "source.name": SOURCE["name"],
    "source.contact": SOURCE["contact"],
}
# Everything any board form reads, valid: only the CSRF token is missing.
ANY_FORM = {
    **RAISE_FORM,
    "idempotency_key": str(uuid4()),
    "note": "Patrol sent",
    "back": "/board",
    "response": "accepted",
    "reason": "on our way",
    "persons": "awa.hfo",
    "subject": "Patrol",
    "body": "Patrol at 14:00",
}


def board_forms() -> list[str]:
    """Every path a module of the board posts to (found, so that none is forgotten)."""
    package = services.ingest.board
    found: set[str] = set()
    for module in pkgutil.iter_modules(package.__path__):
        router = getattr(
            importlib.import_module(f"{package.__name__}.{module.name}"), "router", None
        )
        if isinstance(router, APIRouter):
            found.update(
                route.path
                for route in router.routes
                if isinstance(route, APIRoute) and "POST" in (route.methods or ())
            )
    return sorted(found - EXEMPT)


def filled(path: str, alert_id: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: alert_id if m[1] == "alert_id" else str(uuid4()), path)


async def test_every_form_without_the_csrf_token_is_refused(
    seeded: Seeded, reader: IngestClient, seeded_db: Database
) -> None:
    client, db = reader, seeded_db
    alert_id = seeded.ids["urgent"]  # one jo.operator may resolve, awa.hfo acknowledge
    forms = board_forms()
    assert {
        "/alerts/new",
        "/alerts/{alert_id}/acknowledge",
        "/alerts/{alert_id}/resolve",
        "/alerts/{alert_id}/notes",
        "/messages/new",
        "/recommendations/{recommendation_id}/respond",
    } <= set(forms)
    before = await written(db)
    async with visitor_of(client, "jo.operator") as jo, visitor_of(client, "awa.hfo") as awa:
        assert jo.csrf != awa.csrf
        stale = jo.csrf[:-1] + ("A" if jo.csrf[-1] != "A" else "B")
        for path in forms:
            url = filled(path, alert_id)
            for case, response in (
                ("missing", await jo.post_without_csrf(url, ANY_FORM)),
                ("empty", await jo.post(url, ANY_FORM, csrf="")),
                ("another session's", await jo.post(url, ANY_FORM, csrf=awa.csrf)),
                ("altered", await jo.post(url, ANY_FORM, csrf=stale)),
                ("not ASCII", await jo.post(url, ANY_FORM, csrf="é" * len(jo.csrf))),
            ):
                assert response.status_code == 403, (path, case, response.text)
                assert await written(db) == before, (path, case)
        # ... and a JSON body (no form at all) is no way round it
        response = await jo.http.post(f"/alerts/{alert_id}/acknowledge", json={"csrf": jo.csrf})
        assert response.status_code == 403
    assert await written(db) == before


# (who, what, the form, the command staged, its payload besides the alert's id)
COMMANDS: list[tuple[str, str, dict[str, str], str, dict[str, str | None]]] = [
    (
        "awa.hfo",
        "acknowledge",
        {},
        "alert.acknowledge",
        {"person_id": "awa.hfo", "community_message": None},
    ),
    (
        "jo.operator",
        "resolve",
        {"note": "  Patrol back, all safe "},
        "alert.resolve",
        {"person_id": "jo.operator", "note": "Patrol back, all safe", "community_message": None},
    ),
    (
        "jo.operator",
        "notes",
        {"note": "Patrol sent"},
        "alert.add_note",
        {"person_id": "jo.operator", "text": "Patrol sent"},
    ),
]


@ON_POSTGRESQL
async def test_a_command_from_the_board_is_staged_for_its_person(
    db: Database, client: IngestClient
) -> None:
    for person_id, action, form, staged_type, payload in COMMANDS:
        alert_id = await raise_alert(client)
        await set_state(db, alert_id)  # paged awa.hfo
        before = len(await outbox(db))
        async with visitor_of(client, person_id) as visitor:
            page = await visitor.get(f"/alerts/{alert_id}")
            assert f'action="/alerts/{alert_id}/{action}"' in page.text, action
            assert hidden(page.text, CSRF_FIELD) == visitor.csrf
            response = await visitor.post(f"/alerts/{alert_id}/{action}", form)
            assert response.status_code == 303, response.text
            assert response.headers["location"] == f"/alerts/{alert_id}"
            # nothing decides without a router: the page says the command is pending
            after = await visitor.get(response.headers["location"])
            assert "notice-pending" in after.text, action
        [staged] = (await outbox(db))[before:]
        assert staged.type == staged_type
        assert staged.actor == person_id
        assert staged.correlation_id == UUID(alert_id)
        assert staged.classification.value == "confidential"
        assert staged.payload == {"alert_id": alert_id, **payload}


@ON_POSTGRESQL
async def test_only_an_unclassified_alert_offers_its_release_to_those_who_may(
    db: Database, client: IngestClient
) -> None:
    public = await raise_alert(client, classification="unclassified")
    secret = await raise_alert(client)  # confidential
    for alert_id in (public, secret):
        await set_state(db, alert_id)
    release = f'action="/alerts/{public}/release"'
    async with visitor_of(client, "jo.operator") as jo, visitor_of(client, "col.okafor") as col:
        assert release in (await jo.get(f"/alerts/{public}")).text
        assert "/release" not in (await jo.get(f"/alerts/{secret}")).text
        assert "/release" not in (await col.get(f"/alerts/{public}")).text  # not his to do
        before = len(await outbox(db))
        response = await jo.post(f"/alerts/{public}/release", {})
        assert (response.status_code, response.headers["location"]) == (303, f"/alerts/{public}")
    [staged] = (await outbox(db))[before:]
    assert (staged.type, staged.actor) == ("alert.release", "jo.operator")
    assert staged.payload == {"alert_id": public, "person_id": "jo.operator"}


@ON_POSTGRESQL
async def test_a_command_goes_back_to_a_page_of_the_board_only(
    db: Database, client: IngestClient
) -> None:
    alert_id = await raise_alert(client)
    await set_state(db, alert_id)
    async with visitor_of(client, "awa.hfo") as awa:
        for back, lands in [
            ("/board?sector=beni&mine=1", "/board?sector=beni&mine=1"),
            ("//evil.example", "/board"),
            ("https://evil.example", "/board"),
            ("", f"/alerts/{alert_id}"),
        ]:
            response = await awa.post(f"/alerts/{alert_id}/acknowledge", {"back": back})
            assert (response.status_code, response.headers["location"]) == (303, lands), back


async def test_the_board_row_offers_what_the_reader_may_do(
    seeded: Seeded, reader: IngestClient
) -> None:
    urgent = seeded.ids["urgent"]  # paged awa.hfo
    async with visitor_of(reader, "awa.hfo") as awa, visitor_of(reader, "audit.one") as audit:
        mine = (await awa.get("/board")).text
        assert f'action="/alerts/{urgent}/acknowledge"' in mine
        assert f'action="/alerts/{urgent}/resolve"' in mine
        theirs = (await audit.get("/board")).text
        assert urgent in alert_ids(theirs)
        assert 'action="/alerts/' not in theirs  # an auditor acts on nothing


async def test_an_open_alerts_sms_code_is_on_its_row_and_page(
    seeded: Seeded, reader: IngestClient
) -> None:
    # What an officer paged by SMS replies with, and what the JOC sees to match it.
    urgent = seeded.ids["urgent"]
    async with visitor_of(reader, "awa.hfo") as awa:
        assert '<span class="code">SMS code 4821</span>' in (await awa.get("/board")).text
        page = (await awa.get(f"/alerts/{urgent}")).text
        assert "replying ACK 4821 from a registered phone acknowledges it" in page
        await awa.get("/language/fr")
        assert "répondre ACC 4821" in (await awa.get(f"/alerts/{urgent}")).text


async def test_a_person_without_the_right_is_refused_and_nothing_staged(
    seeded: Seeded, reader: IngestClient, seeded_db: Database
) -> None:
    db, alert_id = seeded_db, seeded.ids["urgent"]  # one the auditor sees
    before = await written(db)
    async with visitor_of(reader, "audit.one") as auditor:
        for action, form in [
            ("acknowledge", {}),
            ("resolve", {"note": "closing"}),
            ("notes", {"note": "seen"}),
            ("release", {}),
        ]:
            response = await auditor.post(f"/alerts/{alert_id}/{action}", form)
            assert response.status_code == 303, action
            page = await auditor.get(response.headers["location"])
            assert "notice-refused" in page.text, action
            assert "audit.one (auditor)" in page.text  # the refusal names the role
            assert await written(db) == before, action
        raised = await auditor.post("/alerts/new", {**RAISE_FORM, "idempotency_key": "k1"})
        assert raised.status_code == 403
    assert await written(db) == before


# --------------------------------------------------------------------------- raise form


REQUIRED = (
    "title",
    "category",
    "severity",
    "urgency",
    "certainty",
    "sector",
    "location.name",
    "origin",
)
FIELDS = (*REQUIRED, "description", "location.lat", "location.lon", "classification")


def marked(html: str, field: str) -> bool:
    """The field is marked invalid and its error is shown beside it."""
    invalid = re.search(rf'id="f-{re.escape(field)}"[^>]*aria-invalid="true"', html)
    return bool(invalid) and f'id="e-{field}"' in html


def marked_fields(html: str) -> set[str]:
    return {field for field in FIELDS if marked(html, field)}


# (who, what is changed in a valid form, the field marked)
WRONG_FIELDS = [
    *[("jo.operator", {field: ""}, field) for field in REQUIRED],
    ("jo.operator", {"location.lat": "north"}, "location.lat"),
    ("jo.operator", {"location.lat": "95"}, "location.lat"),
    ("jo.operator", {"location.lon": "-181"}, "location.lon"),
    ("jo.operator", {"sector": "atlantis"}, "sector"),
    ("jo.operator", {"severity": "catastrophic"}, "severity"),
    ("jo.operator", {"title": "x" * 201}, "title"),
    ("lt.mbeki", {"classification": "confidential"}, "classification"),  # above clearance
]


async def test_a_wrong_form_is_shown_again_with_its_errors_and_nothing_written(
    reader: IngestClient, seeded_db: Database
) -> None:
    before = await written(seeded_db)
    async with visitor_of(reader, "jo.operator") as jo, visitor_of(reader, "lt.mbeki") as mbeki:
        page = await jo.get("/alerts/new")
        assert page.status_code == 200
        key = hidden(page.text, "idempotency_key")
        empty = await jo.post("/alerts/new", {"idempotency_key": key})
        assert empty.status_code == 422
        assert marked_fields(empty.text) == set(REQUIRED)
        assert hidden(empty.text, "idempotency_key") == key  # the same form, to send again
        for person_id, change, field in WRONG_FIELDS:
            visitor = jo if person_id == "jo.operator" else mbeki
            form = {**RAISE_FORM, **change, "idempotency_key": key}
            response = await visitor.post("/alerts/new", form)
            assert response.status_code == 422, (change, response.text)
            assert marked_fields(response.text) == {field}, change
            if field != "location.name":
                assert 'value="Mavivi"' in response.text  # what was typed is kept
            assert await written(seeded_db) == before, change


@ON_POSTGRESQL
async def test_the_same_form_posted_twice_is_one_alert(db: Database, client: IngestClient) -> None:
    async with visitor_of(client, "jo.operator") as jo:
        key = hidden((await jo.get("/alerts/new")).text, "idempotency_key")
        first = await jo.post("/alerts/new", {**RAISE_FORM, "idempotency_key": key})
        assert first.status_code == 303, first.text
        location = first.headers["location"]
        assert re.fullmatch(r"/alerts/[0-9a-f-]{36}", location)
        page = await jo.get(location)
        assert page.status_code == 200
        assert RAISE_FORM["title"] in page.text
        assert "notice-done" in page.text
        assert SOURCE["name"] not in page.text
        assert SOURCE["contact"] not in page.text

        again = await jo.post("/alerts/new", {**RAISE_FORM, "idempotency_key": key})
        assert (again.status_code, again.headers["location"]) == (303, location)
        assert await db.count(AlertViewRecord) == 1
        # the same form changed after it was sent: refused, not a second alert
        changed = await jo.post(
            "/alerts/new", {**RAISE_FORM, "title": "Other", "idempotency_key": key}
        )
        assert changed.status_code == 409
        assert hidden(changed.text, "idempotency_key") != key  # a new form
    assert await db.count(AlertViewRecord) == 1
    raised = [e for e in await outbox(db) if e.type == "alert.raised"]
    assert len(raised) == 1
    assert raised[0].actor == "jo.operator"
    assert raised[0].payload["location"] == {"name": "Mavivi", "lat": 0.55, "lon": 29.47}


# --------------------------------------------------------------------------- messages


@ON_POSTGRESQL
async def test_a_crafted_answer_within_is_a_form_error_not_a_crash(
    db: Database, client: IngestClient
) -> None:
    """The compose form offers 1 to 72 hours; any other value posted is refused or ignored."""
    message = {
        "persons": "awa.hfo",
        "subject": "Patrol",
        "body": "Patrol at 14:00",
        "classification": "unclassified",
        "requires_ack": "1",
    }
    async with visitor_of(client, "jo.operator") as jo:
        for within in ("²", "9" * 30):  # digits to str.isdigit(), not to int() / timedelta
            form = {**message, "ack_within": within, "idempotency_key": str(uuid4())}
            response = await jo.post("/messages/new", form)
            assert response.status_code in (303, 422), (within, response.text)


# --------------------------------------------------------------------------- filters, counters


async def test_an_unknown_filter_is_400_naming_it(reader: IngestClient) -> None:
    async with visitor_of(reader, "jo.operator") as jo:
        for path, named in [
            ("/board?severity=bogus", "severity"),
            ("/board?status=nope", "status"),
            ("/board?sector=atlantis", "sector"),
            ("/board/rows?origin=navy", "origin"),
            ("/map?category=riot", "category"),
        ]:
            response = await jo.get(path)
            assert response.status_code == 400, path
            problem = re.search(r'<p class="problem">(.*?)</p>', response.text, re.DOTALL)
            assert problem, path
            assert problem.group(1).strip().startswith(named), path
            assert path.rsplit("=", 1)[1] in problem.group(1), path


async def seed_counted(db: Database, client: httpx.AsyncClient) -> dict[str, str]:
    """Alerts in every state the counters count, and one the JOC may not see."""
    ids: dict[str, str] = {}
    states: list[tuple[str, str, dict[str, Any], float | None]] = [
        ("triggered", "beni", {}, None),
        ("triggered_exhausted", "beni", {"exhausted": True}, None),
        ("acknowledged", "beni", {"status": "acknowledged"}, None),
        ("acknowledged_exhausted", "south", {"status": "acknowledged", "exhausted": True}, None),
        ("resolved_1h", "beni", {"status": "resolved"}, 1),
        ("resolved_30h", "south", {"status": "resolved"}, 30),
        # the router keeps ``exhausted`` when an alert that ran out is resolved
        ("resolved_exhausted_2h", "beni", {"status": "resolved", "exhausted": True}, 2),
    ]
    for name, sector, state, hours_ago in states:
        ids[name] = await raise_alert(client, sector=sector, title=name)
        await set_state(db, ids[name], **state)
        if hours_ago is not None:
            await resolved_at(db, ids[name], hours_ago)
    ids["raised"] = await raise_alert(client, sector="north", title="raised")
    ids["hidden"] = await raise_alert(client, "awa.hfo", classification="strictly_confidential")
    await set_state(db, ids["hidden"], exhausted=True)
    return ids


async def test_the_counters(counted: Seeded, counting: IngestClient) -> None:
    ids = counted.ids
    async with visitor_of(counting, "jo.operator") as jo:
        everything = {"triggered": 2, "acknowledged": 2, "resolved": 2, "exhausted": 2}
        assert counters((await jo.get("/board")).text) == everything
        assert counters((await jo.get("/board/rows")).text) == everything
        # the counters leave out the filters they set, and keep the others
        assert counters((await jo.get("/board?status=resolved")).text) == everything
        assert counters((await jo.get("/board?exhausted=1")).text) == everything
        assert counters((await jo.get("/board?recent=1")).text) == everything
        assert counters((await jo.get("/board?sector=beni")).text) == {
            "triggered": 2,
            "acknowledged": 1,
            "resolved": 2,
            "exhausted": 1,
        }
        assert counters((await jo.get("/board?sector=north")).text) == dict.fromkeys(everything, 0)
        links = counter_links((await jo.get("/board?sector=beni")).text)
        assert set(links) == set(everything)
        assert all("sector=beni" in link for link in links.values()), links
        recent = alert_ids((await jo.get("/board?status=resolved&recent=1")).text)
        assert set(recent) == {ids["resolved_1h"], ids["resolved_exhausted_2h"]}


async def test_each_counter_links_to_as_many_alerts_as_it_counts(counting: IngestClient) -> None:
    async with visitor_of(counting, "jo.operator") as jo:
        mismatches = []
        for board in ("/board", "/board?sector=beni", "/board?sector=south"):
            page = (await jo.get(board)).text
            counted = counters(page)
            for name, link in counter_links(page).items():
                shown = len(alert_ids((await jo.get(link)).text))
                if shown != counted[name]:
                    mismatches.append(
                        f"{board}: {name} counts {counted[name]}, {link} lists {shown}"
                    )
        assert mismatches == []


# --------------------------------------------------------------------------- map


async def test_a_sector_outline_the_directory_accepts_is_drawn(seeded: Seeded) -> None:
    """An outline without a ring is either refused with the directory or drawn (as nothing)."""
    data = DEMO.content()
    data["sector_areas"]["beni"] = {"type": "Polygon", "coordinates": []}
    try:
        directory = Directory.model_validate(data)
    except ValidationError:
        return  # refused when the directory is loaded: the map never sees it
    async with (
        reading(seeded, directory) as client,
        visitor_of(client, "jo.operator") as jo,
    ):
        drawn = await jo.get("/map")
        assert drawn.status_code == 200
        assert alert_links(drawn.text) == set(await api_list(client, "jo.operator"))


# --------------------------------------------------------------------------- reports, audit


async def test_the_reports_are_for_the_roles_that_report(reader: IngestClient) -> None:
    async with visitor_of(reader, "jo.operator") as jo, visitor_of(reader, "awa.hfo") as awa:
        assert (await jo.get("/reports")).status_code == 403
        assert 'href="/reports"' not in (await jo.get("/board")).text
        report = await awa.get("/reports")
        assert report.status_code == 200
        assert "<svg" in report.text
        assert 'href="/reports"' in (await awa.get("/board")).text


@ON_POSTGRESQL
async def test_the_audit_log_is_for_auditors_and_reading_it_is_on_the_log(
    db: Database, client: IngestClient
) -> None:
    def accesses(envelopes: list[Envelope]) -> list[dict[str, Any]]:
        return [e.payload | {"actor": e.actor} for e in envelopes if e.type == "audit.accessed"]

    async with visitor_of(client, "jo.operator") as jo:
        assert (await jo.get("/audit")).status_code == 403
        assert (await jo.get("/audit/export.jsonl")).status_code == 403
        assert 'href="/audit"' not in (await jo.get("/board")).text
    assert accesses(await outbox(db)) == []

    alert_id = str(uuid4())
    async with visitor_of(client, "audit.one") as auditor:
        page = await auditor.get("/audit", params={"alert": alert_id})
        assert page.status_code == 200
        assert 'href="/audit"' in (await auditor.get("/board")).text
        export = await auditor.get("/audit/export.jsonl")
        assert export.status_code == 200
        assert export.headers["content-type"].startswith("application/x-ndjson")
    [listed, exported] = accesses(await outbox(db))
    assert listed["person_id"] == listed["actor"] == "audit.one"
    assert listed["via"] == "board"
    assert listed["action"] == "list"
    assert alert_id in listed["filters"].values()
    assert not listed.get("protected_revealed")  # audit.one is not cleared for sources
    assert (exported["via"], exported["action"]) == ("board", "export")


# --------------------------------------------------------------------------- language


async def test_the_board_speaks_french_when_asked(reader: IngestClient) -> None:
    async with visitor_of(reader, "jo.operator") as jo:
        english = await jo.get("/board")
        assert '<html lang="en">' in english.text
        assert english.headers["content-language"] == "en"

        chosen = await jo.get("/language/fr", params={"next": "/board?sector=beni"})
        assert (chosen.status_code, chosen.headers["location"]) == (303, "/board?sector=beni")
        assert jo.http.cookies.get(LANGUAGE_COOKIE) == "fr"
        for path in ("/board", "/board/rows", "/map", "/alerts/new", "/messages", "/reports"):
            french = await jo.get(path)
            assert french.headers["content-language"] == "fr", path
        french = await jo.get("/board")
        assert '<html lang="fr">' in french.text

        # a language the board does not speak changes nothing
        await jo.get("/language/de")
        assert jo.http.cookies.get(LANGUAGE_COOKIE) == "fr"
        escaped = await jo.get("/language/fr", params={"next": "//evil.example"})
        assert escaped.headers["location"] == "/board"

    async with browser(reader) as http:
        page = await http.get("/signin", headers={"Cookie": f"{LANGUAGE_COOKIE}=fr"})
        assert '<html lang="fr">' in page.text
        assert page.headers["content-language"] == "fr"
        page = await http.get("/signin", headers={"Accept-Language": "fr-CD,fr;q=0.9"})
        assert page.headers["content-language"] == "fr"
