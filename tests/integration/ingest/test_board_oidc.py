"""The board's production sign-in: OpenID Connect, authorization code flow with PKCE.

Ingest runs in-process (``COORD_ENV=production``, secrets of its own, ``COORD_OIDC_ISSUER``
a real identity provider served over HTTP on 127.0.0.1: tests/support/identity_provider.py).
The test is the browser: it asks ingest for ``/signin/oidc``, follows the redirect to the
provider with a real HTTP client, takes the provider's redirect back to ingest's callback
with the flow cookie, and keeps the cookies by hand (they are ``Secure``, and ingest is
reached over ``http://`` in-process, so a cookie jar would not send them back).

A sign-in counts only when the session cookie is set; every failure must leave none.
"""

from __future__ import annotations

import re
import string
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from http.cookies import Morsel, SimpleCookie
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import httpx
import jwt
import pytest

from shared.auth import Authenticator
from tests.support.database import Database
from tests.support.identity_provider import (
    AUDIENCE,
    Provider,
    closed_port,
    code_challenge,
    identity_provider,
)
from tests.support.ingest_client import IngestClient, ingest_client

# Signing in stores nothing: SQLite alone (for the board page) keeps the module short.
pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]

PUBLIC_URL = "http://ingest.test"
CALLBACK_URL = f"{PUBLIC_URL}/signin/callback"
FLOW_COOKIE = "coord_oidc"
SESSION_COOKIE = "coord_session"
FLOW_AUDIENCE = "coord-board-signin"  # services/ingest/board/oidc.py
NEXT = "/board?status=triggered"

# Secrets of the deployment's own (none of shared/settings.py's published defaults), as
# tests/integration/cli/test_deployable.py sets them.
JWT_SECRET = "deployment-jwt-" + "0123456789abcdef" * 3
SESSION_SECRET = "deployment-session-" + "99887766554433221100" * 2
SECRETS = {
    "source_keys": "prod-1:" + "A" * 43,
    "webhook_secret": "deployment-hook-" + "fedcba9876543210" * 3,
    "link_secret": "deployment-link-" + "00112233445566778899" * 2,
    "session_secret": SESSION_SECRET,
}

# What the sign-in page says when the sign-in failed (templates/signin.html).
NOT_IN_DIRECTORY = "you are not in this mission's directory"
UNREACHABLE = "The identity provider cannot be reached"
PKCE_REFUSED = "PKCE verifier does not match the code challenge"
ANOTHER_NONCE = "the-nonce-of-another-sign-in"
# RFC 7636 4.1: 43 to 128 characters of [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~".
VERIFIER_CHARACTERS = frozenset(string.ascii_letters + string.digits + "-._~")


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
async def provider() -> AsyncIterator[Provider]:
    async with identity_provider() as served:
        yield served


@asynccontextmanager
async def production_ingest(
    db: Database, issuer: str, **settings: Any
) -> AsyncIterator[IngestClient]:
    """Ingest as deployed: production, its own secrets, signing in at ``issuer``."""
    async with (
        Authenticator(secret=None, issuer=issuer, audience=AUDIENCE) as authenticator,
        ingest_client(
            db,
            JWT_SECRET,
            authenticator=authenticator,
            env="production",
            oidc_issuer=issuer,
            oidc_audience=AUDIENCE,
            public_url=PUBLIC_URL,
            **{**SECRETS, **settings},
        ) as client,
    ):
        yield client


@pytest.fixture
async def ingest(db: Database, provider: Provider) -> AsyncIterator[IngestClient]:
    async with production_ingest(db, provider.issuer) as client:
        yield client


@pytest.fixture
async def browser() -> AsyncIterator[httpx.AsyncClient]:
    """The browser's way to the identity provider (a real HTTP client, no redirects)."""
    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as client:
        yield client


# --------------------------------------------------------------------------- the browser


def set_cookies(response: httpx.Response) -> dict[str, Morsel[str]]:
    """The cookies ``response`` sets (or deletes), by name, with their attributes."""
    cookies: SimpleCookie = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        cookies.load(header)
    return dict(cookies.items())


def deleted(morsel: Morsel[str]) -> bool:
    """Whether a Set-Cookie drops the cookie."""
    return morsel.value in ("", '""') or morsel["max-age"] == "0"


def assert_no_session(response: httpx.Response) -> None:
    """``response`` signs nobody in."""
    session = set_cookies(response).get(SESSION_COOKIE)
    assert session is None or deleted(session), response.headers.get_list("set-cookie")


async def visit(
    ingest: IngestClient, url: str, cookies: Mapping[str, str] | None = None
) -> httpx.Response:
    """GET ``url`` on ingest as the browser would, sending exactly ``cookies``."""
    ingest.cookies.clear()  # the test keeps the cookies, not the client's jar
    headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in (cookies or {}).items())}
    return await ingest.get(url, headers=headers if cookies else None)


def query_of(url: str) -> dict[str, str]:
    """The query of ``url``, one value a name (a repeated name fails the test)."""
    parsed = parse_qs(urlsplit(url).query, keep_blank_values=True)
    assert all(len(values) == 1 for values in parsed.values()), url
    return {name: values[0] for name, values in parsed.items()}


def flow_claims(cookie: str) -> dict[str, Any]:
    """What the flow cookie holds (its signature checked with the session secret)."""
    claims: dict[str, Any] = jwt.decode(
        cookie, SESSION_SECRET, algorithms=["HS256"], audience=FLOW_AUDIENCE
    )
    return claims


def resigned_flow(cookie: str, **changes: Any) -> str:
    """The flow cookie with ``changes``, signed again as only ingest (or its secret) can."""
    return jwt.encode({**flow_claims(cookie), **changes}, SESSION_SECRET, algorithm="HS256")


@dataclass
class Started:
    """A sign-in under way: ingest sent the browser to the provider with a flow cookie."""

    authorize_url: str
    flow_cookie: str
    flow_morsel: Morsel[str]


async def start(ingest: IngestClient, next_path: str = NEXT) -> Started:
    """Click "sign in with the mission's identity provider"."""
    response = await visit(ingest, f"/signin/oidc?next={quote(next_path, safe='')}")
    assert response.status_code == 303, response.text
    flow = set_cookies(response)[FLOW_COOKIE]
    return Started(response.headers["location"], flow.value, flow)


async def authorize(browser: httpx.AsyncClient, started: Started) -> str:
    """Sign in at the provider: the URL it sends the browser back to (ingest's callback)."""
    response = await browser.get(started.authorize_url)
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(CALLBACK_URL + "?"), location
    return location


async def come_back(ingest: IngestClient, callback_url: str, flow_cookie: str) -> httpx.Response:
    """The provider's redirect reaches ingest, with the flow cookie."""
    return await visit(ingest, callback_url, {FLOW_COOKIE: flow_cookie})


async def sign_in(
    ingest: IngestClient, browser: httpx.AsyncClient, next_path: str = NEXT
) -> httpx.Response:
    """The whole round trip: ingest's answer to the callback."""
    started = await start(ingest, next_path)
    return await come_back(ingest, await authorize(browser, started), started.flow_cookie)


class Page(HTMLParser):
    """What a board page shows: its links, its person buttons, its text, its alert."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.links: list[str] = []
        self.person_buttons: list[str] = []
        self._text: list[str] = []
        self._alert: list[str] | None = None
        self._alert_tag: str | None = None
        self.alert: str | None = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "a" and values.get("href"):
            self.links.append(str(values["href"]))
        if tag == "button" and "data-person" in values:
            self.person_buttons.append(str(values["data-person"]))
        if values.get("role") == "alert" and self._alert_tag is None:
            self._alert, self._alert_tag = [], tag

    def handle_endtag(self, tag: str) -> None:
        if tag == self._alert_tag and self._alert is not None:
            self.alert = " ".join(" ".join(self._alert).split())
            self._alert, self._alert_tag = None, None

    def handle_data(self, data: str) -> None:
        self._text.append(data)
        if self._alert is not None:
            self._alert.append(data)

    @property
    def text(self) -> str:
        """The page's text, whitespace collapsed."""
        return " ".join(" ".join(self._text).split())


def failure_of(response: httpx.Response) -> str:
    """Why the sign-in page says the sign-in failed."""
    assert response.headers["content-type"].startswith("text/html"), response.text
    alert = Page(response.text).alert
    assert alert is not None, response.text
    return alert


# --------------------------------------------------------------------------- signing in


async def test_signing_in_at_the_provider_lands_on_next_signed_in(
    ingest: IngestClient, provider: Provider, browser: httpx.AsyncClient
) -> None:
    # 1. Ingest sends the browser to the provider's authorization endpoint.
    started = await start(ingest)
    assert started.authorize_url.startswith(provider.authorization_endpoint + "?")
    query = query_of(started.authorize_url)
    flow = flow_claims(started.flow_cookie)
    assert query == {
        "response_type": "code",
        "client_id": AUDIENCE,
        "redirect_uri": CALLBACK_URL,
        "scope": "openid",
        "state": flow["state"],
        "nonce": flow["nonce"],
        "code_challenge": code_challenge(flow["verifier"]),
        "code_challenge_method": "S256",
    }
    verifier = flow["verifier"]
    assert 43 <= len(verifier) <= 128
    assert set(verifier) <= VERIFIER_CHARACTERS
    assert len({flow["state"], flow["nonce"], verifier}) == 3
    assert flow["next"] == NEXT
    # The flow cookie: only for the callback, out of scripts' reach, HTTPS only, short-lived.
    morsel = started.flow_morsel
    assert morsel["path"] == "/signin/callback"
    assert morsel["httponly"]
    assert morsel["secure"]
    assert morsel["samesite"].lower() == "lax"
    assert 0 < int(morsel["max-age"]) <= 600

    # 2. The provider signs Awa in and sends the browser back with a code and the state.
    callback_url = await authorize(browser, started)
    assert provider.authorize_requests == [query]
    back = query_of(callback_url)
    assert back["state"] == flow["state"]
    assert back["code"]

    # 3. Ingest trades the code (with the verifier) for an ID token, and opens a session.
    response = await come_back(ingest, callback_url, started.flow_cookie)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == NEXT
    assert provider.token_requests == [
        {
            "grant_type": "authorization_code",
            "code": back["code"],
            "redirect_uri": CALLBACK_URL,
            "client_id": AUDIENCE,
            "code_verifier": verifier,
        }
    ]
    assert provider.token_authorizations == [None]  # a public client: PKCE, no secret
    assert provider.refusals == []
    cookies = set_cookies(response)
    session = cookies[SESSION_COOKIE]
    assert session.value
    assert not deleted(session)
    assert session["path"] == "/"
    assert session["httponly"]
    assert session["secure"]
    assert deleted(cookies[FLOW_COOKIE])  # the flow is over
    assert cookies[FLOW_COOKIE]["path"] == "/signin/callback"

    # 4. The session is Awa's.
    board = await visit(ingest, NEXT, {SESSION_COOKIE: session.value})
    assert board.status_code == 200, board.text
    assert "Awa Ndiaye" in Page(board.text).text


async def test_each_sign_in_has_its_own_state_nonce_and_verifier(ingest: IngestClient) -> None:
    first, second = [flow_claims((await start(ingest)).flow_cookie) for _ in range(2)]
    for claim in ("state", "nonce", "verifier"):
        assert first[claim] != second[claim], claim


async def test_a_next_off_the_site_lands_on_the_board(
    ingest: IngestClient, browser: httpx.AsyncClient
) -> None:
    response = await sign_in(ingest, browser, "https://evil.example/board")
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/board"
    assert SESSION_COOKIE in set_cookies(response)


@pytest.mark.parametrize("secret", ["the-client-secret", "not-the-client-secret"])
async def test_a_confidential_client_authenticates_with_its_secret(
    db: Database, provider: Provider, browser: httpx.AsyncClient, secret: str
) -> None:
    provider.client_secret = "the-client-secret"  # noqa: S105 - a test provider's
    async with production_ingest(db, provider.issuer, oidc_client_secret=secret) as ingest:
        response = await sign_in(ingest, browser)
    authorization = provider.token_authorizations[0]
    assert authorization is not None
    assert authorization.startswith("Basic ")
    if secret == provider.client_secret:
        assert response.status_code == 303, response.text
        assert SESSION_COOKIE in set_cookies(response)
    else:
        assert response.status_code == 400, response.text
        assert "the identity provider refused the sign-in (401)" in failure_of(response)
        assert provider.refusals == ["client authentication failed"]
        assert_no_session(response)


# --------------------------------------------------------------------------- refused


async def test_a_tampered_state_is_refused_before_the_code_is_traded(
    ingest: IngestClient, provider: Provider, browser: httpx.AsyncClient
) -> None:
    started = await start(ingest)
    back = query_of(await authorize(browser, started))
    forged = f"{CALLBACK_URL}?{urlencode({**back, 'state': back['state'] + 'x'})}"
    response = await come_back(ingest, forged, started.flow_cookie)
    assert response.status_code == 400, response.text
    assert "(state)" in failure_of(response)
    assert_no_session(response)
    assert provider.token_requests == []


async def test_the_answer_to_another_sign_in_is_refused(
    ingest: IngestClient, provider: Provider, browser: httpx.AsyncClient
) -> None:
    """The code of one sign-in, brought back to a browser that started another (CSRF)."""
    theirs = await start(ingest)
    mine = await start(ingest)
    response = await come_back(ingest, await authorize(browser, theirs), mine.flow_cookie)
    assert response.status_code == 400, response.text
    assert "(state)" in failure_of(response)
    assert_no_session(response)
    assert provider.token_requests == []


async def test_a_callback_without_the_flow_cookie_is_refused(
    ingest: IngestClient, provider: Provider, browser: httpx.AsyncClient
) -> None:
    callback_url = await authorize(browser, await start(ingest))
    response = await visit(ingest, callback_url)
    assert response.status_code == 400, response.text
    assert "no sign-in in progress" in failure_of(response)
    assert_no_session(response)
    assert provider.token_requests == []


async def test_a_code_signs_in_once(
    ingest: IngestClient, provider: Provider, browser: httpx.AsyncClient
) -> None:
    started = await start(ingest)
    callback_url = await authorize(browser, started)
    first = await come_back(ingest, callback_url, started.flow_cookie)
    assert first.status_code == 303, first.text
    # The same answer again (a replayed URL, with the flow cookie it was issued for).
    again = await come_back(ingest, callback_url, started.flow_cookie)
    assert again.status_code == 400, again.text
    assert "the identity provider refused the sign-in (400)" in failure_of(again)
    assert_no_session(again)
    assert len(provider.token_requests) == 2
    assert provider.refusals == ["unknown or already used code"]


@pytest.mark.parametrize(
    ("nonce", "reason"),
    [
        (ANOTHER_NONCE, "the ID token was not issued for this sign-in (nonce)"),
        ("un-autre-nonce-été", "the ID token was not issued for this sign-in (nonce)"),
        (None, "token has expired"),
    ],
    ids=["other-nonce", "other-nonce-not-ascii", "expired"],
)
async def test_an_untrustworthy_id_token_is_refused(
    ingest: IngestClient,
    provider: Provider,
    browser: httpx.AsyncClient,
    nonce: str | None,
    reason: str,
) -> None:
    """An ID token of another sign-in (its nonce), or one that has expired."""
    provider.id_token_nonce = nonce
    provider.id_token_expired = nonce is None
    response = await sign_in(ingest, browser)
    assert len(provider.issued_id_tokens) == 1  # the provider did answer with a token
    assert response.status_code == 400, response.text
    assert failure_of(response) == f"The sign-in did not complete: {reason}"
    assert_no_session(response)


@pytest.mark.parametrize(
    "verifier", ["another-verifier-" + "x" * 43, ""], ids=["another-verifier", "no-verifier"]
)
async def test_the_code_needs_the_pkce_verifier_of_its_sign_in(
    ingest: IngestClient, provider: Provider, browser: httpx.AsyncClient, verifier: str
) -> None:
    """A flow cookie with another (or no) verifier: the provider's PKCE check refuses."""
    started = await start(ingest)
    callback_url = await authorize(browser, started)
    forged = resigned_flow(started.flow_cookie, verifier=verifier)
    response = await come_back(ingest, callback_url, forged)
    assert provider.token_requests[0]["code_verifier"] == verifier  # ingest sent what it held
    assert provider.refusals == [PKCE_REFUSED]
    assert response.status_code == 400, response.text
    assert "the identity provider refused the sign-in (400)" in failure_of(response)
    assert_no_session(response)


def _tamper_payload(cookie: str) -> str:
    """The flow cookie with another verifier in its payload, the signature left as it was."""
    header, _, signature = cookie.split(".")
    claims = flow_claims(cookie)
    forged = jwt.encode({**claims, "verifier": "mine"}, "not-the-secret-" + "x" * 32, "HS256")
    return f"{header}.{forged.split('.')[1]}.{signature}"


def _tamper_signature(cookie: str) -> str:
    head, _, signature = cookie.rpartition(".")
    return f"{head}.{signature[:-4]}{'AAAA' if signature[-4:] != 'AAAA' else 'BBBB'}"


@pytest.mark.parametrize(
    "tamper",
    [
        _tamper_payload,
        _tamper_signature,
        lambda cookie: resigned_flow(cookie) + "x",
        lambda cookie: jwt.encode(flow_claims(cookie), "not-the-secret-" + "x" * 32, "HS256"),
        lambda cookie: jwt.encode(
            {**flow_claims(cookie), "aud": "coord-board"}, SESSION_SECRET, "HS256"
        ),
        lambda cookie: resigned_flow(cookie, exp=1),
    ],
    ids=["payload", "signature", "garbled", "other-secret", "session-audience", "expired"],
)
async def test_a_tampered_flow_cookie_is_refused(
    ingest: IngestClient,
    provider: Provider,
    browser: httpx.AsyncClient,
    tamper: Callable[[str], str],
) -> None:
    started = await start(ingest)
    callback_url = await authorize(browser, started)
    response = await come_back(ingest, callback_url, tamper(started.flow_cookie))
    assert response.status_code == 400, response.text
    assert "tampered with" in failure_of(response)
    assert_no_session(response)
    assert provider.token_requests == []


async def test_a_person_not_in_the_directory_is_not_signed_in(
    ingest: IngestClient, provider: Provider, browser: httpx.AsyncClient
) -> None:
    provider.subject = "someone.else"  # known to the provider, not to the mission
    response = await sign_in(ingest, browser)
    assert provider.refusals == []
    assert len(provider.issued_id_tokens) == 1
    assert response.status_code == 400, response.text
    assert NOT_IN_DIRECTORY in failure_of(response)
    assert_no_session(response)


async def test_a_provider_refusing_the_code_is_a_failed_sign_in(
    ingest: IngestClient, provider: Provider, browser: httpx.AsyncClient
) -> None:
    provider.refuse_all = True
    response = await sign_in(ingest, browser)
    assert provider.refusals == ["refusing everything"]
    assert response.status_code == 400, response.text
    assert "the identity provider refused the sign-in (400)" in failure_of(response)
    assert_no_session(response)


@pytest.mark.parametrize(
    "body",
    ["{}", '{"id_token": 5}', "[]", '"an-id-token"', "<html>Sign in</html>"],
    ids=["no-id-token", "id-token-not-text", "a-list", "a-string", "not-json"],
)
async def test_a_token_answer_without_an_id_token_is_a_failed_sign_in(
    ingest: IngestClient, provider: Provider, browser: httpx.AsyncClient, body: str
) -> None:
    """A 200 from the token endpoint that is no token answer (a proxy's page, a bug)."""
    provider.token_body = body
    response = await sign_in(ingest, browser)
    assert len(provider.token_requests) == 1
    assert response.status_code == 400, response.text
    assert failure_of(response).startswith("The sign-in did not complete:")
    assert_no_session(response)


async def test_a_state_that_is_not_ascii_is_refused(
    ingest: IngestClient, provider: Provider, browser: httpx.AsyncClient
) -> None:
    """Anyone can craft the callback link: its state is whatever they typed."""
    started = await start(ingest)
    back = query_of(await authorize(browser, started))
    forged = f"{CALLBACK_URL}?{urlencode({**back, 'state': 'état'})}"
    response = await come_back(ingest, forged, started.flow_cookie)
    assert response.status_code == 400, response.text
    assert "(state)" in failure_of(response)
    assert_no_session(response)
    assert provider.token_requests == []


@pytest.mark.parametrize("error", ["access_denied", "unavailable", "not_in_directory"])
async def test_an_error_from_the_provider_is_shown_as_sent(
    ingest: IngestClient, error: str
) -> None:
    """The provider's ``error`` is its word: not one of the board's own reasons."""
    response = await visit(ingest, f"{CALLBACK_URL}?error={error}&state=s")
    assert response.status_code == 400, response.text
    failure = failure_of(response)
    assert failure == f"The sign-in did not complete: {error}"
    assert_no_session(response)


# --------------------------------------------------------------------------- unavailable


async def test_a_failing_provider_at_the_start_is_unavailable(
    ingest: IngestClient, provider: Provider
) -> None:
    provider.failing = True
    response = await visit(ingest, f"/signin/oidc?next={quote(NEXT, safe='')}")
    assert response.status_code == 503, response.text
    assert UNREACHABLE in failure_of(response)
    assert FLOW_COOKIE not in set_cookies(response)


async def test_a_provider_failing_at_the_callback_is_unavailable(
    ingest: IngestClient, provider: Provider, browser: httpx.AsyncClient
) -> None:
    started = await start(ingest)
    callback_url = await authorize(browser, started)
    provider.failing = True  # down between the sign-in and the way back
    response = await come_back(ingest, callback_url, started.flow_cookie)
    assert response.status_code == 503, response.text
    assert UNREACHABLE in failure_of(response)
    assert_no_session(response)


async def test_a_failing_token_endpoint_is_unavailable(
    ingest: IngestClient, provider: Provider, browser: httpx.AsyncClient
) -> None:
    """The provider's 503 at the token endpoint is an outage, as it is for its keys."""
    provider.token_failing = True
    response = await sign_in(ingest, browser)
    assert len(provider.token_requests) == 1
    assert response.status_code == 503, response.text
    assert UNREACHABLE in failure_of(response)
    assert_no_session(response)


async def test_an_unreachable_provider_is_unavailable(db: Database) -> None:
    async with production_ingest(db, f"http://127.0.0.1:{closed_port()}") as ingest:
        response = await visit(ingest, "/signin/oidc")
    assert response.status_code == 503, response.text
    assert UNREACHABLE in failure_of(response)
    assert FLOW_COOKIE not in set_cookies(response)


# --------------------------------------------------------------------------- the page


async def test_the_production_sign_in_page_offers_the_provider_only(
    ingest: IngestClient,
) -> None:
    response = await visit(ingest, f"/signin?next={quote(NEXT, safe='')}")
    assert response.status_code == 200, response.text
    page = Page(response.text)
    signin_links = [link for link in page.links if link.startswith("/signin/oidc?")]
    assert [query_of(link) for link in signin_links] == [{"next": NEXT}]
    assert page.person_buttons == []
    assert "data-person" not in response.text
    assert "Awa Ndiaye" not in page.text  # nobody of the directory is listed


async def test_the_development_picker_signs_nobody_in_in_production(
    ingest: IngestClient,
) -> None:
    page = await visit(ingest, "/signin")
    csrf = set_cookies(page)["coord_signin"].value
    ingest.cookies.clear()
    response = await ingest.post(
        "/signin",
        data={"person": "awa.hfo", "csrf": csrf, "next": NEXT},
        headers={"Cookie": f"coord_signin={csrf}"},
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/signin"
    assert_no_session(response)


async def test_the_board_without_a_session_asks_to_sign_in(ingest: IngestClient) -> None:
    response = await visit(ingest, NEXT)
    assert response.status_code == 303
    assert re.fullmatch(r"/signin\?next=.+", response.headers["location"])
