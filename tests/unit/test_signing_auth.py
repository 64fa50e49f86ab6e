"""Webhook signatures and development bearer tokens."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

import jwt
import pytest

from shared.auth import InvalidToken, mint_token, subject_of
from shared.envelope import utc_now
from shared.signing import sign, verify

SECRET = "unit-test-secret-" + "0123456789abcdef" * 4
OTHER_SECRET = "another-secret-0123456789abcdef0123456789abcdef"  # noqa: S105
BODY = b'{"alert_id":"a","person_id":"awa.hfo","title":"Abduction"}'


def test_signature_is_hex_hmac_sha256_of_the_raw_body() -> None:
    expected = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    assert sign(BODY, SECRET) == f"sha256={expected}"


def test_sign_verify_round_trip() -> None:
    assert verify(BODY, sign(BODY, SECRET), SECRET)


@pytest.mark.parametrize(
    ("body", "signature", "secret"),
    [
        pytest.param(BODY + b" ", sign(BODY, SECRET), SECRET, id="tampered-body-extra-byte"),
        pytest.param(
            BODY.replace(b"awa.hfo", b"eve.evil"), sign(BODY, SECRET), SECRET, id="tampered-body"
        ),
        pytest.param(BODY, sign(BODY, SECRET), OTHER_SECRET, id="wrong-secret"),
        pytest.param(BODY, sign(BODY, OTHER_SECRET), SECRET, id="signed-with-other-secret"),
        pytest.param(BODY, sign(BODY, SECRET).removeprefix("sha256="), SECRET, id="no-prefix"),
        pytest.param(BODY, sign(BODY, SECRET)[:-1], SECRET, id="truncated"),
        pytest.param(BODY, "", SECRET, id="empty"),
    ],
)
def test_verify_rejects(body: bytes, signature: str, secret: str) -> None:
    assert not verify(body, signature, secret)


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
