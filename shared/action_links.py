"""Action links: a short signed token that lets one person do one thing to one alert.

A page carries a link such as ``https://coord.example/l/<token>``. Opening it shows a
confirmation screen; confirming acts as the person the token names, without a full
sign-in (ingest's ``GET/POST /l/{token}``). The token is what makes that safe:

- **bound**: the alert, the person and the action are inside it and signed, so no part
  can be changed to act on another alert or as another person;
- **expiring**: its expiry is signed too;
- **single-use**: it carries a random nonce, which ingest records when the link is used
  (this module only names it: ``ActionLink.nonce``);
- **short**: binary, base64url without padding, so that it fits an SMS later
  (71 characters for the person id ``awa.hfo``).

Layout of the signed bytes (then base64url, no padding)::

    version (1) | action code (1) | alert UUID (16) | expiry, unix seconds, big-endian (4)
    | nonce (8) | person id, UTF-8 (the rest) | HMAC-SHA256 truncated to 16 bytes

The MAC covers every byte before it, under ``COORD_LINK_SECRET`` with a label of its own
(``coord.action-link``), so a MAC made for something else under the same key is no token.
Nothing beyond these fields is in a token: not the alert's title, and never its source.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import re
import secrets
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from uuid import UUID

VERSION = 1
NONCE_BYTES = 8  # 64 random bits: unguessable, and collisions do not matter (one per page)
MAC_BYTES = 16  # 128 bits of HMAC-SHA256: forging stays out of reach, the token stays short
# A longer person id is refused when minting: no directory has one, and it keeps tokens short.
MAX_PERSON_ID_BYTES = 128
_HEADER = struct.Struct(">BB16sI8s")  # version, action, alert, expiry, nonce
_MAC_LABEL = b"coord.action-link\x00"
_MAX_EXPIRY = 2**32 - 1  # the 4-byte field: 2106-02-07
_MIN_RAW = _HEADER.size + 1 + MAC_BYTES
_MAX_RAW = _HEADER.size + MAX_PERSON_ID_BYTES + MAC_BYTES
#: The longest token ``read_link_token`` looks at; anything longer is refused unread.
MAX_TOKEN_LENGTH = math.ceil(_MAX_RAW * 4 / 3)
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")


class LinkAction(StrEnum):
    """What a link does when its person confirms."""

    ACKNOWLEDGE = "acknowledge"


# The byte each action is written as: codes are forever (tokens in flight carry them),
# so a new action gets a new code and an old code is never reused.
_ACTION_CODES: dict[LinkAction, int] = {LinkAction.ACKNOWLEDGE: 1}
_ACTIONS_BY_CODE = {code: action for action, code in _ACTION_CODES.items()}


@dataclass(frozen=True)
class ActionLink:
    """What a valid token says: who may do what to which alert, until when.

    ``nonce`` (16 hex digits) is the link's own id: the single-use record is keyed by it,
    since two links for the same alert, person and action (a page retried, a second
    channel) are different links.
    """

    alert_id: UUID
    person_id: str
    action: LinkAction
    expires_at: datetime
    nonce: str


class InvalidLink(Exception):
    """A token that does not give anyone the right to act.

    ``reason`` is safe to show to whoever opened the link: it says what is wrong with the
    token, never anything a token does not already carry.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        # A naive time would be read as local time: a link's expiry would shift by hours.
        raise ValueError("now must be timezone-aware")
    return now


def _mac(secret: str, signed: bytes) -> bytes:
    if not secret:
        raise ValueError("the link secret is empty")
    key = secret.encode()
    return hmac.new(key, _MAC_LABEL + signed, hashlib.sha256).digest()[:MAC_BYTES]


def mint_link_token(
    alert_id: UUID,
    person_id: str,
    action: LinkAction,
    *,
    secret: str,
    ttl: timedelta,
    now: datetime | None = None,
) -> str:
    """A new token letting ``person_id`` do ``action`` to ``alert_id`` for ``ttl``.

    Each call makes a new nonce, hence a new link. The expiry is rounded up to a whole
    second, so a link never lives shorter than ``ttl``.

    Raises:
        ValueError: an empty or over-long person id, a ``ttl`` that is not positive or
            ends after 2106, an empty secret, or a naive ``now``.
    """
    person = person_id.encode()
    if not person:
        raise ValueError("a link names a person")
    if len(person) > MAX_PERSON_ID_BYTES:
        raise ValueError(f"a person id of more than {MAX_PERSON_ID_BYTES} bytes has no link")
    if ttl <= timedelta(0):
        raise ValueError("a link's ttl must be positive")
    expiry = math.ceil((_now(now) + ttl).timestamp())
    if expiry > _MAX_EXPIRY:
        raise ValueError("a link cannot expire after 2106")
    header = _HEADER.pack(
        VERSION, _ACTION_CODES[action], alert_id.bytes, expiry, secrets.token_bytes(NONCE_BYTES)
    )
    signed = header + person
    raw = signed + _mac(secret, signed)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode(token: str) -> bytes:
    # Refused before any work: a link is read from an unauthenticated URL.
    if not token or len(token) > MAX_TOKEN_LENGTH or not _BASE64URL.fullmatch(token):
        raise InvalidLink("malformed")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError) as error:
        raise InvalidLink("malformed") from error
    # Only the canonical spelling: the last character's spare bits would otherwise give
    # one token several spellings, each a different "link" to whoever keys on the text.
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != token:
        raise InvalidLink("malformed")
    if not _MIN_RAW <= len(raw) <= _MAX_RAW:
        raise InvalidLink("malformed")
    return raw


def read_link_token(token: str, *, secret: str, now: datetime | None = None) -> ActionLink:
    """What ``token`` allows, if it was minted with ``secret`` and is still valid at ``now``.

    A link is valid up to, not at, its expiry. Whether it was used already, and whether
    its alert is still open, is for the caller to check: a token cannot know.

    Raises:
        InvalidLink: with the reason: ``malformed``, ``unknown version``, ``not signed by
            this system`` (another secret, or any byte changed), ``unknown action``, or
            ``expired at <ISO time>``.
    """
    raw = _decode(token)
    if raw[0] != VERSION:
        raise InvalidLink("unknown version")
    signed, mac = raw[:-MAC_BYTES], raw[-MAC_BYTES:]
    # Constant time: how far a forged MAC matches must not show in how long we take.
    if not hmac.compare_digest(mac, _mac(secret, signed)):
        raise InvalidLink("not signed by this system")
    # Signed from here on: only a token this system minted gets past the MAC.
    _, code, alert, expiry, nonce = _HEADER.unpack_from(signed)
    action = _ACTIONS_BY_CODE.get(code)
    if action is None:
        raise InvalidLink("unknown action")
    try:
        person_id = signed[_HEADER.size :].decode()
    except UnicodeDecodeError as error:  # never minted so; refuse rather than guess
        raise InvalidLink("malformed") from error
    expires_at = datetime.fromtimestamp(expiry, UTC)
    if _now(now) >= expires_at:
        raise InvalidLink(f"expired at {expires_at.isoformat()}")
    return ActionLink(
        alert_id=UUID(bytes=alert),
        person_id=person_id,
        action=action,
        expires_at=expires_at,
        nonce=nonce.hex(),
    )


def action_link_url(public_url: str, token: str) -> str:
    """The link people open: ``<public_url>/l/<token>`` (ingest's confirmation page)."""
    return f"{public_url.rstrip('/')}/l/{token}"
