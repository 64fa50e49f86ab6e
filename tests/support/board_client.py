"""The board of an in-process ingest app, driven over HTTP as a browser would, without one.

:func:`visitor_of` gives each person a client of their own on the same app (their own
cookies, so their own session) signed in with the development picker, as the sign-in page's
form does: ``GET /signin`` sets the ``coord_signin`` cookie, and the form posts it back as
``csrf``. What the pages say is read through the hooks the templates promise
(``data-alert-id``, ``data-counter``, ``id="e-<field>"``...), never through their words,
which are translated.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt

from services.ingest.alerts.projections import apply_event
from services.ingest.board.session import CSRF_FIELD, SESSION_COOKIE
from services.ingest.board.signin import SIGNIN_COOKIE
from shared.envelope import Envelope
from tests.support.builders import state_changed
from tests.support.database import Database

_ALERT_ID = re.compile(r'data-alert-id="([0-9a-f-]{36})"')
_ALERT_LINK = re.compile(r'href="/alerts/([0-9a-f-]{36})"')
_COUNTER = re.compile(r'data-counter="(\w+)">\s*(\d+)\s*<')
_HIDDEN = r'name="{name}" value="([^"]*)"'


@dataclass
class Visitor:
    """A person signed in to the board, in a client of their own, and their session's token."""

    person_id: str
    http: httpx.AsyncClient
    csrf: str

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        """``GET path`` with the session cookie."""
        return await self.http.get(path, **kwargs)

    async def post(
        self, path: str, data: dict[str, Any] | None = None, *, csrf: str | None = None
    ) -> httpx.Response:
        """Post a form with the session's CSRF token (``csrf``: another value instead)."""
        form = {CSRF_FIELD: self.csrf if csrf is None else csrf, **(data or {})}
        return await self.http.post(path, data=form)

    async def post_without_csrf(
        self, path: str, data: dict[str, Any] | None = None
    ) -> httpx.Response:
        """Post a form that carries no CSRF token at all (another site's form)."""
        return await self.http.post(path, data=data or {})


@asynccontextmanager
async def browser(
    client: httpx.AsyncClient, *, https: bool = False
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the same app as ``client`` with cookies of its own (a browser of its own).

    ``https``: the board's address is https, so that Secure cookies (outside development)
    are sent back as a browser would.
    """
    base = client.base_url.copy_with(scheme="https") if https else client.base_url
    # The ASGI transport holds the app only: sharing it shares no state but the app's.
    async with httpx.AsyncClient(transport=client._transport, base_url=base) as http:
        yield http


async def sign_in(http: httpx.AsyncClient, person_id: str, next_path: str = "/board") -> str:
    """Sign ``http`` in as ``person_id`` with the development picker; the session's CSRF token."""
    page = await http.get("/signin", params={"next": next_path})
    assert page.status_code == 200, page.text
    nonce = http.cookies.get(SIGNIN_COOKIE)
    assert nonce, "the sign-in page sets its double-submit cookie"
    assert f'value="{nonce}"' in page.text, "... and its form carries the same value"
    response = await http.post(
        "/signin", data={"person": person_id, CSRF_FIELD: nonce, "next": next_path}
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == next_path
    cookie = http.cookies.get(SESSION_COOKIE)
    assert cookie, f"no session cookie after signing in as {person_id}"
    claims = jwt.decode(cookie, options={"verify_signature": False})
    assert claims["sub"] == person_id
    return str(claims[CSRF_FIELD])


@asynccontextmanager
async def visitor_of(client: httpx.AsyncClient, person_id: str) -> AsyncIterator[Visitor]:
    """``person_id`` signed in to the board of ``client``'s app, in a browser of their own."""
    async with browser(client) as http:
        yield Visitor(person_id, http, await sign_in(http, person_id))


# --------------------------------------------------------------------------- reading pages


def alert_ids(html: str) -> list[str]:
    """The alerts a page shows as rows or pins (``data-alert-id``), in page order."""
    return _ALERT_ID.findall(html)


def alert_links(html: str) -> set[str]:
    """Every alert a page links to (``href="/alerts/<id>"``)."""
    return set(_ALERT_LINK.findall(html))


def counters(html: str) -> dict[str, int]:
    """The board's counters: ``triggered``, ``acknowledged``, ``resolved``, ``exhausted``."""
    return {name: int(count) for name, count in _COUNTER.findall(html)}


def counter_links(html: str) -> dict[str, str]:
    """Where each counter links to (its ``href``), by counter name."""
    found = re.findall(
        r'<a class="counter counter-(\w+)" href="([^"]*)"', html.replace("&amp;", "&")
    )
    return dict(found)


def hidden(html: str, name: str) -> str:
    """The value of the page's first hidden field ``name``."""
    match = re.search(_HIDDEN.format(name=re.escape(name)), html)
    assert match, f"no field {name!r} on the page"
    return match.group(1)


def next_of(location: str) -> str:
    """The ``next`` a sign-in redirect (``/signin?next=...``) comes back to."""
    parts = urlsplit(location)
    assert parts.path == "/signin", location
    [wanted] = parse_qs(parts.query)["next"]
    return wanted


# --------------------------------------------------------------------------- writing views


async def set_state(db: Database, alert_id: str, **fields: Any) -> None:
    """Apply the router's ``alert.state_changed`` (``tests.support.builders``) to the view."""
    await apply(db, state_changed(alert_id, **fields))


async def apply(db: Database, envelope: Envelope) -> None:
    """Apply one event to ingest's views, as its consumer would."""
    async with db.sessions() as session, session.begin():
        await apply_event(session, envelope)
