"""Board sessions (services/ingest/board/session.py): where a sign-in may send you, the cookie.

``safe_next`` is the guard against open redirects: only a path of this site passes. The
session cookie is a signed JWT; anything forged, expired or for another audience is no
session at all.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from starlette.requests import Request
from starlette.responses import Response

from services.ingest.board.session import (
    AUDIENCE,
    CSRF_FIELD,
    SESSION_COOKIE,
    BoardKeys,
    BoardSession,
    open_session,
    safe_next,
    session_of,
    sign_in_url,
)
from shared.envelope import utc_now

SECRET = "unit-session-secret-" + "0123456789abcdef" * 4  # long enough for HS512 too
KEYS = BoardKeys(
    secret=SECRET,
    ttl=timedelta(hours=12),
    link_secret="unit-link-secret-" + "0123456789abcdef" * 2,
    secure_cookies=True,
    development=False,
)

ALERT = "4b8c7a52-7f53-4c51-9f5c-3a1f3c2b9d10"

# --------------------------------------------------------------------------- safe_next


@pytest.mark.parametrize(
    "path",
    [
        "/board",
        "/board?x=1",
        "/board?status=triggered&sector=beni",
        f"/alerts/{ALERT}",
        "/map?severity=extreme#top",
        "/",
        "/board?next=//evil.example",  # a query may say anything: it is still this site
    ],
)
def test_a_local_path_passes(path: str) -> None:
    assert safe_next(path) == path


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("", id="empty"),
        pytest.param(None, id="none"),
        pytest.param("//evil.example", id="scheme-relative"),
        pytest.param("//evil.example/board", id="scheme-relative-path"),
        pytest.param("///evil.example", id="three-slashes"),
        pytest.param("https://evil", id="absolute-https"),
        pytest.param("http://evil.example/board", id="absolute-http"),
        pytest.param("/\\evil", id="slash-backslash"),
        pytest.param("\\\\evil", id="backslashes"),
        pytest.param("/board\\..\\x", id="backslash-inside"),
        pytest.param("javascript:alert(1)", id="javascript"),
        pytest.param("JaVaScRiPt:alert(1)", id="javascript-case"),
        pytest.param("data:text/html,hi", id="data"),
        pytest.param("board", id="relative"),
        pytest.param(" /board", id="leading-space"),
        pytest.param("/\t/evil.example", id="tab"),
        pytest.param("/\n/evil.example", id="newline"),
        pytest.param("/board\r\nSet-Cookie: x=1", id="header-injection"),
        pytest.param("/\x00/evil", id="nul"),
        pytest.param("/\x7f", id="del"),
        pytest.param("/\u2028/evil", id="line-separator"),
        pytest.param("/\u3000/evil", id="ideographic-space"),
    ],
)
def test_anything_else_goes_to_the_board(path: str | None) -> None:
    assert safe_next(path) == "/board"


@given(st.text())
@example("//")
@example("/\\")
@example("/")
def test_the_result_is_always_one_local_path(path: str) -> None:
    result = safe_next(path)
    assert result.startswith("/")
    assert not result.startswith("//")
    assert "\\" not in result
    assert result.isprintable()
    assert result in (path, "/board")


@given(
    st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-._~", min_size=1), max_size=4),
    st.dictionaries(
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1),
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789%/:", max_size=10),
        max_size=3,
    ),
)
def test_every_plain_local_path_passes_unchanged(
    segments: list[str], params: dict[str, str]
) -> None:
    path = "/" + "/".join(segments)
    if params:
        path += "?" + "&".join(f"{k}={v}" for k, v in params.items())
    assert safe_next(path) == path


@pytest.mark.parametrize(
    ("wanted", "back_to"),
    [
        ("/board", "/board"),
        ("/board?severity=extreme&sector=beni", "/board?severity=extreme&sector=beni"),
        (f"/alerts/{ALERT}", f"/alerts/{ALERT}"),
        ("//evil.example", "/board"),
        ("https://evil", "/board"),
    ],
)
def test_the_sign_in_url_comes_back_to_a_safe_next(wanted: str, back_to: str) -> None:
    url = urlsplit(sign_in_url(wanted))
    assert url.path == "/signin"
    assert parse_qs(url.query) == {"next": [back_to]}


# --------------------------------------------------------------------------- the cookie


def request_with(cookie: str | None, keys: BoardKeys = KEYS) -> Request:
    headers = [(b"cookie", f"{SESSION_COOKIE}={cookie}".encode())] if cookie is not None else []
    app = SimpleNamespace(state=SimpleNamespace(board_keys=keys))
    return Request({"type": "http", "method": "GET", "headers": headers, "app": app})


def session_cookie(response: Response) -> tuple[str, str]:
    """The session cookie's value and its attributes, from the response's Set-Cookie."""
    [header] = [
        v.decode() for k, v in response.raw_headers if k == b"set-cookie" and b"coord_session" in v
    ]
    value, _, attributes = header.partition(";")
    return value.split("=", 1)[1], attributes


def claims(**overrides: object) -> dict[str, object]:
    now = utc_now()
    made: dict[str, object] = {
        "sub": "jo.operator",
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + timedelta(hours=1),
        CSRF_FIELD: "the-csrf-token",
    }
    made.update(overrides)
    return {k: v for k, v in made.items() if v is not None}


def test_an_opened_session_reads_back() -> None:
    response = Response()
    opened = open_session(response, KEYS, "awa.hfo")
    value, _ = session_cookie(response)
    read = session_of(request_with(value))
    assert read is not None
    assert (read.person_id, read.csrf) == ("awa.hfo", opened.csrf)
    # the cookie keeps whole seconds
    assert abs(read.expires_at - opened.expires_at) < timedelta(seconds=1)
    assert len(read.csrf) >= 24
    assert abs(read.expires_at - (utc_now() + KEYS.ttl)) < timedelta(minutes=1)


def test_two_sessions_have_two_csrf_tokens() -> None:
    first, second = open_session(Response(), KEYS, "jo"), open_session(Response(), KEYS, "jo")
    assert first.csrf != second.csrf


@pytest.mark.parametrize("secure", [True, False])
def test_the_cookie_is_http_only_same_site_and_secure_outside_development(secure: bool) -> None:
    keys = replace(KEYS, secure_cookies=secure, development=not secure)
    response = Response()
    open_session(response, keys, "jo.operator")
    _, attributes = session_cookie(response)
    parts = {part.strip().split("=")[0].lower() for part in attributes.split(";")}
    assert {"httponly", "samesite", "path", "max-age"} <= parts
    assert "samesite=lax" in attributes.lower()
    assert f"max-age={int(KEYS.ttl.total_seconds())}" in attributes.lower()
    assert ("secure" in parts) is secure


@pytest.mark.parametrize(
    "cookie",
    [
        pytest.param(jwt.encode(claims(), "another-secret-" + "x" * 32), id="forged"),
        pytest.param(
            jwt.encode(claims(exp=utc_now() - timedelta(seconds=5)), SECRET), id="expired"
        ),
        pytest.param(jwt.encode(claims(aud="coord-board-signin"), SECRET), id="other-audience"),
        pytest.param(jwt.encode(claims(aud=None), SECRET), id="no-audience"),
        pytest.param(jwt.encode(claims(**{CSRF_FIELD: None}), SECRET), id="no-csrf"),
        pytest.param(jwt.encode(claims(sub=None), SECRET), id="no-subject"),
        pytest.param(jwt.encode(claims(iat=None), SECRET), id="no-issued-at"),
        pytest.param(jwt.encode(claims(), SECRET, algorithm="HS512"), id="other-algorithm"),
        pytest.param(
            jwt.encode(claims(), None, algorithm="none"),  # type: ignore[arg-type]
            id="unsigned",
        ),
        pytest.param("not-a-jwt", id="garbage"),
        pytest.param("", id="empty"),
    ],
)
def test_no_valid_cookie_is_no_session(cookie: str) -> None:
    assert session_of(request_with(cookie)) is None


def test_no_cookie_is_no_session() -> None:
    assert session_of(request_with(None)) is None


def test_a_session_of_another_board_secret_is_no_session() -> None:
    response = Response()
    open_session(response, KEYS, "jo.operator")
    value, _ = session_cookie(response)
    other = replace(KEYS, secret="other-" + SECRET)
    assert session_of(request_with(value, other)) is None


def test_a_well_made_cookie_is_read() -> None:
    made = jwt.encode(claims(), SECRET)
    read = session_of(request_with(made))
    assert isinstance(read, BoardSession)
    assert (read.person_id, read.csrf) == ("jo.operator", "the-csrf-token")
