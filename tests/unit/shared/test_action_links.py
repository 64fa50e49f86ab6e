"""Action-link tokens: bound to one alert, person and action; signed, expiring, short."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.action_links import (
    MAX_TOKEN_LENGTH,
    ActionLink,
    InvalidLink,
    LinkAction,
    action_link_url,
    mint_link_token,
    read_link_token,
)

SECRET = "unit-link-secret-0123456789abcdef0123456789abcdef"  # noqa: S105
OTHER_SECRET = "unit-link-secret-fedcba9876543210fedcba9876543210"  # noqa: S105
ALERT = UUID("1b4e28ba-2fa1-11d2-883f-0016d3cca427")
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
TTL = timedelta(hours=24)
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def mint(person_id: str = "awa.hfo", *, secret: str = SECRET, **overrides: object) -> str:
    fields: dict[str, object] = {"ttl": TTL, "now": NOW, **overrides}
    return mint_link_token(ALERT, person_id, LinkAction.ACKNOWLEDGE, secret=secret, **fields)  # type: ignore[arg-type]


def read(token: str, *, secret: str = SECRET, now: datetime = NOW) -> ActionLink:
    return read_link_token(token, secret=secret, now=now)


def unpadded(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decoded(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


def resigned(signed: bytes, secret: str = SECRET) -> str:
    """A token of ``signed`` bytes with a correct MAC: what only the secret's holder can make."""
    mac = hmac.new(secret.encode(), b"coord.action-link\x00" + signed, hashlib.sha256)
    return unpadded(signed + mac.digest()[:16])


# ----------------------------------------------------------------------------- round trip


def test_a_token_reads_back_to_what_it_was_minted_for() -> None:
    link = read(mint())
    assert link.alert_id == ALERT
    assert link.person_id == "awa.hfo"
    assert link.action is LinkAction.ACKNOWLEDGE
    assert link.expires_at == NOW + TTL
    assert link.expires_at.tzinfo is UTC
    assert len(link.nonce) == 16
    int(link.nonce, 16)  # hex


@given(
    alert=st.uuids(),
    person=st.text(min_size=1, max_size=40).filter(lambda p: len(p.encode()) <= 128),
    ttl_seconds=st.integers(min_value=1, max_value=30 * 24 * 3600),
)
def test_any_alert_and_person_round_trip(alert: UUID, person: str, ttl_seconds: int) -> None:
    ttl = timedelta(seconds=ttl_seconds)
    token = mint_link_token(alert, person, LinkAction.ACKNOWLEDGE, secret=SECRET, ttl=ttl, now=NOW)
    link = read(token)
    assert (link.alert_id, link.person_id, link.expires_at) == (alert, person, NOW + ttl)
    assert len(token) <= MAX_TOKEN_LENGTH


def test_each_token_is_a_new_link() -> None:
    tokens = {mint() for _ in range(50)}
    assert len(tokens) == 50
    assert len({read(token).nonce for token in tokens}) == 50


def test_the_expiry_is_rounded_up_never_down() -> None:
    link = read(mint(ttl=timedelta(seconds=0.2), now=NOW + timedelta(microseconds=1)))
    assert link.expires_at == NOW + timedelta(seconds=1)


def test_the_link_is_the_public_url_and_the_token() -> None:
    token = mint()
    assert action_link_url("https://coord.example", token) == f"https://coord.example/l/{token}"
    assert action_link_url("https://coord.example/", token) == f"https://coord.example/l/{token}"
    assert (
        action_link_url("https://x.example/coord/", token) == f"https://x.example/coord/l/{token}"
    )


# --------------------------------------------------------------------------------- length


@pytest.mark.parametrize(
    ("person", "length"),
    [("awa.hfo", 71), ("abcdefghij", 75), ("a" * 128, MAX_TOKEN_LENGTH)],
)
def test_tokens_are_short(person: str, length: int) -> None:
    token = mint(person)
    assert len(token) == length
    assert set(token) <= set(ALPHABET)


def test_an_sms_sized_token_for_a_person_id_of_ten_characters() -> None:
    assert len(mint("abcdefghij")) <= 80


# ------------------------------------------------------------------------------ tampering


def test_every_change_of_one_character_is_refused() -> None:
    token = mint()
    for position, original in enumerate(token):
        for replacement in ALPHABET:
            if replacement == original:
                continue
            tampered = token[:position] + replacement + token[position + 1 :]
            with pytest.raises(InvalidLink):
                read(tampered)


@given(data=st.data())
def test_every_change_of_one_byte_is_refused(data: st.DataObject) -> None:
    raw = bytearray(decoded(mint()))
    position = data.draw(st.integers(0, len(raw) - 1), label="position")
    value = data.draw(st.integers(0, 255).filter(lambda v: v != raw[position]), label="value")
    raw[position] = value
    with pytest.raises(InvalidLink):
        read(unpadded(bytes(raw)))


@given(person=st.text(min_size=1, max_size=20).filter(lambda p: p != "awa.hfo"))
def test_a_token_for_one_person_cannot_be_read_as_for_another(person: str) -> None:
    raw = decoded(mint("awa.hfo"))
    swapped = raw[:30] + person.encode() + raw[-16:]
    with pytest.raises(InvalidLink) as refused:
        read(unpadded(swapped))
    assert refused.value.reason in ("not signed by this system", "malformed")


def test_cutting_or_extending_a_token_is_refused() -> None:
    token = mint()
    for cut in range(1, len(token)):
        with pytest.raises(InvalidLink):
            read(token[:cut])
    for extra in ("A", "AA", "AAAA", token):
        with pytest.raises(InvalidLink):
            read(token + extra)


def test_another_secret_does_not_read_it() -> None:
    with pytest.raises(InvalidLink) as refused:
        read(mint(), secret=OTHER_SECRET)
    assert refused.value.reason == "not signed by this system"


def test_the_mac_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    original = hmac.compare_digest

    def compare(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return original(a, b)

    monkeypatch.setattr(hmac, "compare_digest", compare)  # as shared.action_links calls it
    read(mint())
    assert len(calls) == 1


# --------------------------------------------------------------------------------- expiry


def test_valid_until_just_before_its_expiry_and_not_at_it() -> None:
    token = mint()
    assert read(token, now=NOW + TTL - timedelta(microseconds=1)).person_id == "awa.hfo"
    with pytest.raises(InvalidLink) as refused:
        read(token, now=NOW + TTL)
    assert refused.value.reason == "expired at 2026-11-24T10:00:00+00:00"
    with pytest.raises(InvalidLink, match="expired at"):
        read(token, now=NOW + timedelta(days=365))


def test_an_expired_forgery_is_not_signed_rather_than_expired() -> None:
    # "expired" is said only of a token this system made.
    with pytest.raises(InvalidLink) as refused:
        read(mint(), secret=OTHER_SECRET, now=NOW + 2 * TTL)
    assert refused.value.reason == "not signed by this system"


def test_now_defaults_to_the_clock() -> None:
    token = mint_link_token(ALERT, "awa.hfo", LinkAction.ACKNOWLEDGE, secret=SECRET, ttl=TTL)
    link = read_link_token(token, secret=SECRET)
    assert link.expires_at > datetime.now(UTC)


# ------------------------------------------------------------------------------ malformed


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("", id="empty"),
        pytest.param("not base64!", id="not-base64"),
        pytest.param("a+b/c=", id="standard-base64"),
        pytest.param("AQ", id="too-short"),
        pytest.param("A" * 60, id="short-of-a-person"),
        pytest.param("A" * 61, id="impossible-length"),
        pytest.param("A" * (MAX_TOKEN_LENGTH + 1), id="too-long"),
        pytest.param("A" * 100_000, id="far-too-long"),
        pytest.param("ÄQ" * 40, id="non-ascii"),
        pytest.param(" " + "A" * 70, id="space"),
    ],
)
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(InvalidLink) as refused:
        read(token)
    assert refused.value.reason == "malformed"
    assert str(refused.value) == "malformed"


def test_a_token_spelt_another_way_is_refused() -> None:
    # 53 bytes: the last character carries 4 spare bits; only the canonical spelling reads.
    token = mint()
    last = ALPHABET.index(token[-1])
    other = token[:-1] + ALPHABET[last ^ 0b0001]
    assert decoded(other) == decoded(token)
    with pytest.raises(InvalidLink, match="malformed"):
        read(other)


def _signed(version: int = 1, code: int = 1, expiry: int | None = None) -> bytes:
    at = int((NOW + TTL).timestamp()) if expiry is None else expiry
    return struct.pack(">BB16sI8s", version, code, ALERT.bytes, at, b"\x00" * 8) + b"awa.hfo"


@pytest.mark.parametrize(
    ("signed", "reason"),
    [
        pytest.param(_signed(version=2), "unknown version", id="version"),
        pytest.param(_signed(version=0), "unknown version", id="version-zero"),
        pytest.param(_signed(code=0), "unknown action", id="action-zero"),
        pytest.param(_signed(code=2), "unknown action", id="action-unknown"),
        pytest.param(_signed()[:30] + b"\xff\xfe", "malformed", id="person-not-utf8"),
    ],
)
def test_signed_but_unknown_contents_are_refused(signed: bytes, reason: str) -> None:
    with pytest.raises(InvalidLink) as refused:
        read(resigned(signed))
    assert refused.value.reason == reason


def test_the_layout_is_as_documented() -> None:
    link = read(resigned(_signed()))
    assert (link.alert_id, link.person_id, link.nonce) == (ALERT, "awa.hfo", "0" * 16)
    assert link.expires_at == NOW + TTL


# ---------------------------------------------------------------------------- minting errors


@pytest.mark.parametrize(
    ("person", "overrides", "secret"),
    [
        pytest.param("", {}, SECRET, id="no-person"),
        pytest.param("a" * 129, {}, SECRET, id="person-too-long"),
        pytest.param("é" * 65, {}, SECRET, id="person-too-many-bytes"),
        pytest.param("awa.hfo", {"ttl": timedelta(0)}, SECRET, id="no-ttl"),
        pytest.param("awa.hfo", {"ttl": timedelta(seconds=-1)}, SECRET, id="negative-ttl"),
        pytest.param("awa.hfo", {"ttl": timedelta(days=365 * 100)}, SECRET, id="after-2106"),
        pytest.param("awa.hfo", {"now": NOW.replace(tzinfo=None)}, SECRET, id="naive-now"),
        pytest.param("awa.hfo", {}, "", id="no-secret"),
    ],
)
def test_minting_refuses_what_cannot_be_a_link(
    person: str, overrides: dict[str, object], secret: str
) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case says its own why
        mint(person, secret=secret, **overrides)


def test_reading_with_a_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        read_link_token(mint(), secret=SECRET, now=NOW.replace(tzinfo=None))
