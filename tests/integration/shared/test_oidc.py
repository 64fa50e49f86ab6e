"""Production sign-in against a real (local) OpenID Connect identity provider over HTTP.

The provider (tests/support/identity_provider.py) is a small Starlette app served by uvicorn
on 127.0.0.1 in the test's own event loop: it publishes a discovery document and a JWKS (an
RSA and an EC P-256 key) and counts the requests it gets, so the tests can see the cache,
rotation and outage behaviour.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta

import jwt
import pytest

from shared.auth import Authenticator, IdentityProviderUnavailable, InvalidToken, mint_token
from shared.envelope import utc_now
from tests.support.identity_provider import (
    AUDIENCE,
    Provider,
    SigningKey,
    closed_port,
    identity_provider,
)

pytestmark = pytest.mark.integration

CACHE_SECONDS = 300.0
DEV_SECRET = "dev-secret-" + "0123456789abcdef" * 4


@pytest.fixture
async def provider() -> AsyncIterator[Provider]:
    async with identity_provider() as served:
        yield served


AuthFactory = Callable[..., Authenticator]


@pytest.fixture
async def make_auth(provider: Provider) -> AsyncIterator[AuthFactory]:
    """Authenticators against the provider (or ``issuer``), closed after the test."""
    made: list[Authenticator] = []

    def make(issuer: str | None = None, audience: str = AUDIENCE) -> Authenticator:
        auth = Authenticator(
            secret=DEV_SECRET,
            issuer=issuer or provider.issuer,
            audience=audience,
            jwks_cache_seconds=CACHE_SECONDS,
            clock=provider.clock,
        )
        made.append(auth)
        return auth

    yield make
    for auth in made:
        await auth.aclose()


@pytest.fixture
def auth(make_auth: AuthFactory) -> Authenticator:
    return make_auth()


async def test_rs256_and_es256_tokens_are_accepted(provider: Provider, auth: Authenticator) -> None:
    assert auth.production
    assert await auth.subject(provider.token("rsa-1")) == "awa.hfo"
    assert await auth.subject(provider.token("ec-1", sub="jo.operator")) == "jo.operator"
    # A list audience that includes ours, and an issuer written with a trailing slash.
    token = provider.token("ec-1", aud=["other-app", AUDIENCE], iss=provider.issuer + "/")
    assert await auth.subject(token) == "awa.hfo"


async def test_clock_skew_within_the_leeway_is_tolerated(
    provider: Provider, auth: Authenticator
) -> None:
    now = utc_now()
    expired_just_now = provider.token(exp=now - timedelta(seconds=10))
    valid_in_a_moment = provider.token(nbf=now + timedelta(seconds=10))
    assert await auth.subject(expired_just_now) == "awa.hfo"
    assert await auth.subject(valid_in_a_moment) == "awa.hfo"


def _minutes(minutes: float) -> datetime:
    return utc_now() + timedelta(minutes=minutes)


# case -> (a token of the provider, the exact reason a production authenticator refuses it)
REFUSALS: dict[str, tuple[Callable[[Provider], str], str]] = {
    "wrong-issuer": (
        lambda idp: idp.token(iss="https://evil.example"),
        "token issuer 'https://evil.example' is not the configured issuer",
    ),
    "no-issuer": (lambda idp: idp.token(iss=None), "token has no issuer"),
    "wrong-audience": (
        lambda idp: idp.token("ec-1", aud="other-app"),
        "token audience does not include 'coord'",
    ),
    "no-audience": (lambda idp: idp.token(aud=None), "token audience does not include 'coord'"),
    "expired": (lambda idp: idp.token(exp=_minutes(-2)), "token has expired"),
    "not-yet-valid": (lambda idp: idp.token("ec-1", nbf=_minutes(2)), "token is not valid yet"),
    "issued-in-the-future": (lambda idp: idp.token(iat=_minutes(2)), "token is not valid yet"),
    "no-subject": (lambda idp: idp.token(sub=None), "token has no subject"),
    "no-expiry": (lambda idp: idp.token(exp=None), "token has no expiry"),
    "no-issue-time": (lambda idp: idp.token(iat=None), "token has no issue time (iat)"),
    "lives-for-ever": (
        lambda idp: idp.token(exp=10**20),
        "token lifetime (exp - iat) exceeds the maximum of 43200 s",
    ),
    "unknown-kid": (
        lambda idp: idp.token("rsa-9", signer=SigningKey.rsa("rsa-9")),
        "token signing key 'rsa-9' is unknown to the issuer",
    ),
    "no-kid-several-keys": (
        lambda idp: jwt.encode(idp.claims(), idp.key("ec-1").private, "ES256"),
        "token names no signing key (kid)",
    ),
    "forged-signature": (  # names a published kid, signed with another key
        lambda idp: idp.token("rsa-1", signer=SigningKey.rsa("rsa-1")),
        "token signature is invalid",
    ),
    "alg-mismatch": (
        lambda idp: idp.token("rsa-1", signer=idp.key("ec-1")),
        "token algorithm 'ES256' does not match its signing key 'rsa-1'",
    ),
    "hs256-dev-token": (
        lambda _: mint_token("awa.hfo", DEV_SECRET),
        "token algorithm 'HS256' is not accepted; use RS256 or ES256",
    ),
    "hs256-with-issuer-claims": (
        lambda idp: jwt.encode(idp.claims(), DEV_SECRET, "HS256", headers={"kid": "rsa-1"}),
        "token algorithm 'HS256' is not accepted; use RS256 or ES256",
    ),
    "alg-none": (
        lambda idp: jwt.encode(idp.claims(), "", "none", headers={"kid": "rsa-1"}),
        "token algorithm 'none' is not accepted; use RS256 or ES256",
    ),
    "malformed": (lambda _: "eyJhbGciOiJSUzI1NiJ9.garbage", "token is malformed"),
}


@pytest.mark.parametrize("case", REFUSALS)
async def test_untrustworthy_tokens_are_refused_with_a_clear_reason(
    provider: Provider, auth: Authenticator, case: str
) -> None:
    build, reason = REFUSALS[case]
    token = build(provider)
    with pytest.raises(InvalidToken) as error:
        await auth.subject(token)
    assert str(error.value) == reason
    assert token not in str(error.value)
    assert provider.jwks_requests <= 1


async def test_keys_are_fetched_once_for_many_tokens(
    provider: Provider, auth: Authenticator
) -> None:
    provider.jwks_delay = 0.1  # every concurrent caller arrives while the first fetch runs
    tokens = [provider.token(kid, sub=f"p{n}") for n in range(20) for kid in ("rsa-1", "ec-1")]
    subjects = await asyncio.gather(*(auth.subject(token) for token in tokens))
    assert len(subjects) == 40
    for token in tokens:
        await auth.subject(token)
    assert (provider.discovery_requests, provider.jwks_requests) == (1, 1)


async def test_a_cancelled_fetch_does_not_fail_the_requests_waiting_on_it(
    provider: Provider, auth: Authenticator
) -> None:
    provider.jwks_delay = 0.3
    first = asyncio.create_task(auth.subject(provider.token()))
    await asyncio.sleep(0.1)  # the first request is now fetching the keys
    second = asyncio.create_task(auth.subject(provider.token("ec-1")))
    await asyncio.sleep(0.05)  # ... and the second waits for that fetch
    first.cancel()  # as when the client of the first request hangs up
    assert await second == "awa.hfo"
    assert first.cancelled()
    assert provider.jwks_requests == 2


async def test_keys_are_fetched_again_when_the_cache_expires(
    provider: Provider, auth: Authenticator
) -> None:
    await auth.subject(provider.token())
    provider.clock.advance(CACHE_SECONDS - 1)
    await auth.subject(provider.token())
    assert provider.jwks_requests == 1
    provider.clock.advance(2)
    await auth.subject(provider.token())
    assert provider.jwks_requests == 2


async def test_rotation_new_key_is_picked_up_with_one_refetch(
    provider: Provider, auth: Authenticator
) -> None:
    assert await auth.subject(provider.token("rsa-1")) == "awa.hfo"
    assert provider.jwks_requests == 1
    provider.keys.append(SigningKey.ec("ec-2"))  # the issuer rotates in a new key
    provider.clock.advance(11)  # past the refetch throttle, far from the cache's expiry
    assert await auth.subject(provider.token("ec-2", sub="jo.operator")) == "jo.operator"
    assert provider.jwks_requests == 2
    # Now cached: neither the new key nor the old ones cause another fetch.
    await auth.subject(provider.token("ec-2"))
    await auth.subject(provider.token("rsa-1"))
    assert provider.jwks_requests == 2


async def test_unknown_kids_cannot_hammer_the_issuer(
    provider: Provider, auth: Authenticator
) -> None:
    await auth.subject(provider.token())
    provider.keys.append(SigningKey.rsa("rsa-2"))  # published, but only just
    provider.clock.advance(5)  # within the refetch throttle window of the first fetch
    for kid in ("made-up-a", "made-up-b"):
        with pytest.raises(InvalidToken, match="is unknown to the issuer"):
            await auth.subject(provider.token(kid, signer=SigningKey.ec(kid)))
    with pytest.raises(InvalidToken, match=r"^token signing key 'rsa-2' is unknown"):
        await auth.subject(provider.token("rsa-2"))
    assert provider.jwks_requests == 1
    # After the window, many unknown kids at once still cost a single refetch...
    provider.clock.advance(6)
    made_up = [f"made-up-{n}" for n in range(10)]
    results = await asyncio.gather(
        *(auth.subject(provider.token(kid, signer=SigningKey.ec(kid))) for kid in made_up),
        return_exceptions=True,
    )
    assert all(isinstance(result, InvalidToken) for result in results), results
    assert provider.jwks_requests == 2
    # ... which picked up the key published meanwhile.
    assert await auth.subject(provider.token("rsa-2")) == "awa.hfo"
    assert provider.jwks_requests == 2


async def test_provider_down_is_unavailable_not_invalid(make_auth: AuthFactory) -> None:
    auth = make_auth(issuer=f"http://127.0.0.1:{closed_port()}")
    token = jwt.encode(
        {"sub": "awa.hfo"}, SigningKey.ec("ec-1").private, "ES256", headers={"kid": "ec-1"}
    )
    with pytest.raises(IdentityProviderUnavailable, match="cannot fetch the discovery document"):
        await auth.subject(token)


async def test_failing_provider_is_asked_once_by_concurrent_requests(
    provider: Provider, auth: Authenticator
) -> None:
    provider.failing = True
    results = await asyncio.gather(
        *(auth.subject(provider.token()) for _ in range(10)), return_exceptions=True
    )
    assert all(isinstance(result, IdentityProviderUnavailable) for result in results), results
    assert "503" in str(results[0])
    assert provider.discovery_requests == 1
    provider.failing = False  # recovered: the next request fetches again
    assert await auth.subject(provider.token()) == "awa.hfo"


async def test_cached_keys_outlive_an_outage_until_they_expire(
    provider: Provider, auth: Authenticator
) -> None:
    await auth.subject(provider.token("rsa-1"))
    provider.failing = True
    provider.clock.advance(60)
    assert await auth.subject(provider.token("ec-1")) == "awa.hfo"  # cached, no fetch needed
    provider.clock.advance(CACHE_SECONDS)
    with pytest.raises(IdentityProviderUnavailable):
        await auth.subject(provider.token("ec-1"))


async def test_discovery_naming_another_issuer_is_unavailable(
    provider: Provider, auth: Authenticator
) -> None:
    provider.discovery_issuer = "https://elsewhere.example"
    with pytest.raises(IdentityProviderUnavailable, match="names issuer"):
        await auth.subject(provider.token())
    assert provider.jwks_requests == 0  # keys of an issuer we did not ask for are not loaded
