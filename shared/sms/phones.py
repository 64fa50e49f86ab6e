"""Phone numbers as E.164 (``+243990000111``), parsed by ``phonenumbers``.

The directory and Kannel may write the same number differently (``+243 990 000 111``,
``0990000111`` from a local modem, ``00243...``); they are compared in E.164 only.
"""

from __future__ import annotations

import phonenumbers


class InvalidPhoneNumber(ValueError):
    """A string that is not a valid phone number (in the default region, if it has no +)."""


def e164(raw: str, default_region: str | None = None) -> str:
    """``raw`` as E.164; a number without a country code is read in ``default_region``."""
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as error:
        raise InvalidPhoneNumber(f"{raw!r} is not a phone number: {error}") from error
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber(f"{raw!r} is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def e164_or_none(raw: str, default_region: str | None = None) -> str | None:
    """``e164(raw)``, or None for anything that is not a valid number."""
    try:
        return e164(raw, default_region)
    except InvalidPhoneNumber:
        return None
