"""The router as the authority on commands: who may give a command on what it holds.

Ingest hands every well-formed command of a permitted person to the router
without judging state, since its views lag the router by a queue hop or more;
the router answers each with its verdict (the state after it, or a
``*.command_rejected`` with a ``Refusal``). Need-to-know is checked here first, so
that someone the subject does not concern gets the same ``not_found`` whether or
not it exists.
"""

from __future__ import annotations

from shared.consumer import TryAgainLater
from shared.contracts.commands import Refusal
from shared.directory import Directory, Person
from shared.envelope import Classification
from shared.permissions import (
    AlertAudience,
    may_see_alert,
    may_see_message,
    may_see_recommendation,
)


class NotYetKnown(TryAgainLater):
    """A command arrived before the subject it is about (handled again after a back-off).

    Ingest stages commands only for subjects it accepted, and the router's copy of
    each is created from the event that ingest staged first; so the subject will be
    there, and the bus's redelivery brings the command back once it is.
    """


Verdict = tuple[Refusal, str] | None  # a refusal and its reason, or None: go on


def alert_refusal(
    directory: Directory, person_id: str, alert_id: str, audience: AlertAudience
) -> Verdict:
    """``not_found`` unless the alert concerns ``person_id`` (need-to-know)."""
    person = directory.person(person_id)
    if person is None or not may_see_alert(person, audience):
        return Refusal.NOT_FOUND, f"no alert {alert_id}"
    return None


def message_refusal(
    person: Person | None,
    message_id: str,
    *,
    sender: str,
    delivered_to: list[str],
    classification: Classification,
) -> Verdict:
    """``not_found`` unless ``person`` got the message; ``wrong_state`` for its sender.

    Only the sender and the addressees it was delivered to answer a message: an
    auditor, who may read any, gets the answer of a message that is not theirs.
    """
    mine = person is not None and (person.id == sender or person.id in delivered_to)
    if (
        person is None
        or not mine
        or not may_see_message(person, sender, delivered_to, classification)
    ):
        return Refusal.NOT_FOUND, f"no message {message_id}"
    if person.id == sender:
        return Refusal.WRONG_STATE, "you sent this message: only its addressees answer it"
    return None


def recommendation_refusal(
    person: Person | None,
    recommendation_id: str,
    *,
    author: str,
    addressees: list[str],
    classification: Classification,
) -> Verdict:
    """``not_found`` unless ``person`` may see it; ``not_allowed`` unless an addressee."""
    if person is None or not may_see_recommendation(person, author, addressees, classification):
        return Refusal.NOT_FOUND, f"no recommendation {recommendation_id}"
    if person.id not in addressees:
        return Refusal.NOT_ALLOWED, f"{person.id} is not an addressee of this recommendation"
    return None
