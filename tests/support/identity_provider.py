"""A real (local) OpenID Connect identity provider over HTTP, for the production sign-in tests.

:class:`Provider` is the provider's state and its Starlette app: a discovery document, a
JWKS (an RSA and an EC P-256 key), and the two endpoints of the authorization code flow with
PKCE the board signs people in with:

- ``GET /authorize`` records the request's query and, as if the person had typed their
  password, answers ``302`` to ``redirect_uri?code=<random>&state=<state>``; the person it
  signs in is :attr:`Provider.subject` at that moment (``awa.hfo`` unless a test says
  otherwise);
- ``POST /token`` trades a code it issued, once only, for a signed ID token, after checking
  the grant type, the ``redirect_uri`` and ``client_id`` of the authorization request, the
  client secret (when :attr:`Provider.client_secret` is set) and the PKCE verifier
  (``BASE64URL(SHA256(code_verifier)) == code_challenge``); anything else is ``400
  {"error": "invalid_grant"}`` (or ``invalid_client``), the reason kept in
  :attr:`Provider.refusals`.

It counts and records what it is asked, so that tests can see the key cache, rotation and
outage behaviour, and what a client sent. Knobs make it misbehave: ``failing`` (503 to
everything), ``id_token_nonce`` (ID tokens carrying another nonce), ``id_token_expired``,
``refuse_all`` (the token endpoint refuses every grant), ``token_failing`` (the token
endpoint alone answers 503), ``token_body`` (the token endpoint answers 200 with that).

:func:`identity_provider` serves one with uvicorn on 127.0.0.1 in the test's own event loop
(:func:`serving` serves any ASGI app so).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import secrets
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from shared.envelope import utc_now

__all__ = [
    "AUDIENCE",
    "DEFAULT_SUBJECT",
    "Clock",
    "Grant",
    "Provider",
    "SigningKey",
    "closed_port",
    "code_challenge",
    "identity_provider",
    "serving",
]

AUDIENCE = "coord"  # the audience of the tokens it mints by default (``Provider.claims``)
DEFAULT_SUBJECT = "awa.hfo"  # the person signed in at the provider, unless a test says not
ID_TOKEN_LIFETIME = timedelta(minutes=5)


@dataclass
class SigningKey:
    """A private key of the provider and how it is published."""

    kid: str
    algorithm: str  # RS256 or ES256
    private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

    @classmethod
    def rsa(cls, kid: str) -> SigningKey:
        """A new RSA 2048 key (RS256) named ``kid``."""
        return cls(kid, "RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048))

    @classmethod
    def ec(cls, kid: str) -> SigningKey:
        """A new EC P-256 key (ES256) named ``kid``."""
        return cls(kid, "ES256", ec.generate_private_key(ec.SECP256R1()))

    def jwk(self) -> dict[str, Any]:
        """The public key as the JWKS publishes it."""
        public = self.private.public_key()
        if isinstance(public, rsa.RSAPublicKey):
            jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
        else:
            jwk = ECAlgorithm.to_jwk(public, as_dict=True)
        return {**jwk, "kid": self.kid, "alg": self.algorithm, "use": "sig"}


@dataclass
class Clock:
    """A monotonic clock the test moves by hand (only the key cache reads it)."""

    now: float = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` forward."""
        self.now += seconds


@dataclass(frozen=True)
class Grant:
    """What an issued authorization code stands for: the authorization request it answered."""

    client_id: str
    redirect_uri: str
    code_challenge: str
    nonce: str | None
    subject: str  # the person signed in when the code was issued


def code_challenge(verifier: str) -> str:
    """The PKCE S256 challenge of ``verifier``: ``BASE64URL(SHA256(verifier))``, unpadded."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class _Refused(Exception):
    """The token endpoint refuses the request: an OAuth error code and why (for the test)."""

    def __init__(self, error: str, reason: str) -> None:
        super().__init__(reason)
        self.error = error
        self.reason = reason


@dataclass
class Provider:
    """The identity provider's state: what it publishes, who signs in, and what it was asked."""

    issuer: str
    keys: list[SigningKey]
    discovery_requests: int = 0
    jwks_requests: int = 0
    failing: bool = False  # answer 503 to everything, as an overloaded provider would
    jwks_delay: float = 0.0  # slow JWKS answers make concurrent callers overlap
    discovery_issuer: str | None = None  # publish another issuer than the one it serves
    clock: Clock = field(default_factory=Clock)
    # The authorization code flow.
    subject: str = DEFAULT_SUBJECT  # who signs in at /authorize
    client_secret: str | None = None  # set: /token requires HTTP Basic client_id:secret
    signing_kid: str = "rsa-1"  # the key its ID tokens are signed with
    id_token_nonce: str | None = None  # set: ID tokens carry this nonce, not the requested one
    id_token_expired: bool = False  # ID tokens that expired minutes ago
    refuse_all: bool = False  # /token refuses every grant
    token_failing: bool = False  # /token alone answers 503 (discovery and keys still work)
    token_body: str | None = None  # set: /token answers 200 with this body (not an ID token)
    authorize_requests: list[dict[str, str]] = field(default_factory=list)  # their queries
    token_requests: list[dict[str, str]] = field(default_factory=list)  # their forms
    token_authorizations: list[str | None] = field(default_factory=list)  # Authorization headers
    refusals: list[str] = field(default_factory=list)  # why /token refused, in order
    issued_id_tokens: list[str] = field(default_factory=list)
    grants: dict[str, Grant] = field(default_factory=dict)  # codes issued and not yet used

    @property
    def authorization_endpoint(self) -> str:
        """Where clients send the browser to sign in."""
        return f"{self.issuer}/authorize"

    @property
    def token_endpoint(self) -> str:
        """Where clients trade a code for an ID token."""
        return f"{self.issuer}/token"

    def key(self, kid: str) -> SigningKey:
        """The published key ``kid``."""
        return next(key for key in self.keys if key.kid == kid)

    def token(
        self,
        kid: str = "rsa-1",
        *,
        signer: SigningKey | None = None,
        **overrides: Any,
    ) -> str:
        """A token of this provider, signed with ``kid`` (or ``signer``, named ``kid``)."""
        key = signer or self.key(kid)
        return jwt.encode(
            self.claims(**overrides),
            key.private,
            algorithm=key.algorithm,
            headers={"kid": kid},
        )

    def claims(self, **overrides: Any) -> dict[str, Any]:
        """Valid claims for us (``None`` overrides leave a claim out)."""
        now = utc_now()
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": AUDIENCE,
            "sub": DEFAULT_SUBJECT,
            "iat": now,
            "exp": now + ID_TOKEN_LIFETIME,
        }
        claims.update(overrides)
        return {name: value for name, value in claims.items() if value is not None}

    def id_token(self, grant: Grant) -> str:
        """The ID token answering ``grant`` (as the knobs say)."""
        now = utc_now()
        issued = now - timedelta(minutes=10) if self.id_token_expired else now
        nonce = self.id_token_nonce if self.id_token_nonce is not None else grant.nonce
        return self.token(
            self.signing_kid,
            aud=grant.client_id,
            sub=grant.subject,
            iat=issued,
            exp=issued + ID_TOKEN_LIFETIME,
            nonce=nonce,
        )

    def app(self) -> Starlette:
        """The provider's HTTP endpoints."""

        async def discovery(request: Request) -> Response:
            self.discovery_requests += 1
            if self.failing:
                return Response("overloaded", status_code=503)
            return JSONResponse(
                {
                    "issuer": self.discovery_issuer or self.issuer,
                    "jwks_uri": f"{self.issuer}/jwks",
                    "authorization_endpoint": self.authorization_endpoint,
                    "token_endpoint": self.token_endpoint,
                    "response_types_supported": ["code"],
                    "grant_types_supported": ["authorization_code"],
                    "code_challenge_methods_supported": ["S256"],
                    "token_endpoint_auth_methods_supported": ["client_secret_basic", "none"],
                    "id_token_signing_alg_values_supported": ["RS256", "ES256"],
                }
            )

        async def jwks(request: Request) -> Response:
            self.jwks_requests += 1
            if self.failing:
                return Response("overloaded", status_code=503)
            await asyncio.sleep(self.jwks_delay)
            return JSONResponse({"keys": [key.jwk() for key in self.keys]})

        async def authorize(request: Request) -> Response:
            query = dict(request.query_params)
            self.authorize_requests.append(query)
            if self.failing:
                return Response("overloaded", status_code=503)
            return self._authorize(query)

        async def token(request: Request) -> Response:
            form = {
                name: value
                for name, value in (await request.form()).multi_items()
                if isinstance(value, str)
            }
            authorization = request.headers.get("authorization")
            self.token_requests.append(form)
            self.token_authorizations.append(authorization)
            if self.failing or self.token_failing:
                return Response("overloaded", status_code=503)
            if self.token_body is not None:
                return Response(self.token_body, media_type="application/json")
            try:
                grant = self._redeem(form, authorization)
            except _Refused as refused:
                self.refusals.append(refused.reason)
                status = 401 if refused.error == "invalid_client" else 400
                return JSONResponse({"error": refused.error}, status_code=status)
            id_token = self.id_token(grant)
            self.issued_id_tokens.append(id_token)
            return JSONResponse(
                {"id_token": id_token, "token_type": "Bearer", "access_token": "x"},
                headers={"Cache-Control": "no-store"},
            )

        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", discovery),
                Route("/jwks", jwks),
                Route("/authorize", authorize),
                Route("/token", token, methods=["POST"]),
            ]
        )

    def _authorize(self, query: dict[str, str]) -> Response:
        """Sign :attr:`subject` in at once: a code for the client, or why not."""
        redirect_uri = query.get("redirect_uri", "")
        client_id = query.get("client_id", "")
        if not client_id or urlsplit(redirect_uri).scheme not in ("http", "https"):
            # Never redirect to an address we cannot trust: say so to the person.
            return PlainTextResponse("invalid client_id or redirect_uri", status_code=400)
        state = query.get("state")
        error = None
        if query.get("response_type") != "code":
            error = "unsupported_response_type"
        elif "openid" not in query.get("scope", "").split():
            error = "invalid_scope"
        elif not query.get("code_challenge") or query.get("code_challenge_method") != "S256":
            error = "invalid_request"  # this provider requires PKCE with S256
        answer: dict[str, str] = {}
        if error is None:
            code = secrets.token_urlsafe(24)
            self.grants[code] = Grant(
                client_id=client_id,
                redirect_uri=redirect_uri,
                code_challenge=query["code_challenge"],
                nonce=query.get("nonce"),
                subject=self.subject,
            )
            answer["code"] = code
        else:
            answer["error"] = error
        if state is not None:
            answer["state"] = state
        separator = "&" if urlsplit(redirect_uri).query else "?"
        return RedirectResponse(f"{redirect_uri}{separator}{urlencode(answer)}", status_code=302)

    def _redeem(self, form: dict[str, str], authorization: str | None) -> Grant:
        """The grant a token request redeems (its code is used up, whatever the outcome).

        Raises:
            _Refused: the request is not one to answer with an ID token.
        """
        if self.refuse_all:
            raise _Refused("invalid_grant", "refusing everything")
        if form.get("grant_type") != "authorization_code":
            raise _Refused("unsupported_grant_type", f"grant_type {form.get('grant_type')!r}")
        grant = self.grants.pop(form.get("code", ""), None)  # once only
        if grant is None:
            raise _Refused("invalid_grant", "unknown or already used code")
        client_id = form.get("client_id") or _basic_user(authorization)
        if client_id != grant.client_id:
            raise _Refused("invalid_grant", f"client_id {client_id!r} is not the code's")
        if self.client_secret is not None and authorization != _basic(
            grant.client_id, self.client_secret
        ):
            raise _Refused("invalid_client", "client authentication failed")
        if form.get("redirect_uri") != grant.redirect_uri:
            raise _Refused("invalid_grant", "redirect_uri is not the authorization request's")
        verifier = form.get("code_verifier", "")
        if not verifier or not hmac.compare_digest(code_challenge(verifier), grant.code_challenge):
            raise _Refused("invalid_grant", "PKCE verifier does not match the code challenge")
        return grant


def _basic(user: str, password: str) -> str:
    """The Authorization header of HTTP Basic (client_secret_basic)."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def _basic_user(authorization: str | None) -> str | None:
    """The user an HTTP Basic Authorization header names, if it is one."""
    scheme, _, credentials = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(credentials, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[0]


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def closed_port() -> int:
    """A port nothing listens on (bound once, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def serving(app: ASGIApp, sock: socket.socket | None = None) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn in this event loop; yields its base URL (``http://127.0.0.1:port``).

    ``sock`` (bound, not listening) is handed to uvicorn, so no other process can take its
    port between choosing it and serving on it; a fresh one by default.
    """
    sock = sock or _free_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()  # surfaces why the server did not start
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
        sock.close()


@asynccontextmanager
async def identity_provider() -> AsyncIterator[Provider]:
    """A :class:`Provider` (keys ``rsa-1`` and ``ec-1``) served on 127.0.0.1 for the block."""
    sock = _free_socket()
    state = Provider(
        issuer=f"http://127.0.0.1:{sock.getsockname()[1]}",
        keys=[SigningKey.rsa("rsa-1"), SigningKey.ec("ec-1")],
    )
    async with serving(state.app(), sock):
        yield state
