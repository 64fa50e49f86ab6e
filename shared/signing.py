"""HMAC-SHA256 signatures of webhook bodies (header ``X-Coord-Signature``)."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Coord-Signature"


def sign(body: bytes, secret: str) -> str:
    """The signature header value of ``body``: ``sha256=<hex>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(body: bytes, signature: str, secret: str) -> bool:
    """True when ``signature`` is the signature of ``body`` (constant-time compare)."""
    return hmac.compare_digest(sign(body, secret), signature)
