"""Bearer tokens: JWTs whose ``sub`` is a directory person id.

Two modes, chosen by the settings:

- development (no ``oidc_issuer``): HS256 tokens signed with ``jwt_secret`` (``coord token``
  mints them); outside ``COORD_ENV=development`` only with a secret other than the
  published default (``shared.settings.trusts_development_tokens``);
- production (``oidc_issuer`` set): RS256/ES256 tokens signed by the OpenID Connect issuer,
  verified with the keys of its JWKS; development tokens are refused.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import jwt
from jwt.exceptions import InvalidSubjectError

from shared.envelope import utc_now
from shared.jwks import IdentityProviderUnavailable, JwksCache
from shared.settings import Settings, trusts_development_tokens

__all__ = [
    "ALGORITHM",
    "OIDC_ALGORITHMS",
    "Authenticator",
    "IdentityProviderUnavailable",
    "InvalidToken",
    "VerifiedToken",
    "mint_token",
    "subject_of",
]

ALGORITHM = "HS256"
# Asymmetric only: with an HS* algorithm allowed, the issuer's public key (or anyone's
# development secret) could be used to forge tokens.
OIDC_ALGORITHMS = ("RS256", "ES256")
# Clocks of the issuer and of our replicas drift apart a little.
OIDC_LEEWAY = timedelta(seconds=30)
# What a deployment allows when it says nothing: the setting's default.
DEFAULT_MAX_LIFETIME = timedelta(seconds=Settings.model_fields["token_max_lifetime"].default)


class InvalidToken(Exception):
    """The token cannot be trusted; the message says why (safe to show)."""


@dataclass(frozen=True)
class VerifiedToken:
    """What a valid token says: who it speaks for, and until when."""

    subject: str  # ``sub``: a directory person id
    expires_at: datetime  # ``exp``, UTC: a long-lived use (the live stream) ends there


def mint_token(person_id: str, secret: str, ttl: timedelta = timedelta(hours=8)) -> str:
    """A signed development token for ``person_id``."""
    now = utc_now()
    claims = {"sub": person_id, "iat": now, "nbf": now, "exp": now + ttl}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def subject_of(token: str, secret: str, max_lifetime: timedelta = DEFAULT_MAX_LIFETIME) -> str:
    """The person id a valid development (HS256) token speaks for.

    Raises:
        InvalidToken: the token is not trustworthy; the message says why.
    """
    return _subject(_development_claims(token, secret, max_lifetime))


def _development_claims(token: str, secret: str, max_lifetime: timedelta) -> dict[str, Any]:
    _check_algorithm(_header(token), (ALGORITHM,))
    claims = _decode(token, secret, ALGORITHM, require=("sub", "exp", "iat"))
    _check_lifetime(claims, max_lifetime)
    return claims


class Authenticator:
    """Verifies bearer tokens in development (HS256) or production (OIDC issuer) mode.

    Use :meth:`from_settings`; close with :meth:`aclose` (or ``async with``). Without an
    issuer, ``secret=None`` refuses every token: HS256 with no secret to trust.
    """

    def __init__(
        self,
        *,
        secret: str | None,
        issuer: str | None = None,
        audience: str | None = None,
        jwks_cache_seconds: float = 300.0,
        min_refetch_interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        max_lifetime: timedelta = DEFAULT_MAX_LIFETIME,
    ) -> None:
        self._secret = secret
        self._max_lifetime = max_lifetime
        self._issuer = issuer.rstrip("/") if issuer else None
        self._audience = audience
        self._jwks: JwksCache | None = None
        if self._issuer is None:
            return
        if not audience:
            raise ValueError("oidc_audience is required when oidc_issuer is set")
        url = urlsplit(self._issuer)
        if url.scheme not in ("https", "http") or not url.netloc:
            raise ValueError(f"oidc_issuer {issuer!r} is not an http(s) URL")
        self._jwks = JwksCache(
            self._issuer,
            ttl=jwks_cache_seconds,
            min_refetch_interval=min_refetch_interval,
            clock=clock,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Authenticator:
        """The authenticator the settings describe (production mode iff ``oidc_issuer``).

        Raises:
            ValueError: ``oidc_issuer`` is set without ``oidc_audience``, or is not a URL.
        """
        trusted = trusts_development_tokens(settings)
        return cls(
            secret=settings.jwt_secret.get_secret_value() if trusted else None,
            issuer=settings.oidc_issuer,
            audience=settings.oidc_audience,
            jwks_cache_seconds=settings.oidc_jwks_cache_seconds,
            max_lifetime=timedelta(seconds=settings.token_max_lifetime),
        )

    @property
    def production(self) -> bool:
        """Whether tokens must come from the OIDC issuer."""
        return self._jwks is not None

    async def subject(self, token: str) -> str:
        """The person id (``sub``) a valid token speaks for.

        Raises:
            InvalidToken: the token is not trustworthy; the message says why (401).
            IdentityProviderUnavailable: the issuer's keys cannot be fetched (503).
        """
        return (await self.verify(token)).subject

    async def verify(self, token: str) -> VerifiedToken:
        """What a valid token says: its subject (``sub``) and its expiry.

        Raises:
            InvalidToken: the token is not trustworthy; the message says why (401).
            IdentityProviderUnavailable: the issuer's keys cannot be fetched (503).
        """
        return _verified(await self._claims(token))

    async def verify_id_token(self, token: str, *, nonce: str) -> VerifiedToken:
        """What the ID token of a sign-in says, if it is the one issued for ``nonce``.

        The ID token's audience is the client: the board signs in as ``oidc_audience``.

        Raises:
            InvalidToken: not trustworthy, or another sign-in's token (nonce).
            IdentityProviderUnavailable: the issuer's keys cannot be fetched.
        """
        if self._jwks is None:
            raise InvalidToken("no OIDC issuer is configured")
        claims = await self._claims(token)
        sent = claims.get("nonce")
        if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), nonce.encode()):
            raise InvalidToken("the ID token was not issued for this sign-in (nonce)")
        return _verified(claims)

    async def _claims(self, token: str) -> dict[str, Any]:
        if self._jwks is None:
            if self._secret is None:
                # The published development secret outside development: anyone could have
                # minted this token. The services refuse to start so; this is the backstop.
                raise InvalidToken("HS256 tokens are not accepted: no JWT secret is configured")
            return _development_claims(token, self._secret, self._max_lifetime)
        header = _header(token)
        algorithm = _check_algorithm(header, OIDC_ALGORITHMS)
        kid = header.get("kid")
        key = await self._jwks.key(kid)
        if key is None:
            if kid is None:
                raise InvalidToken("token names no signing key (kid)")
            raise InvalidToken(f"token signing key {_shown(kid)} is unknown to the issuer")
        if key.algorithm_name != algorithm:
            raise InvalidToken(
                f"token algorithm {algorithm!r} does not match its signing key {_shown(kid)}"
            )
        claims = _decode(
            token,
            key,
            algorithm,
            require=("sub", "exp", "iat", "iss"),
            audience=self._audience,
            leeway=OIDC_LEEWAY,
        )
        _check_lifetime(claims, self._max_lifetime)
        # Compared here rather than by PyJWT so the reason can name the wrong issuer; a
        # trailing slash is not a different issuer (some providers publish one, some not).
        issuer = claims["iss"]
        if not isinstance(issuer, str) or issuer.rstrip("/") != self._issuer:
            raise InvalidToken(f"token issuer {_shown(issuer)} is not the configured issuer")
        return claims

    async def aclose(self) -> None:
        """Release the HTTP client of production mode."""
        if self._jwks is not None:
            await self._jwks.aclose()

    async def __aenter__(self) -> Authenticator:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


def _shown(value: object) -> str:
    """A value taken from a token, quoted and cut short: it ends up in responses and logs."""
    return repr(str(value)[:64])


def _header(token: str) -> dict[str, Any]:
    try:
        return jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise InvalidToken("token is malformed") from None


def _check_algorithm(header: dict[str, Any], accepted: Sequence[str]) -> str:
    """The token's algorithm when it is one of ``accepted`` (never "none")."""
    algorithm = header.get("alg")
    if not isinstance(algorithm, str) or algorithm not in accepted:
        raise InvalidToken(
            f"token algorithm {_shown(algorithm)} is not accepted; use {' or '.join(accepted)}"
        )
    return algorithm


def _decode(
    token: str,
    key: jwt.PyJWK | str,
    algorithm: str,
    *,
    require: Sequence[str],
    audience: str | None = None,
    leeway: timedelta = timedelta(0),
) -> dict[str, Any]:
    """The verified claims, PyJWT's errors turned into reasons fit for the client."""
    try:
        return jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            audience=audience,
            leeway=leeway,
            options={"require": list(require), "verify_aud": audience is not None},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("token has expired") from None
    except jwt.ImmatureSignatureError:
        raise InvalidToken("token is not valid yet") from None
    except jwt.InvalidAudienceError:
        raise InvalidToken(f"token audience does not include {audience!r}") from None
    except jwt.MissingRequiredClaimError as error:
        raise InvalidToken(_missing(error.claim, audience)) from None
    except InvalidSubjectError:
        raise InvalidToken("token has no subject") from None
    except jwt.InvalidSignatureError:
        raise InvalidToken("token signature is invalid") from None
    except jwt.DecodeError:
        raise InvalidToken("token is malformed") from None
    except jwt.InvalidTokenError as error:
        # Whatever is left (a non-numeric "iat", ...): PyJWT's reasons never quote the token.
        raise InvalidToken(f"token is invalid: {error}") from None


def _missing(claim: str, audience: str | None) -> str:
    """The reason for a token lacking a required claim."""
    if claim == "aud":
        return f"token audience does not include {audience!r}"
    names = {"sub": "subject", "exp": "expiry", "iat": "issue time (iat)", "iss": "issuer"}
    return f"token has no {names.get(claim, repr(claim))}"


def _check_lifetime(claims: dict[str, Any], max_lifetime: timedelta) -> None:
    """Refuse a token meant to live longer than ``max_lifetime`` (``exp - iat``).

    PyJWT has already checked that both are numbers, that ``exp`` is not past and that
    ``iat`` is not in the future beyond the leeway; so the span bounds how long from now
    the token stays valid.
    """
    lifetime = float(claims["exp"]) - float(claims["iat"])
    if lifetime > max_lifetime.total_seconds():
        raise InvalidToken(
            f"token lifetime (exp - iat) exceeds the maximum of "
            f"{int(max_lifetime.total_seconds())} s"
        )


def _verified(claims: dict[str, Any]) -> VerifiedToken:
    """What verified claims say: the subject, and the expiry (PyJWT checked it is a number)."""
    return VerifiedToken(_subject(claims), datetime.fromtimestamp(float(claims["exp"]), UTC))


def _subject(claims: dict[str, Any]) -> str:
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise InvalidToken("token has no subject")
    return subject
