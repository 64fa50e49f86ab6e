"""Signing in with the mission's identity provider: OpenID Connect, code flow with PKCE.

``start`` sends the browser to the issuer's authorization endpoint with a fresh state,
nonce and PKCE verifier, kept until the browser comes back in a short-lived signed cookie
(so any replica can finish the sign-in). ``finish`` checks the state, trades the code
(with the verifier) for an ID token at the token endpoint, and verifies that token as
bearer tokens are verified (``shared.auth``: the issuer's keys, audience, expiry) and
that it carries the nonce. Its ``sub`` must be a person of the directory.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt

from shared.auth import Authenticator, IdentityProviderUnavailable, InvalidToken
from shared.envelope import utc_now
from shared.settings import Settings

FLOW_COOKIE = "coord_oidc"
FLOW_SECONDS = 600  # to type a password and a second factor
_FLOW_AUDIENCE = "coord-board-signin"
CALLBACK = "/signin/callback"


class SignInFailed(Exception):
    """The sign-in did not complete; the message is safe to show."""


@dataclass(frozen=True)
class Flow:
    """One sign-in in progress: what must come back, and where to go after."""

    state: str
    nonce: str
    verifier: str
    next_path: str


@dataclass(frozen=True)
class OidcClient:
    """The board as a client of the issuer (from the settings)."""

    issuer: str
    client_id: str
    client_secret: str | None
    redirect_uri: str

    @classmethod
    def from_settings(cls, settings: Settings) -> OidcClient | None:
        """The client, when an issuer is configured."""
        if not settings.oidc_issuer or not settings.oidc_audience:
            return None
        secret = settings.oidc_client_secret
        return cls(
            issuer=settings.oidc_issuer.rstrip("/"),
            client_id=settings.oidc_audience,
            client_secret=secret.get_secret_value() if secret else None,
            redirect_uri=settings.public_url.rstrip("/") + CALLBACK,
        )


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def _endpoints(http: httpx.AsyncClient, issuer: str) -> dict[str, Any]:
    try:
        response = await http.get(f"{issuer}/.well-known/openid-configuration")
        response.raise_for_status()
        document = response.json()
    except (httpx.HTTPError, ValueError) as error:
        raise IdentityProviderUnavailable(f"cannot read the issuer's discovery: {error}") from None
    if not isinstance(document, dict) or not all(
        isinstance(document.get(k), str) for k in ("authorization_endpoint", "token_endpoint")
    ):
        raise IdentityProviderUnavailable("the issuer's discovery names no authorization endpoint")
    return document


async def start(
    http: httpx.AsyncClient, client: OidcClient, secret: str, next_path: str
) -> tuple[str, str]:
    """Where to send the browser, and the flow cookie to set (signed with ``secret``)."""
    flow = Flow(
        secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48), next_path
    )
    endpoints = await _endpoints(http, client.issuer)
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client.client_id,
            "redirect_uri": client.redirect_uri,
            "scope": "openid",
            "state": flow.state,
            "nonce": flow.nonce,
            "code_challenge": _challenge(flow.verifier),
            "code_challenge_method": "S256",
        }
    )
    now = utc_now()
    cookie = jwt.encode(
        {
            "aud": _FLOW_AUDIENCE,
            "iat": now,
            "exp": now + timedelta(seconds=FLOW_SECONDS),
            "state": flow.state,
            "nonce": flow.nonce,
            "verifier": flow.verifier,
            "next": next_path,
        },
        secret,
        algorithm="HS256",
    )
    return f"{endpoints['authorization_endpoint']}?{query}", cookie


def read_flow(cookie: str | None, secret: str) -> Flow:
    """The sign-in in progress this browser started.

    Raises:
        SignInFailed: none, expired, or not ours.
    """
    if not cookie:
        raise SignInFailed("no sign-in in progress in this browser; start again")
    try:
        claims = jwt.decode(cookie, secret, algorithms=["HS256"], audience=_FLOW_AUDIENCE)
    except jwt.InvalidTokenError:
        raise SignInFailed("the sign-in took too long or was tampered with; start again") from None
    return Flow(claims["state"], claims["nonce"], claims["verifier"], claims["next"])


async def finish(
    http: httpx.AsyncClient,
    client: OidcClient,
    authenticator: Authenticator,
    flow: Flow,
    *,
    code: str,
    state: str,
) -> str:
    """The person id the issuer vouches for, after checking the state and the ID token.

    Raises:
        SignInFailed: the state does not match, the code was refused, or the ID token is not
            trustworthy (the message says which).
        IdentityProviderUnavailable: the issuer cannot be reached.
    """
    # Compared as bytes: compare_digest refuses non-ASCII text (a crafted state).
    if not hmac.compare_digest(state.encode(), flow.state.encode()):
        raise SignInFailed("the answer is not for the sign-in this browser started (state)")
    endpoints = await _endpoints(http, client.issuer)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": client.redirect_uri,
        "client_id": client.client_id,
        "code_verifier": flow.verifier,
    }
    # A confidential client authenticates (client_secret_basic); a public one has PKCE only.
    auth = httpx.BasicAuth(client.client_id, client.client_secret) if client.client_secret else None
    try:
        response = await http.post(
            endpoints["token_endpoint"], data=form, auth=auth or httpx.USE_CLIENT_DEFAULT
        )
    except httpx.HTTPError as error:
        raise IdentityProviderUnavailable(f"cannot reach the token endpoint: {error}") from None
    if response.status_code >= httpx.codes.INTERNAL_SERVER_ERROR:
        raise IdentityProviderUnavailable(f"the token endpoint answered {response.status_code}")
    if response.status_code != httpx.codes.OK:
        raise SignInFailed(f"the identity provider refused the sign-in ({response.status_code})")
    try:
        answer = response.json()
    except ValueError:
        answer = None
    id_token = answer.get("id_token") if isinstance(answer, dict) else None
    if not isinstance(id_token, str):
        raise SignInFailed("the identity provider sent no ID token")
    try:
        verified = await authenticator.verify_id_token(id_token, nonce=flow.nonce)
    except InvalidToken as error:
        raise SignInFailed(str(error)) from None
    return verified.subject
