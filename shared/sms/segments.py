"""What an SMS costs: its coding (GSM 03.38 7-bit or UCS-2) and its number of segments.

A text that fits the GSM 7-bit alphabet goes in 160 characters per SMS (153 per part
of a longer one); one character outside it switches the whole text to UCS-2: 70 per
SMS, 67 per part. French needs care: é è à ù are GSM-7, but ê â î ô û ç œ are not, so
an unprepared French page silently becomes a three-part UCS-2 message. ``prepare``
spells those letters the GSM-7 way (ê -> e) so a French page stays one 7-bit SMS, and
keeps UCS-2 only for text that cannot be spelled in GSM-7 at all (Arabic, say).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import IntEnum

# GSM 03.38 default alphabet (one septet each) and its extension table (escape + one).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

SINGLE_GSM7 = 160
PART_GSM7 = 153  # a concatenated part loses 7 septets to its header
SINGLE_UCS2 = 70
PART_UCS2 = 67

# Letters and signs with no GSM-7 form, and how a French or English reader expects them
# spelled without it. Anything else is reduced to its base letter if that is GSM-7.
_SPELLINGS = {
    "ç": "c",
    "œ": "oe",
    "Œ": "OE",
    "\u2018": "'",  # left single quotation mark
    "\u2019": "'",  # right single quotation mark: the French apostrophe
    "\u201a": "'",  # single low-9 quotation mark
    "\u201c": '"',  # left double quotation mark
    "\u201d": '"',  # right double quotation mark
    "«": '"',
    "»": '"',
    "\u2013": "-",  # en dash
    "\u2014": "-",  # em dash
    "\u2026": "...",  # ellipsis
    "\u00a0": " ",  # no-break space, as French typography puts before : ; ! ?
    "\u202f": " ",  # narrow no-break space
    "\t": " ",
}


class Coding(IntEnum):
    """Kannel's ``coding`` parameter."""

    GSM7 = 0
    UCS2 = 2


@dataclass(frozen=True)
class SmsText:
    """A text ready for the gateway: what to send, its coding, and how many SMS it costs."""

    text: str
    coding: Coding
    segments: int


def septets(text: str) -> int | None:
    """Septets ``text`` takes in GSM-7, or None if a character has no GSM-7 form."""
    count = 0
    for char in text:
        if char in GSM7_BASIC:
            count += 1
        elif char in GSM7_EXTENSION:
            count += 2
        else:
            return None
    return count


def _gsm7_segments(text: str) -> int:
    units = [2 if char in GSM7_EXTENSION else 1 for char in text]
    if sum(units) <= SINGLE_GSM7:
        return 1
    return _parts(units, PART_GSM7)


def _ucs2_segments(text: str) -> int:
    # UTF-16 code units: a character beyond the BMP (an emoji) takes two, never split.
    units = [len(char.encode("utf-16-be")) // 2 for char in text]
    if sum(units) <= SINGLE_UCS2:
        return 1
    return _parts(units, PART_UCS2)


def _parts(units: list[int], capacity: int) -> int:
    """Parts of a concatenated SMS: an escape pair or a surrogate pair is never split."""
    parts, used = 1, 0
    for unit in units:
        if used + unit > capacity:
            parts, used = parts + 1, 0
        used += unit
    return parts


def segments(text: str) -> int:
    """How many SMS ``text`` costs as it stands (GSM-7 if it can be, else UCS-2)."""
    if septets(text) is not None:  # an empty text too: one (empty) SMS
        return _gsm7_segments(text)
    return _ucs2_segments(text)


def gsm7_spelling(text: str) -> str:
    """``text`` with each character lacking a GSM-7 form spelled as GSM-7, where it can be.

    A character left as it was has no GSM-7 spelling (the text then needs UCS-2).
    """
    spelled: list[str] = []
    for char in text:
        if char in GSM7_BASIC or char in GSM7_EXTENSION:
            spelled.append(char)
        elif char in _SPELLINGS:
            spelled.append(_SPELLINGS[char])
        else:
            base = "".join(
                c for c in unicodedata.normalize("NFD", char) if not unicodedata.combining(c)
            )
            spelled.append(base if base and septets(base) is not None else char)
    return "".join(spelled)


def prepare(text: str) -> SmsText:
    """The text to hand the gateway: GSM-7 spelled if that makes it GSM-7, else UCS-2 as is."""
    spelled = gsm7_spelling(text)
    if septets(spelled) is not None:
        return SmsText(spelled, Coding.GSM7, _gsm7_segments(spelled))
    return SmsText(text, Coding.UCS2, _ucs2_segments(text))


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters at a word, with an ellipsis if anything was cut."""
    if len(text) <= limit:
        return text
    cut = text[: max(limit - 3, 0)]
    if " " in cut:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,.;:") + "..."


def fit(template: str, fixed: dict[str, str], stretch: dict[str, str]) -> str:
    """``template`` filled in as one SMS: ``stretch`` fields are cut, in order, to fit."""
    fields = dict(stretch)
    for name in stretch:
        while True:
            text = template.format(**fixed, **fields)
            prepared = prepare(text)
            if prepared.segments == 1 or not fields[name]:
                break
            over = len(text) - (SINGLE_GSM7 if prepared.coding is Coding.GSM7 else SINGLE_UCS2)
            fields[name] = shorten(fields[name], max(len(fields[name]) - max(over, 1), 0))
            if fields[name] == "...":
                fields[name] = ""
    return prepare(template.format(**fixed, **fields)).text
