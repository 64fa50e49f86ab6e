"""What coord answers an SMS: one GSM-7 SMS each, and a refusal in the reader's language."""

from __future__ import annotations

import pytest

from services.ingest.sms.wording import (
    ANSWERS,
    HELD_FOR_TRIAGE,
    UNKNOWN_SENDER,
    answer,
    refusal_reason,
)
from shared.sms.segments import Coding, prepare


@pytest.mark.parametrize(
    ("language", "refusal", "expected"),
    [
        ("fr", "not_allowed", "vous n'êtes pas sur la chaîne de cette alerte"),
        ("fr", "wrong_state", "l'alerte est déjà close ou fusionnée"),
        ("fr", "not_found", "alerte inconnue pour vous"),
        ("fr", None, "the router's words"),  # a refusal of no known kind: as the router said
        ("en", "wrong_state", "the router's words"),  # English readers get the precise reason
    ],
)
def test_a_refusal_is_told_in_the_readers_language(
    language: str, refusal: str | None, expected: str
) -> None:
    assert refusal_reason(language, refusal, "the router's words") == expected


@pytest.mark.parametrize("language", sorted(ANSWERS))
@pytest.mark.parametrize("key", sorted(ANSWERS["en"]))
def test_every_answer_is_one_gsm7_sms(language: str, key: str) -> None:
    text = answer(
        language,
        key,
        code="4821",
        codes="4821, 1234, 5678",
        reference="8248E1",
        reason=refusal_reason(language, "not_allowed", "x" * 300),
    )
    prepared = prepare(text)
    assert (prepared.coding, prepared.segments) == (Coding.GSM7, 1), text
    assert "{" not in text, text  # every placeholder filled


@pytest.mark.parametrize("text", [UNKNOWN_SENDER, HELD_FOR_TRIAGE])
def test_the_bilingual_answers_to_unknown_numbers_are_one_sms(text: str) -> None:
    assert prepare(text).segments == 1
