"""Who calls comes before what they send: every v1 route authenticates, then reads the body.

FastAPI decodes a JSON body before it runs a route's dependencies, so a request with
no token and a malformed body was answered 422 (telling an anonymous caller how the
API parses) and was never counted by the rate limit. :class:`AuthenticatedRoute`
checks the bearer token (401), the person (401) and the rate limit (429) first; only
then is the request looked into: NUL characters (422, ``services.ingest.limits``) and
the body, decoded strictly (:func:`strict_json`). Only the body's size is checked
before (413): reading an unbounded body to authenticate first would defeat the limit.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from services.ingest.deps import bearer_token, context_of, current_person, verified_token
from services.ingest.limits import refuse_nul
from services.ingest.rate_limit import limit_rate

__all__ = ["AuthenticatedRoute", "strict_json"]


def strict_json(body: bytes) -> Any:
    """``body`` decoded as JSON, refusing what a lax decoder would guess at.

    A duplicate key would otherwise resolve last-wins: a proxy that checks the first
    ``"classification"`` and a service that stores the last one see two different
    alerts. A byte order mark, another encoding than UTF-8, ``NaN`` and ``Infinity`` are
    not JSON (RFC 8259).

    Raises:
        json.JSONDecodeError: not JSON, not UTF-8, a BOM, ``NaN``/``Infinity``, or a key
            twice in one object (FastAPI answers 422 naming it).
    """
    try:
        # JSON is UTF-8 (RFC 8259 section 8.1); json.loads would also guess UTF-16 or -32.
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise json.JSONDecodeError("the body is not UTF-8", "", error.start) from None
    if text.startswith("\ufeff"):
        raise json.JSONDecodeError("a byte order mark (BOM) is not allowed", text, 0)

    def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        decoded: dict[str, Any] = {}
        for key, value in pairs:
            if key in decoded:
                raise json.JSONDecodeError(f"duplicate key {key!r}", text, 0)
            decoded[key] = value
        return decoded

    def no_constant(name: str) -> Any:
        raise json.JSONDecodeError(f"{name} is not a JSON number", text, text.find(name))

    return json.loads(text, object_pairs_hook=unique_keys, parse_constant=no_constant)


class _StrictJsonRequest(Request):
    """A request whose ``json()`` is :func:`strict_json` (what FastAPI calls for the body)."""

    async def json(self) -> Any:
        """The body, decoded strictly."""
        if not hasattr(self, "_json"):
            self._json = strict_json(await self.body())
        return self._json


class AuthenticatedRoute(APIRoute):
    """A route whose caller is authenticated and rate-limited before its body is decoded."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """FastAPI's handler, behind the caller's checks and with the strict JSON request."""
        handle = super().get_route_handler()

        async def authenticated_first(request: Request) -> Response:
            context = await context_of(request)
            token = await verified_token(request, context, await bearer_token(request))
            await limit_rate(request, await current_person(context, token))
            strict = _StrictJsonRequest(request.scope, request.receive)
            refuse_nul(strict.scope, await strict.body())  # read once: kept on ``strict``
            return await handle(strict)

        return authenticated_first
