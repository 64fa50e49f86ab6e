"""Is this request Kannel's? The shared secret, and the gateway's address if configured.

Kannel can prove itself only with what its URLs carry: a ``secret`` query parameter or
HTTP basic auth (``http://coord:SECRET@host/...`` in its ``get-url``). Both are compared
in constant time. ``COORD_SMS_GATEWAY_ADDRESS`` also binds the routes to the gateway's
address, so a leaked secret is not enough from elsewhere.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Callable

from fastapi import HTTPException, Query, Request

UNAUTHORIZED = "not the SMS gateway: a wrong or missing secret, or another address"


def _basic_password(authorization: str | None) -> str | None:
    if authorization is None or not authorization.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[2]


def is_gateway(
    request: Request, secret: str | None, *, expected: str, gateway_address: str | None
) -> bool:
    """Whether ``request`` carries ``expected`` (``secret`` or basic auth), from the gateway."""
    if gateway_address is not None and (
        request.client is None or request.client.host != gateway_address
    ):
        return False
    offered = (
        secret if secret is not None else _basic_password(request.headers.get("authorization"))
    )
    return offered is not None and hmac.compare_digest(offered.encode(), expected.encode())


def gateway_only(expected: str, gateway_address: str | None) -> Callable[..., None]:
    """A route dependency refusing (401, nothing recorded) a request that is not the gateway's.

    A dependency runs before the route's parameters are validated, so a stranger gets
    401 whatever they send, never a 422 describing what the route expects.
    """

    def check(request: Request, secret: str | None = Query(default=None)) -> None:
        if not is_gateway(request, secret, expected=expected, gateway_address=gateway_address):
            raise HTTPException(status_code=401, detail=UNAUTHORIZED)

    return check
