"""Feedback to the community from an alert's page: what an officer may release, and how.

An alert raised by a community contact's SMS has a ``reporter``. Acknowledging or
resolving it on its page offers a message to them: a few set phrases in the REPORTER's
language (the officer may not speak it; these are worded once, carefully), or the
officer's own words. "Do not send anything" is the default: what a mission tells a
village can endanger it, so nothing goes out unless a person chose it
(docs/sms.md#the-community-loop).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.ingest.alerts.schemas import AlertView
from shared.community_contacts import DEFAULT_CONTACT_LANGUAGE, community_reference
from shared.contracts.escalation import COMMUNITY_MESSAGE_MAX
from shared.directory import Directory

# The radio's values: nothing (the default), a set phrase by key, or the text typed.
NOTHING = ""
FREE = "free"
# The set phrases, in each language a community contact may have. Not in the board's
# catalogue: they are shown and sent in the reporter's language, whatever the page's.
PHRASES: dict[str, dict[str, str]] = {
    "received": {
        "en": "The mission received your alert and is following the situation.",
        "fr": "La mission a reçu votre alerte et suit la situation.",
    },
    "patrol": {
        "en": "A patrol has been sent.",
        "fr": "Une patrouille a été envoyée.",
    },
    "closed": {
        "en": "The situation is closed. Thank you for your alert.",
        "fr": "La situation est close. Merci de votre alerte.",
    },
}
# Which phrases each form offers, most likely first.
OFFERED = {"acknowledge": ("received", "patrol"), "resolve": ("closed", "patrol")}


class FeedbackRefused(ValueError):
    """The form's feedback cannot be sent as posted; ``reason`` is a code the page words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Phrase:
    """A set phrase offered on a form: its key (the radio's value) and its text."""

    key: str
    text: str


@dataclass(frozen=True)
class CommunityFacts:
    """What the page says of a community alert: never who reported it, nor their number."""

    reference: str  # what the reporter was given (shared.community_contacts)
    language: str  # the reporter's: the set phrases are in it
    receipt_at: datetime | None
    feedback_at: datetime | None
    phrases: dict[str, list[Phrase]]  # per form: "acknowledge", "resolve"
    max_length: int = COMMUNITY_MESSAGE_MAX


def reporter_language(directory: Directory, reporter: str) -> str:
    """The reporter's language; a contact gone from the directory gets the default."""
    contact = directory.community_contact(reporter)
    return contact.language if contact is not None else DEFAULT_CONTACT_LANGUAGE


def community_facts(directory: Directory, view: AlertView) -> CommunityFacts | None:
    """The community side of ``view``; None for an alert no community contact reported."""
    if view.reporter is None:
        return None
    language = reporter_language(directory, view.reporter)
    return CommunityFacts(
        reference=community_reference(view.id),
        language=language,
        receipt_at=view.receipt_at,
        feedback_at=view.feedback_at,
        phrases={
            form: [Phrase(key, PHRASES[key][language]) for key in keys]
            for form, keys in OFFERED.items()
        },
    )


def chosen_message(choice: str, text: str, language: str) -> str | None:
    """The message the form releases: None for nothing (the default, or a blank text).

    Raises ``FeedbackRefused`` for a text too long for the SMS or an unknown choice
    (a crafted form): refusing says so, where sending something else would not.
    """
    if choice == NOTHING:
        return None
    if choice == FREE:
        words = " ".join(text.split())
        if len(words) > COMMUNITY_MESSAGE_MAX:
            raise FeedbackRefused("community_too_long")
        return words or None
    phrase = PHRASES.get(choice)
    if phrase is None:
        raise FeedbackRefused("community_unknown_choice")
    return phrase.get(language, phrase[DEFAULT_CONTACT_LANGUAGE])
