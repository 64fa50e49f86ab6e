"""What an SMS says: one SMS, the person's language, nothing above UNCLASSIFIED."""

from __future__ import annotations

from uuid import uuid4

import pytest

from services.notifier.sms.text import sms_text
from shared.contracts.notifications import (
    ContactPoint,
    NotificationKind,
    NotificationRequestedV2,
    SubjectType,
)
from shared.sms.segments import Coding, prepare

LINK = "http://127.0.0.1:8000/l/" + "A" * 71  # a page's one-time link, as minted
ALERT = {
    "title": "Deux agriculteurs enlevés par des hommes armés sur la route de Mavivi, "
    "près du pont, selon trois témoins qui se sont cachés dans la forêt",
    "category": "abduction",
    "severity": "severe",
    "urgency": "immediate",
    "certainty": "observed",
    "sector": "beni",
    "location": {"name": "Mavivi", "lat": 0.55, "lon": 29.47},
    "origin": "community",
    "classification": "unclassified",
    "raised_at": "2026-12-06T10:00:00+00:00",
    "code": "4821",
}
# What a classified alert's SMS must never carry: each of its fields (the source is in
# no summary: a notification never holds it).
SEALED_FIELDS = (
    "Deux agriculteurs",
    "Mavivi",
    "beni",
    "abduction",
    "enlèvement",
    "SEVERE",
    "GRAVE",
)
ALERT_KINDS = [
    NotificationKind.PAGE,
    NotificationKind.ACKNOWLEDGED,
    NotificationKind.RESOLVED,
    NotificationKind.ESCALATION_EXHAUSTED,
    NotificationKind.TARGET_UNREACHABLE,
    NotificationKind.UNROUTED,
    NotificationKind.NOBODY_TO_ESCALATE_TO,
]
OTHER_KINDS = [
    (SubjectType.MESSAGE, NotificationKind.MESSAGE),
    (SubjectType.MESSAGE, NotificationKind.MESSAGE_UNDELIVERED),
    (SubjectType.MESSAGE, NotificationKind.MESSAGE_UNACKNOWLEDGED),
    (SubjectType.MESSAGE, NotificationKind.NOBODY_TO_ESCALATE_TO),
    (SubjectType.RECOMMENDATION, NotificationKind.RECOMMENDATION),
    (SubjectType.RECOMMENDATION, NotificationKind.RECOMMENDATION_ANSWERED),
    (SubjectType.RECOMMENDATION, NotificationKind.RECOMMENDATION_OVERDUE),
]


def sms_request(
    kind: NotificationKind,
    *,
    subject: SubjectType = SubjectType.ALERT,
    language: str = "en",
    **summary: object,
) -> NotificationRequestedV2:
    return NotificationRequestedV2(
        notification_id=uuid4(),
        subject_type=subject,
        subject_id=uuid4(),
        person_id="awa.hfo",
        kind=kind,
        contacts=[ContactPoint(channel="sms", address="+243990000111")],
        message="acknowledged by lucas.ho",
        summary={**ALERT, **summary},
        language=language,
    )


def one_gsm7_sms(text: str) -> bool:
    prepared = prepare(text)
    return (prepared.text, prepared.coding, prepared.segments) == (text, Coding.GSM7, 1)


@pytest.mark.parametrize("language", ["en", "fr"])
@pytest.mark.parametrize("kind", ALERT_KINDS)
def test_every_alert_sms_is_one_gsm7_sms_with_the_code(
    kind: NotificationKind, language: str
) -> None:
    text = sms_text(sms_request(kind, language=language), LINK)
    assert one_gsm7_sms(text), text
    assert text.startswith("COORD 4821: ")


def test_a_page_carries_what_an_officer_acts_on_and_how_to_reply() -> None:
    text = sms_text(sms_request(NotificationKind.PAGE), LINK)
    assert text.startswith("COORD 4821: SEVERE abduction in beni, Mavivi: Deux agriculteurs")
    assert text.endswith("... Reply ACK 4821")  # the title cut at a word to fit one SMS
    assert LINK not in text  # the reply is the way; the link would not fit beside the fields


def test_a_french_page_is_french_and_stays_gsm7() -> None:
    text = sms_text(sms_request(NotificationKind.PAGE, language="fr"), LINK)
    assert text.startswith("COORD 4821: enlèvement GRAVE, secteur beni, Mavivi: Deux")
    assert text.endswith("Répondez ACC 4821")
    assert "enlevés" in text  # é is GSM-7: kept; nothing forced UCS-2
    assert one_gsm7_sms(text)


def test_french_letters_outside_gsm7_are_spelled_not_sent_as_ucs2() -> None:
    text = sms_text(sms_request(NotificationKind.PAGE, language="fr", title="Fête à Œicha: reçu"))
    assert "Fete à OEicha: recu" in text
    assert one_gsm7_sms(text)


def test_a_place_that_is_too_long_is_cut_after_the_title() -> None:
    text = sms_text(sms_request(NotificationKind.PAGE, location={"name": "Mavivi " * 40}))
    assert one_gsm7_sms(text)
    assert text.endswith("Reply ACK 4821")


def test_an_alert_without_a_code_asks_for_a_plain_reply() -> None:
    text = sms_text(sms_request(NotificationKind.PAGE, code=None))
    assert text.startswith("COORD: SEVERE abduction in beni")
    assert text.endswith("Reply ACK")


@pytest.mark.parametrize("language", ["en", "fr"])
@pytest.mark.parametrize("classification", ["confidential", "strictly_confidential"])
@pytest.mark.parametrize("kind", ALERT_KINDS)
def test_a_classified_alert_is_only_announced(
    kind: NotificationKind, classification: str, language: str
) -> None:
    text = sms_text(sms_request(kind, language=language, classification=classification), LINK)
    assert one_gsm7_sms(text), text
    assert "4821" in text
    leaked = [field for field in SEALED_FIELDS if field.lower() in text.lower()]
    assert leaked == [], text
    assert "CONFIDENTI" in text


@pytest.mark.parametrize("language", ["en", "fr"])
def test_a_classified_page_carries_its_code_and_one_time_link(language: str) -> None:
    text = sms_text(
        sms_request(NotificationKind.PAGE, language=language, classification="confidential"),
        LINK,
    )
    assert text.endswith(LINK)
    assert ("Reply ACK 4821" if language == "en" else "ACC 4821") in text


def test_a_link_too_long_for_one_sms_leaves_the_reply_alone() -> None:
    long_link = "https://coord.monusco.example.org/some/long/prefix/l/" + "A" * 71
    text = sms_text(sms_request(NotificationKind.PAGE, classification="confidential"), long_link)
    assert one_gsm7_sms(text)
    assert text == "COORD 4821: a CONFIDENTIAL alert for you. Reply ACK 4821"


@pytest.mark.parametrize("language", ["en", "fr"])
@pytest.mark.parametrize(("subject", "kind"), OTHER_KINDS)
def test_a_classified_message_or_recommendation_says_only_that_there_is_one(
    subject: SubjectType, kind: NotificationKind, language: str
) -> None:
    summary = {"title": "Thirty armed men near Mavivi", "classification": "confidential"}
    request = sms_request(kind, subject=subject, language=language)
    request = request.model_copy(update={"summary": summary})
    text = sms_text(request)
    assert one_gsm7_sms(text)
    assert "armed" not in text
    assert "Mavivi" not in text
    assert "CONFIDENTI" in text


@pytest.mark.parametrize(("subject", "kind"), OTHER_KINDS)
def test_an_unclassified_message_carries_its_title(
    subject: SubjectType, kind: NotificationKind
) -> None:
    request = sms_request(kind, subject=subject).model_copy(
        update={"summary": {"title": "Convoy postponed", "classification": "unclassified"}}
    )
    text = sms_text(request)
    assert "Convoy postponed" in text
    assert one_gsm7_sms(text)


def test_an_unknown_language_falls_back_to_english() -> None:
    text = sms_text(sms_request(NotificationKind.RESOLVED, language="sw"))
    assert text.startswith("COORD 4821: resolved.")
