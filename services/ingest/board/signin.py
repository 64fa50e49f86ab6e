"""Signing in and out of the board, and choosing its language.

In development (``COORD_ENV=development``) the sign-in page lists the people of the
directory to sign in as, one click each. Elsewhere people sign in with the mission's
identity provider (``COORD_OIDC_ISSUER``); without one, the page says so.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse

from services.ingest.board.i18n import LANGUAGE_COOKIE, LANGUAGES
from services.ingest.board.pages import render
from services.ingest.board.session import (
    CSRF_FIELD,
    close_session,
    keys_of,
    open_session,
    safe_next,
    session_of,
    sign_in_url,
)
from services.ingest.deps import Context

router = APIRouter(include_in_schema=False)

# Before sign-in there is no session to hold a CSRF token: the page sets this cookie, its
# form carries the same value (double submit), so another site cannot sign you in as
# someone else.
SIGNIN_COOKIE = "coord_signin"
LANGUAGE_COOKIE_SECONDS = 365 * 24 * 3600
NextQuery = Annotated[str, Query(alias="next", max_length=2000)]


@router.get("/signin", response_class=HTMLResponse)
async def signin_page(
    request: Request, context: Context, next_path: NextQuery = "/board"
) -> HTMLResponse:
    """Who to sign in as (development), or how to sign in (production)."""
    keys = keys_of(request)
    nonce = secrets.token_urlsafe(24)
    response = render(
        request,
        "signin.html",
        None,
        people=context.directory.people if keys.development else [],
        development=keys.development,
        next_path=safe_next(next_path),
        signin_csrf=nonce,
    )
    response.set_cookie(
        SIGNIN_COOKIE,
        nonce,
        max_age=3600,
        httponly=True,
        secure=keys.secure_cookies,
        samesite="lax",
        path="/signin",
    )
    return response


@router.post("/signin")
async def sign_in(
    request: Request,
    context: Context,
    person: Annotated[str, Form(max_length=200)],
    csrf: Annotated[str, Form(alias=CSRF_FIELD, max_length=100)],
    next_path: Annotated[str, Form(alias="next", max_length=2000)] = "/board",
) -> RedirectResponse:
    """Sign in as ``person`` (development only)."""
    keys = keys_of(request)
    expected = request.cookies.get(SIGNIN_COOKIE, "")
    if not keys.development:
        return RedirectResponse("/signin", status_code=status.HTTP_303_SEE_OTHER)
    if not expected or not hmac.compare_digest(csrf, expected):
        return RedirectResponse(sign_in_url(next_path), status_code=status.HTTP_303_SEE_OTHER)
    if context.directory.person(person) is None:
        return RedirectResponse("/signin", status_code=status.HTTP_303_SEE_OTHER)
    response = RedirectResponse(safe_next(next_path), status_code=status.HTTP_303_SEE_OTHER)
    open_session(response, keys, person)
    response.delete_cookie(SIGNIN_COOKIE, path="/signin")
    return response


@router.post("/signout")
async def sign_out(request: Request) -> RedirectResponse:
    """Sign out (the form carries the session's CSRF token)."""
    session = session_of(request)
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    response = RedirectResponse("/signin", status_code=status.HTTP_303_SEE_OTHER)
    if session is None or (isinstance(sent, str) and hmac.compare_digest(sent, session.csrf)):
        close_session(response, keys_of(request))
    return response


@router.get("/language/{language}")
async def choose_language(
    language: str, request: Request, next_path: NextQuery = "/board"
) -> RedirectResponse:
    """Show the board in ``language`` from now on, in this browser."""
    response = RedirectResponse(safe_next(next_path), status_code=status.HTTP_303_SEE_OTHER)
    if language in LANGUAGES:
        keys = keys_of(request)
        response.set_cookie(
            LANGUAGE_COOKIE,
            language,
            max_age=LANGUAGE_COOKIE_SECONDS,
            secure=keys.secure_cookies,
            samesite="lax",
            path="/",
        )
    return response
