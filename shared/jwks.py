"""The signing keys of an OpenID Connect issuer: discovery, JWKS fetch and a bounded cache."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt

# Only asymmetric keys can verify issuer tokens: a symmetric ("oct") key in a JWKS would let
# anyone who can read the JWKS sign tokens, so such keys are never loaded.
USABLE_KEY_TYPES = frozenset({"RSA", "EC"})


class IdentityProviderUnavailable(Exception):
    """The issuer's discovery document or JWKS cannot be fetched or is unusable.

    This is not the client's fault: the HTTP layer answers 503, not 401.
    """


class JwksCache:
    """The signing keys of one issuer, fetched on demand and kept for ``ttl`` seconds.

    A token naming a key id missing from the cache triggers one refetch (how rotation at
    the issuer is picked up), but at most once every ``min_refetch_interval`` seconds, so
    tokens with made-up key ids cannot make us hammer the issuer. Concurrent callers share
    one fetch.
    """

    def __init__(
        self,
        issuer: str,
        *,
        ttl: float,
        min_refetch_interval: float = 10.0,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._issuer = issuer.rstrip("/")
        self._discovery_url = f"{self._issuer}/.well-known/openid-configuration"
        self._ttl = ttl
        self._min_refetch_interval = min_refetch_interval
        self._clock = clock
        # Redirects are not followed: the keys must come from where the issuer says they are.
        self._client = httpx.AsyncClient(timeout=timeout, follow_redirects=False)
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._fetched_at: float | None = None  # last successful fetch
        self._attempted_at: float | None = None  # last fetch, successful or not
        self._attempts = 0  # finished fetches
        self._failure: str | None = None  # why the last attempt failed, if it did
        self._lock = asyncio.Lock()

    async def key(self, kid: str | None) -> jwt.PyJWK | None:
        """The issuer's signing key ``kid`` (``None``: the issuer does not publish it).

        Raises:
            IdentityProviderUnavailable: the keys are needed but cannot be fetched.
        """
        if not self._fresh():
            await self._refresh()
        key = self._lookup(kid)
        if key is None and self._may_refetch():
            await self._refresh()
            key = self._lookup(kid)
        return key

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()

    def _fresh(self) -> bool:
        return self._fetched_at is not None and self._clock() - self._fetched_at < self._ttl

    def _may_refetch(self) -> bool:
        return (
            self._attempted_at is None
            or self._clock() - self._attempted_at >= self._min_refetch_interval
        )

    def _lookup(self, kid: str | None) -> jwt.PyJWK | None:
        # A token without "kid" is acceptable only when the issuer publishes a single key.
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        return self._keys.get(kid)

    async def _refresh(self) -> None:
        # No await between the caller's decision to refresh and this snapshot, so whoever
        # finds the counter moved once it holds the lock knows another caller just fetched
        # on its behalf and reuses that outcome instead of fetching again.
        seen = self._attempts
        async with self._lock:
            if self._attempts == seen:
                self._attempted_at = self._clock()
                try:
                    self._keys = await self._fetch()
                except IdentityProviderUnavailable as error:
                    self._failure = str(error)
                else:
                    self._failure = None
                    self._fetched_at = self._clock()
                # Counted once it has an outcome, which callers queued behind it then reuse;
                # a fetch cut short by cancellation has none, so the next in line fetches.
                self._attempts += 1
            if self._failure is not None:
                raise IdentityProviderUnavailable(self._failure)

    async def _fetch(self) -> dict[str | None, jwt.PyJWK]:
        discovery = await self._get_json(self._discovery_url, "discovery document")
        issuer = discovery.get("issuer")
        if not isinstance(issuer, str) or issuer.rstrip("/") != self._issuer:
            raise IdentityProviderUnavailable(
                f"discovery document names issuer {issuer!r}, not {self._issuer!r}"
            )
        jwks_uri = discovery.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri:
            raise IdentityProviderUnavailable("discovery document has no jwks_uri")
        keys = _usable_keys(await self._get_json(jwks_uri, "JWKS"))
        if not keys:
            raise IdentityProviderUnavailable(f"the issuer's JWKS {jwks_uri} has no usable keys")
        return keys

    async def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            response = await self._client.get(url, headers={"Accept": "application/json"})
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as error:
            reason = str(error) or type(error).__name__
            raise IdentityProviderUnavailable(f"cannot fetch the {what} {url}: {reason}") from None
        if not isinstance(document, dict):
            raise IdentityProviderUnavailable(f"the {what} {url} is not a JSON object")
        return document


def _usable_keys(jwks: dict[str, Any]) -> dict[str | None, jwt.PyJWK]:
    """The signature keys of a JWKS by key id; keys we cannot or must not use are skipped."""
    entries = jwks.get("keys")
    keys: dict[str | None, jwt.PyJWK] = {}
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or entry.get("kty") not in USABLE_KEY_TYPES:
            continue
        if entry.get("use", "sig") != "sig":  # encryption keys do not verify signatures
            continue
        kid = entry.get("kid")
        try:
            key = jwt.PyJWK(entry)
        except jwt.PyJWTError:
            continue  # one odd key must not make the issuer's other keys unusable
        keys.setdefault(kid if isinstance(kid, str) else None, key)
    return keys
