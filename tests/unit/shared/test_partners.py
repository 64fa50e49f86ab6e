"""Partners and their tokens: who holds which token, what the directory refuses."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.partners import (
    DEMO_TOKEN,
    Partner,
    new_token,
    partner_errors,
    partner_raising,
    partner_with_token,
    token_digest,
)

A, B = "token-of-partner-a-0123456789", "token-of-partner-b-0123456789"
PARTNERS = [
    Partner(id="ocha-beni", name="OCHA", token_sha256=token_digest(A), sectors=["beni"]),
    Partner(id="wfp", name="WFP", token_sha256=token_digest(B)),
    Partner(id="demo", name="Demo", token_sha256=token_digest(DEMO_TOKEN)),
]


@pytest.mark.parametrize(
    ("token", "development", "expected"),
    [
        (A, False, "ocha-beni"),
        (B, False, "wfp"),
        ("token-of-partner-a-012345678", False, None),  # one character short
        (token_digest(A), False, None),  # the digest itself is not the token
        ("", False, None),
        (DEMO_TOKEN, True, "demo"),
        (DEMO_TOKEN, False, None),  # published in the README: development only
    ],
)
def test_a_token_names_its_partner(token: str, development: bool, expected: str | None) -> None:
    found = partner_with_token(PARTNERS, token, development=development)
    assert (found.id if found else None) == expected


def test_new_tokens_are_long_and_never_the_same() -> None:
    tokens = {new_token() for _ in range(100)}
    assert len(tokens) == 100
    assert all(len(t) >= 43 for t in tokens)  # 32 random bytes, URL-safe base64


@pytest.mark.parametrize(
    ("sectors", "sector", "reads"),
    [([], "north", True), (["beni"], "beni", True), (["beni"], "north", False)],
)
def test_a_partner_covers_its_sectors(sectors: list[str], sector: str, reads: bool) -> None:
    partner = Partner(id="p", name="P", token_sha256=token_digest(A), sectors=sectors)
    assert partner.covers(sector) is reads


def test_the_directory_refuses_duplicates_and_unknown_sectors() -> None:
    partners = [
        PARTNERS[0],
        Partner(id="ocha-beni", name="Again", token_sha256=token_digest(B)),
        Partner(id="other", name="Other", token_sha256=token_digest(A), sectors=["mars"]),
    ]
    assert partner_errors(partners, ["beni", "north"]) == [
        (("partners", 1, "id"), "duplicate partner id 'ocha-beni'"),
        (("partners", 2, "token_sha256"), "'other' shares another's token"),
        (("partners", 2, "sectors"), "partner 'other' names unknown sector 'mars'"),
    ]


@pytest.mark.parametrize(
    "digest", ["", "abc", "Z" * 64, token_digest(A).upper(), token_digest(A) + "0"]
)
def test_only_a_sha256_in_lowercase_hex_is_a_digest(digest: str) -> None:
    with pytest.raises(ValidationError):
        Partner(id="p", name="P", token_sha256=digest)


@pytest.mark.parametrize(
    ("raiser", "expected"),
    [
        ("partner:ocha-beni", "ocha-beni"),
        ("partner:gone", None),  # left the directory since
        ("ocha-beni", None),  # a person's id, even if it were a partner's too
        ("jo.operator", None),
    ],
)
def test_an_alert_raised_by_a_partner_names_it(raiser: str, expected: str | None) -> None:
    found = partner_raising(PARTNERS, raiser)
    assert (found.id if found else None) == expected
