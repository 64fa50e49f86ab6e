"""Source protection: an alert's source sealed at the edge, opened only for cleared readers.

Who reported an alert (``Source``: name, contact) is STRICTLY CONFIDENTIAL
(docs/design.md#source-protection). Ingest seals it before anything is written, so
the outbox, the broker, the router's log and every later copy hold only a
``SealedSource``; an auditor cleared STRICTLY CONFIDENTIAL sees it opened in an
export (``shared.audit_export``).

The key ring comes from ``COORD_SOURCE_KEYS`` = ``kid:key,kid:key`` (each key 32
random bytes in base64url). The FIRST key seals; every key opens. Rotation: put a
new key first (``coord source-key new`` makes one) and keep the old ones after it.
Retiring a key (removing it) makes what it sealed unreadable for good
(crypto-shredding) while the event log still verifies: its digests are over the
sealed form.

Sealing is AES-256-GCM with a random 96-bit nonce. The associated data binds the
ciphertext to its alert id, so a sealed source copied onto another alert does not
open. The plaintext is padded to a multiple of ``_PAD_TO`` bytes so the length of
the ciphertext does not tell one reporter's name from another's.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import ValidationError

from shared.contracts.alerts import KEY_ID_PATTERN, SealedSource, Source
from shared.settings import Settings

__all__ = [
    "InvalidSourceKeys",
    "SealedSource",
    "SourceKeyRing",
    "SourceNotAuthentic",
    "SourceProtectionError",
    "UnknownSourceKey",
    "new_key_line",
]

KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # the 96-bit nonce GCM is designed for
_PAD_TO = 128  # bytes; a name and a phone number fit in one block
_AAD_PREFIX = "coord.alert.source:"
_DIGEST_INFO = b"coord request digest v1"  # HKDF label: the digest key is not the sealing key
_KEY_ID = re.compile(KEY_ID_PATTERN)


class SourceProtectionError(Exception):
    """A source cannot be sealed or opened."""


class InvalidSourceKeys(SourceProtectionError, ValueError):
    """``COORD_SOURCE_KEYS`` is malformed (the message says where; it never shows a key)."""


class UnknownSourceKey(SourceProtectionError):
    """The source was sealed with a key that is not on the ring (retired or foreign)."""


class SourceNotAuthentic(SourceProtectionError):
    """The sealed source does not open: altered, truncated, or not of this alert."""


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")


def _b64decode(text: str) -> bytes:
    """Strict base64url, padding optional (keys pasted from other tools often drop it)."""
    if not re.fullmatch(r"[A-Za-z0-9_-]*={0,2}", text):
        raise ValueError("not base64url")
    stripped = text.rstrip("=")
    return base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))


def _associated_data(alert_id: UUID) -> bytes:
    return f"{_AAD_PREFIX}{alert_id}".encode()


def _pad(plaintext: bytes) -> bytes:
    # JSON ignores trailing whitespace, so spaces pad without a length field.
    return plaintext + b" " * (-len(plaintext) % _PAD_TO)


class SourceKeyRing:
    """The keys that seal (the first) and open (all) alert sources.

    Build it with ``parse`` (the setting's text) or ``from_settings``. Its ``repr``
    names the key ids only.
    """

    def __init__(self, keys: Iterable[tuple[str, bytes]]) -> None:
        self._keys: dict[str, bytes] = {}
        for kid, key in keys:
            if not _KEY_ID.fullmatch(kid):
                raise InvalidSourceKeys(
                    "a source key id is 1-64 letters, digits, '.', '_' or '-' (first: letter "
                    "or digit)"
                )
            if kid in self._keys:
                raise InvalidSourceKeys(f"source key id {kid!r} appears twice")
            if len(key) != KEY_BYTES:
                raise InvalidSourceKeys(
                    f"source key {kid!r} is {len(key)} bytes; AES-256 needs {KEY_BYTES}"
                )
            self._keys[kid] = key
        if not self._keys:
            raise InvalidSourceKeys("no source keys: give at least one kid:key")
        self._sealing_kid = next(iter(self._keys))

    @classmethod
    def parse(cls, text: str) -> SourceKeyRing:
        """Read ``kid:key,kid:key`` (keys base64url of 32 bytes); the first key seals.

        Raises InvalidSourceKeys naming the entry (by position and key id) and what is
        wrong with it, never the key itself.
        """
        if not text.strip():
            raise InvalidSourceKeys("no source keys: give at least one kid:key")
        keys: list[tuple[str, bytes]] = []
        for position, entry in enumerate(text.split(","), start=1):
            kid, separator, encoded = (part.strip() for part in entry.strip().partition(":"))
            if not separator or not kid or not encoded:
                raise InvalidSourceKeys(
                    f"source key entry {position} is not kid:key (base64url of {KEY_BYTES} bytes)"
                )
            if not _KEY_ID.fullmatch(kid):
                raise InvalidSourceKeys(
                    f"source key entry {position}: the key id must be 1-64 letters, digits, "
                    "'.', '_' or '-'"
                )
            try:
                key = _b64decode(encoded)
            except (ValueError, binascii.Error):
                raise InvalidSourceKeys(
                    f"source key entry {position} ({kid!r}): the key is not base64url"
                ) from None
            keys.append((kid, key))
        return cls(keys)

    @classmethod
    def from_settings(cls, settings: Settings) -> SourceKeyRing:
        """The ring of ``COORD_SOURCE_KEYS``."""
        return cls.parse(settings.source_keys.get_secret_value())

    @property
    def sealing_kid(self) -> str:
        """The id of the key new sources are sealed with (the first)."""
        return self._sealing_kid

    @property
    def kids(self) -> tuple[str, ...]:
        """Every key id, the sealing one first."""
        return tuple(self._keys)

    def __repr__(self) -> str:
        return f"SourceKeyRing(kids={list(self._keys)!r})"

    def seal(self, source: Source, alert_id: UUID) -> SealedSource:
        """``source`` encrypted with the sealing key, bound to ``alert_id``."""
        nonce = os.urandom(NONCE_BYTES)
        plaintext = _pad(source.model_dump_json().encode())
        ciphertext = AESGCM(self._keys[self._sealing_kid]).encrypt(
            nonce, plaintext, _associated_data(alert_id)
        )
        return SealedSource(
            kid=self._sealing_kid, nonce=_b64encode(nonce), ciphertext=_b64encode(ciphertext)
        )

    def open(self, sealed: SealedSource, alert_id: UUID) -> Source:
        """The source sealed for ``alert_id``.

        Raises UnknownSourceKey when its key is not on the ring (e.g. retired), and
        SourceNotAuthentic when it does not authenticate (altered, or another alert's).
        """
        key = self._keys.get(sealed.kid)
        if key is None:
            raise UnknownSourceKey(
                f"the source was sealed with key {sealed.kid!r}, which is not on the ring "
                f"(ring: {', '.join(self._keys)})"
            )
        try:
            nonce, ciphertext = _b64decode(sealed.nonce), _b64decode(sealed.ciphertext)
        except (ValueError, binascii.Error):
            raise SourceNotAuthentic("the sealed source is not valid base64url") from None
        if len(nonce) != NONCE_BYTES:
            raise SourceNotAuthentic(f"the nonce is {len(nonce)} bytes, not {NONCE_BYTES}")
        try:
            plaintext = AESGCM(key).decrypt(nonce, ciphertext, _associated_data(alert_id))
        except InvalidTag:
            raise SourceNotAuthentic(
                f"the sealed source does not authenticate for alert {alert_id} "
                "(altered, or sealed for another alert)"
            ) from None
        try:
            return Source.model_validate_json(plaintext)
        except ValidationError:  # authentic but not a Source: sealed by something else
            raise SourceNotAuthentic("the sealed source does not hold a source") from None

    def digest(self, data: bytes) -> str:
        """A keyed digest (HMAC-SHA256, hex) of ``data`` under the sealing key.

        For fingerprints of requests that hold a source (idempotency): a plain hash
        would let anyone who reads it test a guessed name or phone number.
        """
        return self._digest(self._keys[self._sealing_kid], data)

    def digests(self, data: bytes) -> frozenset[str]:
        """``data``'s digest under every key: one made before a rotation still matches."""
        return frozenset(self._digest(key, data) for key in self._keys.values())

    @staticmethod
    def _digest(key: bytes, data: bytes) -> str:
        # Its own key, derived: the sealing key is used for nothing but AES-GCM.
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_DIGEST_INFO).derive(
            key
        )
        return hmac.new(derived, data, hashlib.sha256).hexdigest()


def new_key_line(kid: str | None = None) -> str:
    """A new ``kid:key`` entry for the ring: 32 random bytes, a dated id unless given."""
    kid = kid or f"k{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(3)}"
    if not _KEY_ID.fullmatch(kid):
        raise InvalidSourceKeys(
            f"key id {kid!r}: 1-64 letters, digits, '.', '_' or '-' (first: letter or digit)"
        )
    return f"{kid}:{_b64encode(secrets.token_bytes(KEY_BYTES))}"
