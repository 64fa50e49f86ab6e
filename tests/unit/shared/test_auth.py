"""Bearer tokens in development mode (HS256) and what production mode refuses up front."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import jwt
import pytest
from pydantic import SecretStr

from shared.auth import Authenticator, InvalidToken, mint_token, subject_of
from shared.envelope import utc_now
from shared.settings import DEV_JWT_SECRET, Settings

SECRET = "unit-test-secret-" + "0123456789abcdef" * 4
OTHER_SECRET = "another-secret-" + "fedcba9876543210" * 4
# Never contacted: production-mode tokens below are refused before any key is needed.
ISSUER = "https://idp.example.invalid"


def _claims(**overrides: object) -> dict[str, Any]:
    now = utc_now()
    claims: dict[str, Any] = {"sub": "jo.operator", "iat": now, "exp": now + timedelta(hours=1)}
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def _hs256(secret: str = SECRET, algorithm: str = "HS256", **overrides: object) -> str:
    return jwt.encode(_claims(**overrides), secret, algorithm=algorithm)


def _unsigned(**overrides: object) -> str:
    return jwt.encode(_claims(**overrides), key="", algorithm="none")


# Built when the tests are collected, which may be many minutes before this module runs
# (xdist, a long suite): "in the future" is a day ahead, not minutes.
DEV_FAILURES = [
    pytest.param(
        mint_token("jo.operator", SECRET, ttl=timedelta(seconds=-5)),
        "token has expired",
        id="expired",
    ),
    pytest.param(
        _hs256(nbf=utc_now() + timedelta(days=1)), "token is not valid yet", id="nbf-future"
    ),
    pytest.param(
        _hs256(iat=utc_now() + timedelta(days=1)), "token is not valid yet", id="iat-future"
    ),
    pytest.param(
        mint_token("jo.operator", OTHER_SECRET), "token signature is invalid", id="wrong-secret"
    ),
    pytest.param(_hs256(sub=None), "token has no subject", id="no-sub"),
    pytest.param(_hs256(sub=""), "token has no subject", id="empty-sub"),
    pytest.param(_hs256(sub=42), "token has no subject", id="numeric-sub"),
    pytest.param(_hs256(exp=None), "token has no expiry", id="no-exp"),
    pytest.param(_hs256(iat=None), "token has no issue time (iat)", id="no-iat"),
    pytest.param(
        _hs256(exp=10**20),
        "token lifetime (exp - iat) exceeds the maximum of 43200 s",
        id="exp-1e20",
    ),
    pytest.param(
        _hs256(exp=utc_now() + timedelta(hours=12, seconds=5)),
        "token lifetime (exp - iat) exceeds the maximum of 43200 s",
        id="lifetime-over-12h",
    ),
    pytest.param("not-a-jwt", "token is malformed", id="malformed-garbage"),
    pytest.param("", "token is malformed", id="malformed-empty"),
    pytest.param("a.b.c", "token is malformed", id="malformed-segments"),
    pytest.param(_hs256()[:-20] + "@@@@", "token is malformed", id="malformed-signature-encoding"),
    pytest.param(_unsigned(), "token algorithm 'none' is not accepted; use HS256", id="alg-none"),
    pytest.param(
        _hs256(algorithm="HS512"),
        "token algorithm 'HS512' is not accepted; use HS256",
        id="alg-hs512",
    ),
]


@pytest.fixture
async def dev() -> AsyncIterator[Authenticator]:
    async with Authenticator.from_settings(Settings(jwt_secret=SecretStr(SECRET))) as auth:
        yield auth


@pytest.fixture
async def production() -> AsyncIterator[Authenticator]:
    async with Authenticator(secret=SECRET, issuer=ISSUER, audience="coord") as auth:
        yield auth


@pytest.mark.parametrize(("token", "reason"), DEV_FAILURES)
async def test_dev_mode_refuses_with_the_exact_reason(
    dev: Authenticator, token: str, reason: str
) -> None:
    with pytest.raises(InvalidToken) as error:
        await dev.subject(token)
    assert str(error.value) == reason
    assert not token or token not in str(error.value)


@pytest.mark.parametrize(("token", "reason"), DEV_FAILURES)
def test_subject_of_gives_the_same_reasons(token: str, reason: str) -> None:
    with pytest.raises(InvalidToken) as error:
        subject_of(token, SECRET)
    assert str(error.value) == reason


@pytest.mark.parametrize("person_id", ["jo.operator", "awa.hfo", "ünïcødé.person"])
async def test_dev_mode_accepts_minted_tokens(dev: Authenticator, person_id: str) -> None:
    assert not dev.production
    assert await dev.subject(mint_token(person_id, SECRET)) == person_id


async def test_dev_mode_has_no_clock_leeway(dev: Authenticator) -> None:
    # Development tokens are minted on the same host: a token one second past expiry is dead.
    with pytest.raises(InvalidToken, match=r"^token has expired$"):
        await dev.subject(mint_token("jo.operator", SECRET, ttl=timedelta(seconds=-1)))


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        pytest.param(
            mint_token("jo.operator", SECRET),
            "token algorithm 'HS256' is not accepted; use RS256 or ES256",
            id="dev-token",
        ),
        pytest.param(
            _unsigned(iss=ISSUER, aud="coord"),
            "token algorithm 'none' is not accepted; use RS256 or ES256",
            id="alg-none",
        ),
        pytest.param("not-a-jwt", "token is malformed", id="malformed"),
    ],
)
async def test_production_mode_refuses_before_fetching_any_key(
    production: Authenticator, token: str, reason: str
) -> None:
    assert production.production
    with pytest.raises(InvalidToken) as error:
        await production.subject(token)
    assert str(error.value) == reason


def test_production_mode_requires_an_audience() -> None:
    settings = Settings(oidc_issuer=ISSUER, oidc_audience=None)
    with pytest.raises(ValueError, match="oidc_audience is required"):
        Authenticator.from_settings(settings)


def test_production_mode_requires_an_http_issuer() -> None:
    with pytest.raises(ValueError, match="not an http"):
        Authenticator(secret=SECRET, issuer="idp.example", audience="coord")


async def test_production_refuses_hs256_tokens_of_the_published_secret() -> None:
    settings = Settings(env="production", jwt_secret=SecretStr(DEV_JWT_SECRET), oidc_issuer=None)
    async with Authenticator.from_settings(settings) as auth:
        with pytest.raises(InvalidToken, match="HS256 tokens are not accepted"):
            await auth.subject(mint_token("jo.operator", DEV_JWT_SECRET))


@pytest.mark.parametrize(
    ("env", "secret"),
    [("production", SECRET), ("development", DEV_JWT_SECRET), ("development", SECRET)],
)
async def test_hs256_tokens_are_accepted_in_development_or_with_a_secret_set(
    env: str, secret: str
) -> None:
    settings = Settings(env=env, jwt_secret=SecretStr(secret), oidc_issuer=None)
    async with Authenticator.from_settings(settings) as auth:
        assert await auth.subject(mint_token("jo.operator", secret)) == "jo.operator"


async def test_the_maximum_lifetime_is_the_deployments_setting() -> None:
    settings = Settings(jwt_secret=SecretStr(SECRET), token_max_lifetime=60)
    async with Authenticator.from_settings(settings) as auth:
        assert await auth.subject(mint_token("jo.operator", SECRET, timedelta(seconds=60)))
        with pytest.raises(InvalidToken, match="exceeds the maximum of 60 s"):
            await auth.subject(mint_token("jo.operator", SECRET, timedelta(seconds=61)))
