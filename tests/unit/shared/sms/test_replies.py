"""The grammar of an officer's SMS reply: lenient in form, strict in intent."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.sms.replies import KEYWORDS, Reply, ReplyAction, parse_reply

ACK = ReplyAction.ACKNOWLEDGE
RES = ReplyAction.RESOLVE


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ACK 4821", Reply(ACK, "4821")),
        ("OK 4821", Reply(ACK, "4821")),
        ("ACC 4821", Reply(ACK, "4821")),
        ("RES 4821", Reply(RES, "4821")),
        ("ack 4821", Reply(ACK, "4821")),
        ("Ok 4821", Reply(ACK, "4821")),
        ("  ACK    4821  ", Reply(ACK, "4821")),
        ("ACK\t4821\n", Reply(ACK, "4821")),
        ("ACK4821", Reply(ACK, "4821")),
        ("ACK #4821", Reply(ACK, "4821")),
        ("ACK: 4821.", Reply(ACK, "4821")),
        ("Rés 4821", Reply(RES, "4821")),  # a phone that capitalises and accents
        ("ACK", Reply(ACK, None)),
        ("ok", Reply(ACK, None)),
        ("OK.", Reply(ACK, None)),
        ("res", Reply(RES, None)),
    ],
)
def test_replies_that_are_understood(text: str, expected: Reply) -> None:
    assert parse_reply(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "4821",
        "ACK 482",  # codes have four digits
        "ACK 48210",
        "ACK 4821 4822",  # one alert per reply
        "ok je m'en occupe",
        "ACKNOWLEDGE 4821",
        "YES 4821",
        "ACK ABCD",
        "hello",
        "ALERTE hommes armés à Mavivi",
        "4821 ACK",
    ],
)
def test_junk_is_not_a_reply(text: str) -> None:
    assert parse_reply(text) is None


@given(
    keyword=st.sampled_from(sorted(KEYWORDS)),
    code=st.from_regex(r"[0-9]{4}", fullmatch=True),
    before=st.sampled_from(["", " ", "  ", "\n"]),
    between=st.sampled_from(["", " ", "   ", " #", ": "]),
    lower=st.booleans(),
)
def test_every_keyword_and_code_in_any_spacing_and_case(
    keyword: str, code: str, before: str, between: str, lower: bool
) -> None:
    text = before + (keyword.lower() if lower else keyword) + between + code
    assert parse_reply(text) == Reply(KEYWORDS[keyword], code)
