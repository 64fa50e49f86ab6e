"""Bearer tokens: development HS256 JWTs whose ``sub`` is a directory person id."""

from __future__ import annotations

from datetime import timedelta

import jwt

from shared.envelope import utc_now

ALGORITHM = "HS256"


class InvalidToken(Exception):
    """The token cannot be trusted; the message says why (safe to show)."""


def mint_token(person_id: str, secret: str, ttl: timedelta = timedelta(hours=8)) -> str:
    """A signed development token for ``person_id``."""
    now = utc_now()
    claims = {"sub": person_id, "iat": now, "nbf": now, "exp": now + ttl}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def subject_of(token: str, secret: str) -> str:
    """The person id a valid token speaks for."""
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["sub", "exp"]}
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("token has expired") from None
    except jwt.InvalidTokenError as error:
        raise InvalidToken(f"invalid token: {error}") from None
    subject = claims["sub"]
    if not isinstance(subject, str) or not subject:
        raise InvalidToken("token has no subject")
    return subject
