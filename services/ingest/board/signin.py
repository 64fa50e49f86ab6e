"""Signing in and out of the board, and choosing its language.

In development (``COORD_ENV=development``) the sign-in page lists the people of the
directory to sign in as, one click each. Elsewhere people sign in with the mission's
identity provider (``COORD_OIDC_ISSUER``); without one, the page says so.
"""

from __future__ import annotations

import hmac
import secrets
from enum import StrEnum
from typing import Annotated

import httpx
from fastapi import APIRouter, Form, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse

from services.ingest.board import oidc
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
from services.ingest.deps import ApiContext, Context
from shared.auth import IdentityProviderUnavailable

router = APIRouter(include_in_schema=False)

# Before sign-in there is no session to hold a CSRF token: the page sets this cookie, its
# form carries the same value (double submit), so another site cannot sign you in as
# someone else.
SIGNIN_COOKIE = "coord_signin"
LANGUAGE_COOKIE_SECONDS = 365 * 24 * 3600
OIDC_TIMEOUT = 10.0  # seconds, for the issuer's discovery and token endpoints
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
        oidc=request.app.state.board_oidc is not None,
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
    if not expected or not hmac.compare_digest(csrf.encode(), expected.encode()):
        return RedirectResponse(sign_in_url(next_path), status_code=status.HTTP_303_SEE_OTHER)
    if context.directory.person(person) is None:
        return RedirectResponse("/signin", status_code=status.HTTP_303_SEE_OTHER)
    response = RedirectResponse(safe_next(next_path), status_code=status.HTTP_303_SEE_OTHER)
    open_session(response, keys, person)
    response.delete_cookie(SIGNIN_COOKIE, path="/signin")
    return response


@router.get("/signin/oidc", response_model=None)
async def sign_in_with_issuer(
    request: Request, next_path: NextQuery = "/board"
) -> RedirectResponse | HTMLResponse:
    """Go to the identity provider to sign in (authorization code flow with PKCE)."""
    client: oidc.OidcClient | None = request.app.state.board_oidc
    keys = keys_of(request)
    if client is None:
        return RedirectResponse("/signin", status_code=status.HTTP_303_SEE_OTHER)
    try:
        async with httpx.AsyncClient(timeout=OIDC_TIMEOUT) as http:
            where, flow = await oidc.start(http, client, keys.secret, safe_next(next_path))
    except IdentityProviderUnavailable:
        return _failed(request, Failure.UNAVAILABLE, next_path=safe_next(next_path))
    response = RedirectResponse(where, status_code=status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        oidc.FLOW_COOKIE,
        flow,
        max_age=oidc.FLOW_SECONDS,
        httponly=True,
        secure=keys.secure_cookies,
        samesite="lax",  # the issuer sends the browser back with a top-level GET
        path=oidc.CALLBACK,
    )
    return response


@router.get(oidc.CALLBACK, response_model=None)
async def signed_in_by_issuer(
    request: Request,
    context: Context,
    code: Annotated[str, Query(max_length=4000)] = "",
    state: Annotated[str, Query(max_length=200)] = "",
    error: Annotated[str, Query(max_length=200)] = "",
) -> RedirectResponse | HTMLResponse:
    """The identity provider's answer: sign the person in, or say why not."""
    client: oidc.OidcClient | None = request.app.state.board_oidc
    keys = keys_of(request)
    if client is None:
        return RedirectResponse("/signin", status_code=status.HTTP_303_SEE_OTHER)
    if error or not code:
        # The issuer's own words (``access_denied``...), shown as its, never as ours.
        said = error or "no code came back"
        return _failed(request, Failure.FAILED, said)
    vouched = await _vouched_for(request, context, client, code=code, state=state)
    if isinstance(vouched, HTMLResponse):
        return vouched
    person_id, flow = vouched
    response = RedirectResponse(safe_next(flow.next_path), status_code=status.HTTP_303_SEE_OTHER)
    open_session(response, keys, person_id)
    response.delete_cookie(oidc.FLOW_COOKIE, path=oidc.CALLBACK)
    return response


class Failure(StrEnum):
    """Why a sign-in at the issuer did not complete (the page words each)."""

    UNAVAILABLE = "unavailable"  # 503: try again
    NOT_IN_DIRECTORY = "not_in_directory"
    FAILED = "failed"  # the detail says how


async def _vouched_for(
    request: Request, context: ApiContext, client: oidc.OidcClient, *, code: str, state: str
) -> tuple[str, oidc.Flow] | HTMLResponse:
    """The directory person the issuer vouches for, and the flow; the failure page if none."""
    keys = keys_of(request)
    try:
        flow = oidc.read_flow(request.cookies.get(oidc.FLOW_COOKIE), keys.secret)
    except oidc.SignInFailed as failed:
        return _failed(request, Failure.FAILED, str(failed))
    try:
        async with httpx.AsyncClient(timeout=OIDC_TIMEOUT) as http:
            person_id = await oidc.finish(
                http, client, context.authenticator, flow, code=code, state=state
            )
    except oidc.SignInFailed as failed:
        return _failed(request, Failure.FAILED, str(failed))
    except IdentityProviderUnavailable:
        return _failed(request, Failure.UNAVAILABLE, next_path=flow.next_path)
    if context.directory.person(person_id) is None:
        return _failed(request, Failure.NOT_IN_DIRECTORY, next_path=flow.next_path)
    return person_id, flow


def _failed(
    request: Request, failure: Failure, detail: str = "", *, next_path: str = "/board"
) -> HTMLResponse:
    unavailable = failure is Failure.UNAVAILABLE
    return render(
        request,
        "signin.html",
        None,
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE
        if unavailable
        else status.HTTP_400_BAD_REQUEST,
        people=[],
        development=False,
        oidc=True,
        next_path=next_path,
        signin_csrf="",
        failure=failure.value,
        failure_detail=detail,
    )


@router.post("/signout")
async def sign_out(request: Request) -> RedirectResponse:
    """Sign out (the form carries the session's CSRF token)."""
    session = session_of(request)
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    response = RedirectResponse("/signin", status_code=status.HTTP_303_SEE_OTHER)
    if session is None or (
        isinstance(sent, str) and hmac.compare_digest(sent.encode(), session.csrf.encode())
    ):
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
