"""Signed webhooks with replay protection (header ``X-Coord-Signature``).

``X-Coord-Signature: t=<unix seconds>,v1=<hex>``, where ``<hex>`` is the HMAC-SHA256, with
the webhook secret, of ``f"{t}."`` followed by the raw body. The timestamp is signed too,
so a receiver that refuses a ``t`` further than its tolerance from its own clock refuses a
captured request replayed later (``Settings.webhook_tolerance``, 300 s by default).
A receiver also accepts any one of several ``v1=`` values (a secret being rotated).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Coord-Signature"
SCHEME = "v1"
DEFAULT_TOLERANCE = 300.0  # seconds; the default of Settings.webhook_tolerance


class Verdict(enum.Enum):
    """The outcome of :func:`verify`; only ``OK`` is truthy."""

    OK = "signature ok"
    MALFORMED = "malformed signature header"
    STALE = "timestamp outside the tolerance (a replay, or a clock off)"
    BAD_SIGNATURE = "signature does not match the body and timestamp"

    def __bool__(self) -> bool:
        return self is Verdict.OK


def _digest(body: bytes, secret: str, timestamp: int) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(body: bytes, secret: str, timestamp: int | None = None) -> str:
    """The header value for ``body`` sent at ``timestamp`` (unix seconds; now by default)."""
    at = int(time.time()) if timestamp is None else timestamp
    return f"t={at},{SCHEME}={_digest(body, secret, at)}"


def parse(header: str) -> tuple[int, list[str]] | None:
    """``(timestamp, [v1 signatures])`` of a header value, or None when it is malformed."""
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            return None
        if key == "t":
            if timestamp is not None or not value.isascii() or not value.isdigit():
                return None
            timestamp = int(value)
        elif key == SCHEME:
            signatures.append(value)
        # other schemes are ignored, so that a v2 can be added beside v1
    if timestamp is None or not signatures:
        return None
    return timestamp, signatures


def verify(
    body: bytes,
    header: str,
    secret: str,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> Verdict:
    """Whether ``header`` signs ``body`` with ``secret`` within ``tolerance`` seconds of ``now``.

    Returns a :class:`Verdict` (truthy only when valid) naming why a request is refused.
    The timestamp is checked before the signature; the comparison is constant-time.
    """
    parsed = parse(header)
    if parsed is None:
        return Verdict.MALFORMED
    timestamp, signatures = parsed
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        return Verdict.STALE
    expected = _digest(body, secret, timestamp)
    # Check every candidate (no early exit) so timing says nothing about which one matched.
    matched = False
    for candidate in signatures:
        matched |= hmac.compare_digest(expected.encode(), candidate.encode())
    return Verdict.OK if matched else Verdict.BAD_SIGNATURE
