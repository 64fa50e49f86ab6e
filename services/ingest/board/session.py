"""Who is signed in to the board: a signed session cookie, and CSRF on every form.

The cookie holds a short JWT (HS256 with ``COORD_SESSION_SECRET``, audience
``coord-board``): the person's id, its expiry, and the session's CSRF token. It is
HttpOnly, SameSite=Lax, and Secure outside development. Every form posts the CSRF
token back; a POST without it is refused, so another site
cannot make a signed-in officer acknowledge or resolve.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated
from urllib.parse import quote

import jwt
from fastapi import Depends, HTTPException, Request, status
from starlette.responses import Response

from services.ingest.deps import ApiContext, Context
from shared.directory import Person
from shared.envelope import utc_now
from shared.permissions import Action, allowed
from shared.settings import Settings

SESSION_COOKIE = "coord_session"
AUDIENCE = "coord-board"
CSRF_FIELD = "csrf"


@dataclass(frozen=True)
class BoardKeys:
    """The board's secrets: sessions (signed, and how long they last) and one-time links."""

    secret: str  # signs session cookies (COORD_SESSION_SECRET)
    ttl: timedelta
    link_secret: str  # signs the one-time links of pages (COORD_LINK_SECRET, as the notifier)
    secure_cookies: bool  # Secure cookies: outside development, the board is behind HTTPS
    development: bool  # the person picker may sign anyone in

    @classmethod
    def from_settings(cls, settings: Settings) -> BoardKeys:
        """The keys the settings describe."""
        development = settings.env == "development"
        return cls(
            secret=settings.session_secret.get_secret_value(),
            ttl=timedelta(seconds=settings.session_ttl),
            link_secret=settings.link_secret.get_secret_value(),
            secure_cookies=not development,
            development=development,
        )


@dataclass(frozen=True)
class BoardSession:
    """A signed-in person's session: who, until when, and the token its forms carry."""

    person_id: str
    expires_at: datetime
    csrf: str


class SignInRequired(Exception):
    """No valid session: the board answers with the sign-in page (``next``: back here)."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def keys_of(request: Request) -> BoardKeys:
    """The session keys the board was installed with."""
    keys: BoardKeys = request.app.state.board_keys
    return keys


def open_session(response: Response, keys: BoardKeys, person_id: str) -> BoardSession:
    """Sign ``person_id`` in: set the session cookie on ``response``."""
    now = utc_now()
    session = BoardSession(person_id, now + keys.ttl, secrets.token_urlsafe(24))
    claims = {
        "sub": person_id,
        "aud": AUDIENCE,
        "iat": now,
        "exp": session.expires_at,
        CSRF_FIELD: session.csrf,
    }
    response.set_cookie(
        SESSION_COOKIE,
        jwt.encode(claims, keys.secret, algorithm="HS256"),
        max_age=int(keys.ttl.total_seconds()),
        httponly=True,
        secure=keys.secure_cookies,
        samesite="lax",
        path="/",
    )
    return session


def close_session(response: Response, keys: BoardKeys) -> None:
    """Sign out: the session cookie is dropped."""
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, secure=keys.secure_cookies, samesite="lax"
    )


def session_of(request: Request) -> BoardSession | None:
    """The request's valid session, or None (no cookie, forged, expired)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    try:
        claims = jwt.decode(
            cookie,
            keys_of(request).secret,
            algorithms=["HS256"],
            audience=AUDIENCE,
            options={"require": ["sub", "exp", "iat", "aud", CSRF_FIELD]},
        )
    except jwt.InvalidTokenError:
        return None
    return BoardSession(
        str(claims["sub"]),
        datetime.fromtimestamp(float(claims["exp"]), tz=utc_now().tzinfo),
        str(claims[CSRF_FIELD]),
    )


@dataclass(frozen=True)
class Visitor:
    """The signed-in person, as the directory says now, and their session."""

    person: Person
    session: BoardSession
    context: ApiContext

    def may(self, action: Action) -> bool:
        """Whether the permissions table lets the person ``action``."""
        return allowed(self.person, action)

    @property
    def may_report(self) -> bool:
        """Whether the reports are theirs to read (the menu shows them)."""
        return self.may(Action.REPORT)

    @property
    def may_triage(self) -> bool:
        """Whether SMS from unknown numbers are theirs to triage (the menu shows them)."""
        return self.may(Action.TRIAGE_SMS)

    @property
    def may_audit(self) -> bool:
        """Whether the event log is theirs to read (the menu shows it)."""
        return self.may(Action.AUDIT)


def _here(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


async def visitor(request: Request, context: Context) -> Visitor:
    """The signed-in person who may read; the sign-in page for anyone else."""
    session = session_of(request)
    person = context.directory.person(session.person_id) if session else None
    if session is None or person is None:
        raise SignInRequired(_here(request) if request.method == "GET" else "/board")
    if not allowed(person, Action.READ):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"{person.id} may not read the board")
    return Visitor(person, session, context)


async def checked_visitor(request: Request, who: Annotated[Visitor, Depends(visitor)]) -> Visitor:
    """The signed-in person of a form post that carries the session's CSRF token (else 403)."""
    field = (await request.form()).get(CSRF_FIELD)
    sent = field if isinstance(field, str) else None
    if not sent or not hmac.compare_digest(sent.encode(), who.session.csrf.encode()):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the form's CSRF token is missing or stale")
    return who


def sign_in_url(next_path: str) -> str:
    """The sign-in page, coming back to ``next_path`` after."""
    return f"/signin?next={quote(safe_next(next_path))}"


def safe_next(next_path: str | None) -> str:
    """``next_path`` when it is a path of this site; the board otherwise (no open redirect)."""
    if not next_path or not next_path.startswith("/") or next_path.startswith("//"):
        return "/board"
    if "\\" in next_path or not next_path.isprintable():
        return "/board"
    return next_path


Reader = Annotated[Visitor, Depends(visitor)]
Poster = Annotated[Visitor, Depends(checked_visitor)]
