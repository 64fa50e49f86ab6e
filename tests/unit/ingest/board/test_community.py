"""What an alert's page releases to a community reporter: nothing unless a person chose it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest

from services.ingest.alerts.schemas import AlertView
from services.ingest.board.community import (
    FREE,
    NOTHING,
    OFFERED,
    PHRASES,
    FeedbackRefused,
    chosen_message,
    community_facts,
)
from services.ingest.board.pages import duration
from shared.community_contacts import community_reference
from shared.contracts.escalation import COMMUNITY_MESSAGE_MAX
from shared.directory import Directory
from tests.support.directories import example_directory


@pytest.mark.parametrize(
    ("choice", "text", "language", "expected"),
    [
        (NOTHING, "typed but not chosen", "fr", None),
        (FREE, "", "fr", None),
        (FREE, " \n ", "en", None),
        (FREE, "  Une patrouille\narrive.  ", "fr", "Une patrouille arrive."),
        (FREE, "x" * COMMUNITY_MESSAGE_MAX, "fr", "x" * COMMUNITY_MESSAGE_MAX),
        ("received", "ignored", "fr", PHRASES["received"]["fr"]),
        ("received", "", "en", PHRASES["received"]["en"]),
        ("closed", "", "sw", PHRASES["closed"]["fr"]),  # a language with no phrase: default
    ],
)
def test_the_message_released_is_the_one_chosen(
    choice: str, text: str, language: str, expected: str | None
) -> None:
    assert chosen_message(choice, text, language) == expected


@pytest.mark.parametrize(
    ("choice", "text", "reason"),
    [
        (FREE, "x" * (COMMUNITY_MESSAGE_MAX + 1), "community_too_long"),
        ("anything-else", "", "community_unknown_choice"),
    ],
)
def test_a_crafted_choice_or_a_text_too_long_is_refused(
    choice: str, text: str, reason: str
) -> None:
    with pytest.raises(FeedbackRefused) as refused:
        chosen_message(choice, text, "fr")
    assert refused.value.reason == reason


def test_every_phrase_fits_one_sms_in_every_language() -> None:
    for key, words in PHRASES.items():
        assert set(words) == {"en", "fr"}, key
        assert all(0 < len(text) <= COMMUNITY_MESSAGE_MAX for text in words.values()), key
    assert {key for keys in OFFERED.values() for key in keys} <= set(PHRASES)


def _directory_with_contact(language: str) -> Directory:
    data = example_directory().content()
    data["community_contacts"] = [
        {
            "id": "can.mavivi",
            "name": "Kavira Masika",
            "phone": "+243990000444",
            "location": "Mavivi",
            "sector": "beni",
            "language": language,
        }
    ]
    return Directory.model_validate(data)


def _view(reporter: str | None) -> AlertView:
    now = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    fields: dict[str, Any] = {
        "id": uuid4(),
        "status": "triggered",
        "title": "Mavivi: hommes armés",
        "description": "",
        "category": "other",
        "severity": "unknown",
        "urgency": "unknown",
        "certainty": "unknown",
        "sector": "beni",
        "location": {"name": "Mavivi"},
        "origin": "community",
        "classification": "confidential",
        "raised_by": "community-sms",
        "raised_at": now,
        "policy_id": None,
        "level": None,
        "current_level": None,
        "loop": 0,
        "exhausted": False,
        "next_escalation_at": None,
        "targets": [],
        "chain": [],
        "acknowledgements": [],
        "dedup_count": 1,
        "merged_into": None,
        "reporter": reporter,
        "receipt_at": now,
        "notified": [],
        "deliveries": [],
        "timeline": [],
    }
    return AlertView.model_validate(fields)


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_phrases_offered_are_in_the_reporters_language(language: str) -> None:
    view = _view("can.mavivi")
    facts = community_facts(_directory_with_contact(language), view)
    assert facts is not None
    assert facts.reference == community_reference(view.id)
    assert facts.language == language
    assert [p.text for p in facts.phrases["acknowledge"]] == [
        PHRASES[key][language] for key in OFFERED["acknowledge"]
    ]


def test_an_alert_without_a_reporter_has_no_community_side() -> None:
    assert community_facts(example_directory(), _view(None)) is None


def test_a_reporter_gone_from_the_directory_keeps_the_default_language() -> None:
    facts = community_facts(example_directory(), _view("can.gone"))
    assert facts is not None
    assert facts.language == "fr"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "—"), (0, "0 s"), (45.4, "45 s"), (200, "3 min 20 s"), (3725, "1 h 02 min")],
)
def test_durations_read_the_same_in_both_languages(seconds: float | None, text: str) -> None:
    assert duration(seconds) == text
