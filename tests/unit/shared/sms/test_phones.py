"""Phone numbers compared in E.164, whatever way the directory or the modem writes them."""

from __future__ import annotations

import pytest

from shared.sms.phones import InvalidPhoneNumber, e164, e164_or_none


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+243990000111", None, "+243990000111"),
        ("+243 990 000 111", None, "+243990000111"),
        ("+243-990-000-111", None, "+243990000111"),
        ("0990000111", "CD", "+243990000111"),  # national form, as a local modem gives it
        ("00243990000111", "CD", "+243990000111"),  # international prefix from the DRC
        ("+236 72 00 00 00", None, "+23672000000"),  # Central African Republic
        ("+223 70 00 00 00", None, "+22370000000"),  # Mali
    ],
)
def test_numbers_are_read_as_e164(raw: str, region: str | None, expected: str) -> None:
    assert e164(raw, region) == expected


@pytest.mark.parametrize(
    ("raw", "region"),
    [("", None), ("hello", None), ("0990000111", None), ("+243 12", None), ("+999 1234567", None)],
)
def test_what_is_not_a_number_is_refused_with_its_reason(raw: str, region: str | None) -> None:
    with pytest.raises(InvalidPhoneNumber, match="phone number"):
        e164(raw, region)
    assert e164_or_none(raw, region) is None
