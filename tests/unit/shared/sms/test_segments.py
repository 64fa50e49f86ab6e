"""What an SMS costs: coding and segments, French kept in one GSM-7 SMS."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.sms.segments import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    Coding,
    gsm7_spelling,
    prepare,
    segments,
    septets,
    shorten,
)

FRENCH_PAGE = (
    "COORD: alerte SEVERE enlevement, secteur beni, Mavivi. Code 4821. "
    "Répondez ACC 4821 pour accuser réception, RES 4821 quand c'est résolu."
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),  # 2 x 153
        ("a" * 307, 3),
        ("€" * 80, 1),  # an extension character is two septets: 160
        ("€" * 81, 2),
        ("a" + "€" * 76, 1),  # 153: one part would fit, but all of it fits one SMS
        ("a" * 152 + "€" + "a" * 10, 2),  # 165 septets; the pair starts part 2
        ("é" * 160, 1),  # é is GSM-7
        ("ê" * 70, 1),  # ê is not: UCS-2, 70 per SMS
        ("ê" * 71, 2),
        ("ê" * 134, 2),  # 2 x 67
        ("ê" * 135, 3),
        ("😀" * 35, 1),  # two UTF-16 units each: 70
        ("😀" * 36, 2),
    ],
)
def test_segments_counts_gsm7_and_ucs2_as_phones_do(text: str, expected: int) -> None:
    assert segments(text) == expected


def test_an_escape_pair_is_never_split_between_parts() -> None:
    # 152 septets, then a two-septet character: it cannot start in part 1's last septet.
    text = "a" * 152 + "€" + "a" * 152
    assert septets(text) == 306  # two parts of 153 if a pair could be split
    assert segments(text) == 3  # 152 | the pair and 151 | 1


@pytest.mark.parametrize(
    ("text", "spelled"),
    [
        ("être prêt à l'aéroport", "etre pret à l'aéroport"),
        ("reçu, œuvre, Œil", "recu, oeuvre, OEil"),
        ("« Mavivi » \u2014 l\u2019école\u2026", '" Mavivi " - l\'école...'),
        ("île, août, où", "ile, aout, où"),
        ("Ñandú", "Ñandu"),
    ],
)
def test_french_is_spelled_in_gsm7(text: str, spelled: str) -> None:
    assert gsm7_spelling(text) == spelled


def test_a_french_page_stays_one_gsm7_sms() -> None:
    unprepared = FRENCH_PAGE.replace("Répondez", "Répondez dès que prêt:")
    assert segments(unprepared) == 1 or septets(unprepared) is None
    prepared = prepare(unprepared)
    assert prepared.coding is Coding.GSM7
    assert prepared.segments == 1
    assert "pret" in prepared.text
    assert "é" in prepared.text  # é needs no spelling: it is GSM-7


def test_text_with_no_gsm7_spelling_keeps_ucs2_and_its_meaning() -> None:
    arabic = "تنبيه: اختطاف في بيني"
    prepared = prepare(arabic)
    assert prepared == type(prepared)(arabic, Coding.UCS2, 1)


@given(st.text(alphabet=sorted(GSM7_BASIC | GSM7_EXTENSION), max_size=500))
def test_gsm7_text_is_sent_as_it_is(text: str) -> None:
    prepared = prepare(text)
    assert (prepared.text, prepared.coding) == (text, Coding.GSM7)
    assert prepared.segments == segments(text)


@given(st.text(max_size=400))
def test_prepare_never_costs_more_than_the_text_unprepared(text: str) -> None:
    prepared = prepare(text)
    assert prepared.segments <= segments(text)
    if prepared.coding is Coding.GSM7:
        assert septets(prepared.text) is not None


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("Mavivi", 10, "Mavivi"),
        ("Two farmers taken near Mavivi", 20, "Two farmers..."),
        ("Abcdefghijklmnopqrstuvwxyz", 10, "Abcdefg..."),
    ],
)
def test_shorten_cuts_at_a_word(text: str, limit: int, expected: str) -> None:
    assert shorten(text, limit) == expected
    assert len(shorten(text, limit)) <= limit
