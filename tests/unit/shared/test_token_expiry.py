"""The authenticator tells when a token expires (the live stream ends there)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from shared.auth import Authenticator, InvalidToken, VerifiedToken, mint_token

SECRET = "token-expiry-test-secret-" + "0123456789abcdef" * 3


async def test_verify_gives_the_subject_and_the_expiry_of_the_token() -> None:
    token = mint_token("awa.hfo", SECRET, ttl=timedelta(minutes=5))
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    verified = await Authenticator(secret=SECRET).verify(token)
    assert verified == VerifiedToken("awa.hfo", datetime.fromtimestamp(exp, UTC))
    assert verified.expires_at - datetime.now(UTC) <= timedelta(minutes=5)


async def test_verify_refuses_what_subject_refuses() -> None:
    expired = mint_token("awa.hfo", SECRET, ttl=timedelta(seconds=-1))
    with pytest.raises(InvalidToken, match="expired"):
        await Authenticator(secret=SECRET).verify(expired)
    with pytest.raises(InvalidToken):
        await Authenticator(secret=SECRET).verify(mint_token("awa.hfo", "other-" + SECRET))
