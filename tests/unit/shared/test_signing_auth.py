"""Webhook signatures (timestamped, replay-protected) and development bearer tokens."""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import timedelta

import jwt
import pytest

from shared.auth import InvalidToken, mint_token, subject_of
from shared.envelope import utc_now
from shared.signing import Verdict, sign, verify

SECRET = "unit-test-secret-" + "0123456789abcdef" * 4
OTHER_SECRET = "another-secret-0123456789abcdef0123456789abcdef"  # noqa: S105
BODY = b'{"alert_id":"a","person_id":"awa.hfo","title":"Abduction"}'


NOW = 1_795_000_000  # a fixed "now" (unix seconds): no test depends on the clock
TOLERANCE = 300.0


def test_signature_is_hex_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(BODY, SECRET, NOW) == f"t={NOW},v1={expected}"


def test_sign_uses_the_clock_by_default() -> None:
    before = int(time.time())
    header = sign(BODY, SECRET)
    timestamp = int(header.removeprefix("t=").split(",")[0])
    assert before <= timestamp <= int(time.time())
    assert verify(BODY, header, SECRET, tolerance=TOLERANCE)


def test_sign_verify_round_trip() -> None:
    verdict = verify(BODY, sign(BODY, SECRET, NOW), SECRET, tolerance=TOLERANCE, now=NOW)
    assert verdict is Verdict.OK
    assert verdict


def _other_timestamp(header: str) -> str:
    return header.replace(f"t={NOW},", f"t={NOW - 1},")


SIGNED = sign(BODY, SECRET, NOW)
DIGEST = SIGNED.partition(",v1=")[2]


@pytest.mark.parametrize(
    ("body", "header", "secret", "now", "verdict"),
    [
        pytest.param(BODY, SIGNED, SECRET, NOW, Verdict.OK, id="valid"),
        pytest.param(BODY, SIGNED, SECRET, NOW + TOLERANCE, Verdict.OK, id="valid-at-tolerance"),
        pytest.param(BODY, SIGNED, SECRET, NOW - TOLERANCE, Verdict.OK, id="valid-clock-behind"),
        pytest.param(
            BODY, f"v1={DIGEST},t={NOW}", SECRET, NOW, Verdict.OK, id="valid-fields-reordered"
        ),
        pytest.param(
            BODY, f"t={NOW},v1={'0' * 64},v1={DIGEST}", SECRET, NOW, Verdict.OK, id="one-of-two"
        ),
        pytest.param(
            BODY, f"{SIGNED},v2=future", SECRET, NOW, Verdict.OK, id="unknown-scheme-ignored"
        ),
        pytest.param(BODY + b" ", SIGNED, SECRET, NOW, Verdict.BAD_SIGNATURE, id="body-extra-byte"),
        pytest.param(
            BODY.replace(b"awa.hfo", b"eve.evil"),
            SIGNED,
            SECRET,
            NOW,
            Verdict.BAD_SIGNATURE,
            id="body-changed",
        ),
        pytest.param(
            BODY,
            _other_timestamp(SIGNED),
            SECRET,
            NOW,
            Verdict.BAD_SIGNATURE,
            id="timestamp-changed",
        ),
        pytest.param(BODY, SIGNED, OTHER_SECRET, NOW, Verdict.BAD_SIGNATURE, id="wrong-secret"),
        pytest.param(
            BODY,
            sign(BODY, OTHER_SECRET, NOW),
            SECRET,
            NOW,
            Verdict.BAD_SIGNATURE,
            id="signed-with-other-secret",
        ),
        pytest.param(
            BODY, SIGNED[:-1], SECRET, NOW, Verdict.BAD_SIGNATURE, id="truncated-signature"
        ),
        pytest.param(
            BODY, SIGNED, SECRET, NOW + TOLERANCE + 1, Verdict.STALE, id="replayed-after-tolerance"
        ),
        pytest.param(
            BODY, SIGNED, SECRET, NOW - TOLERANCE - 1, Verdict.STALE, id="future-beyond-tolerance"
        ),
        pytest.param(
            BODY,
            _other_timestamp(SIGNED).replace(f"t={NOW - 1}", f"t={NOW - 3600}"),
            SECRET,
            NOW,
            Verdict.STALE,
            id="stale-checked-before-signature",
        ),
        pytest.param(BODY, "", SECRET, NOW, Verdict.MALFORMED, id="empty"),
        pytest.param(BODY, f"sha256={DIGEST}", SECRET, NOW, Verdict.MALFORMED, id="old-format"),
        pytest.param(BODY, f"v1={DIGEST}", SECRET, NOW, Verdict.MALFORMED, id="no-timestamp"),
        pytest.param(BODY, f"t={NOW}", SECRET, NOW, Verdict.MALFORMED, id="no-signature"),
        pytest.param(
            BODY,
            f"t={NOW},t={NOW},v1={DIGEST}",
            SECRET,
            NOW,
            Verdict.MALFORMED,
            id="two-timestamps",
        ),
        pytest.param(
            BODY, f"t=-{NOW},v1={DIGEST}", SECRET, NOW, Verdict.MALFORMED, id="negative-timestamp"
        ),
        pytest.param(
            BODY, f"t={NOW}.5,v1={DIGEST}", SECRET, NOW, Verdict.MALFORMED, id="float-timestamp"
        ),
        pytest.param(
            BODY, f"t=١٧٩٥,v1={DIGEST}", SECRET, NOW, Verdict.MALFORMED, id="non-ascii-digits"
        ),
        pytest.param(BODY, f"t={NOW};v1={DIGEST}", SECRET, NOW, Verdict.MALFORMED, id="semicolon"),
        pytest.param(BODY, "garbage", SECRET, NOW, Verdict.MALFORMED, id="garbage"),
        pytest.param(
            BODY, f"t={NOW},v1=ünïcødé", SECRET, NOW, Verdict.BAD_SIGNATURE, id="non-ascii-sig"
        ),
    ],
)
def test_verify(body: bytes, header: str, secret: str, now: float, verdict: Verdict) -> None:
    assert verify(body, header, secret, tolerance=TOLERANCE, now=now) is verdict
    assert bool(verdict) is (verdict is Verdict.OK)


def test_every_refusal_says_why() -> None:
    reasons = {verdict.value for verdict in Verdict if not verdict}
    assert len(reasons) == 3
    assert all(reasons)


@pytest.mark.parametrize("person_id", ["jo.operator", "awa.hfo", "ünïcødé.person"])
def test_token_round_trip(person_id: str) -> None:
    assert subject_of(mint_token(person_id, SECRET), SECRET) == person_id


def test_expired_token_is_rejected_with_expired_in_the_message() -> None:
    token = mint_token("jo.operator", SECRET, ttl=timedelta(seconds=-5))
    with pytest.raises(InvalidToken, match="expired"):
        subject_of(token, SECRET)


def _encode(claims: dict[str, object], secret: str = SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, secret, algorithm=algorithm)


def _claims(**overrides: object) -> dict[str, object]:
    now = utc_now()
    claims: dict[str, object] = {"sub": "jo.operator", "iat": now, "exp": now + timedelta(hours=1)}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(mint_token("jo.operator", OTHER_SECRET), id="wrong-secret"),
        pytest.param(_encode(_claims(sub=None)), id="no-subject"),
        pytest.param(_encode(_claims(exp=None)), id="no-expiry"),
        pytest.param(_encode(_claims(sub="")), id="empty-subject"),
        pytest.param(_encode(_claims(), algorithm="HS512"), id="other-algorithm"),
        pytest.param(_encode(_claims(), secret="", algorithm="none"), id="alg-none"),
        pytest.param(_encode(_claims(nbf=utc_now() + timedelta(hours=1))), id="not-yet-valid"),
        pytest.param("not-a-jwt", id="garbage"),
        pytest.param("", id="empty"),
    ],
)
def test_untrustworthy_tokens_are_rejected(token: str) -> None:
    with pytest.raises(InvalidToken) as error:
        subject_of(token, SECRET)
    assert str(error.value)


def test_wrong_secret_message_does_not_say_expired() -> None:
    with pytest.raises(InvalidToken) as error:
        subject_of(mint_token("jo.operator", OTHER_SECRET), SECRET)
    assert "expired" not in str(error.value)
