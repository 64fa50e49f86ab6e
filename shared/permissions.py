"""Who may do what: one table of role -> actions, and the need-to-know rule for alerts.

Two questions are asked of every request, in this order:

1. May this person's roles do this kind of thing at all? (``allowed``, the
   table below; a refusal is 403, because it reveals nothing about any alert
   or message.)
2. Does this alert or message concern this person? (need-to-know; a refusal is
   404, never a hint that it exists.) Alerts: ``may_see_alert``; messages and
   recommendations are visible to their sender/author and the people they were
   delivered to (the router delivers only to the cleared).

The table is also printed in docs/security.md; ``tests/unit/shared/test_permissions.py``
keeps the two the same. A role that is not in the table grants nothing: a new
role in the directory must be given its actions here, on purpose.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum

from shared.addressing import cleared_for
from shared.directory import Person
from shared.envelope import Classification

JOC_ROLE = "joc_operator"
CLA_ROLE = "community_liaison"
COMMUNITY_ORIGIN = "community"
AUDITOR_ROLE = "auditor"


class Action(StrEnum):
    """The kinds of things a person may do, each checked by the API and the CLI."""

    RAISE_ALERT = "raise_alert"
    POST_MESSAGE = "post_message"  # coordination messages and notes on an alert
    ACKNOWLEDGE = "acknowledge"  # alerts, messages and recommendations addressed to one
    RESOLVE = "resolve"
    RECOMMEND = "recommend"
    RESPOND = "respond"  # accept / decline / done on a recommendation
    READ = "read"  # alerts, messages, threads, recommendations, the live stream
    REPORT = "report"  # "is it heeded?": mission-wide figures, decline reasons included
    AUDIT = "audit"  # the event log: read, verify, export, replay, explain
    ADMINISTER_DIRECTORY = "administer_directory"
    ADMINISTER_OUTBOX = "administer_outbox"  # coord outbox: parked rows, retried or dropped
    TRIAGE_SMS = "triage_sms"  # SMS from unknown numbers: read, promote to an alert, dismiss
    RELEASE = "release"  # an unclassified alert to partners' CAP feed (docs/cap.md)


_A = Action
_SENIOR_CIVILIAN = frozenset(
    {
        _A.RAISE_ALERT,
        _A.POST_MESSAGE,
        _A.ACKNOWLEDGE,
        _A.RESOLVE,
        _A.RECOMMEND,
        _A.RESPOND,
        _A.READ,
        _A.REPORT,
        _A.RELEASE,
    }
)
_FOCAL_POINT = frozenset(
    {_A.RAISE_ALERT, _A.POST_MESSAGE, _A.ACKNOWLEDGE, _A.RESOLVE, _A.RESPOND, _A.READ}
)

#: role -> the actions it grants; a person holds the union over their roles.
PERMISSIONS: Mapping[str, frozenset[Action]] = {
    # The joint operations centre raises alerts, runs the board, may recommend, and
    # releases alerts to partners (what a partner may know is the JOC's daily call).
    JOC_ROLE: frozenset(
        {
            _A.RAISE_ALERT,
            _A.POST_MESSAGE,
            _A.ACKNOWLEDGE,
            _A.RESOLVE,
            _A.RECOMMEND,
            _A.READ,
            _A.RELEASE,
        }
    ),
    # A CLA relays community alerts; it does not decide on them. It triages what unknown
    # numbers send (their senders are sources: nobody else reads them).
    CLA_ROLE: frozenset({_A.RAISE_ALERT, _A.POST_MESSAGE, _A.ACKNOWLEDGE, _A.READ, _A.TRIAGE_SMS}),
    "head_of_field_office": _SENIOR_CIVILIAN,
    "head_of_office": _SENIOR_CIVILIAN,
    "poc_adviser": _SENIOR_CIVILIAN,
    "dsrsg": _SENIOR_CIVILIAN,
    "srsg": _SENIOR_CIVILIAN,
    # Military and police focal points receive tasks and recommendations and answer.
    "force_commander": _FOCAL_POINT,
    "sector_commander": _FOCAL_POINT,
    "military_liaison": _FOCAL_POINT,
    "police_commissioner": _FOCAL_POINT,
    "police_focal_point": _FOCAL_POINT,
    # Auditors are read-only: they see every alert (the source redacted unless cleared).
    AUDITOR_ROLE: frozenset({_A.READ, _A.REPORT, _A.AUDIT}),
    # Admins keep the directory and the outboxes; they see no alert or message by that role
    # (a parked row is listed by id, routing key and reason, never its content).
    "directory_admin": frozenset({_A.ADMINISTER_DIRECTORY, _A.ADMINISTER_OUTBOX}),
}


def actions_of(person: Person) -> frozenset[Action]:
    """Everything ``person``'s roles allow."""
    granted: set[Action] = set()
    for role in person.roles:
        granted |= PERMISSIONS.get(role, frozenset())
    return frozenset(granted)


def allowed(person: Person, action: Action) -> bool:
    """True when one of ``person``'s roles grants ``action``."""
    return action in actions_of(person)


def refusal(person: Person, action: Action) -> str:
    """Why ``person`` may not do ``action`` (safe to show: it names only their own roles)."""
    roles = ", ".join(person.roles) or "no role"
    return f"{person.id} ({roles}) may not {action.value.replace('_', ' ')}"


@dataclass(frozen=True)
class AlertAudience:
    """What need-to-know looks at on an alert."""

    classification: Classification
    sector: str
    raised_by: str
    chain: Collection[str]  # everyone paged so far and everyone who may acknowledge
    origin: str = ""  # who first reported it: community alerts concern their sector's CLAs


def concerns(person: Person, alert: AlertAudience) -> bool:
    """The alert concerns ``person``: raiser, on its chain, its board, or its relay.

    That is: they raised it, are on its chain, run its sector's board, or relay its
    sector's community alerts. A sector's alerts concern its JOC (the live board), not
    everyone who covers the sector: whoever the policy pages is on the chain, and nobody
    else needs to know who is under threat where. A community alert also concerns the sector's
    CLAs: their network reported it, and they are who answers the village.
    """
    if person.id == alert.raised_by or person.id in alert.chain:
        return True
    return _runs_the_board(person, alert.sector) or _relays_for(person, alert)


def _relays_for(person: Person, alert: AlertAudience) -> bool:
    """A CLA of the sector of a community alert."""
    return (
        alert.origin == COMMUNITY_ORIGIN
        and CLA_ROLE in person.roles
        and person.covers(alert.sector)
    )


def _runs_the_board(person: Person, sector: str) -> bool:
    """A JOC duty officer of ``sector``: watches its alerts, resolves and annotates them."""
    return JOC_ROLE in person.roles and person.covers(sector)


def may_see_alert(person: Person, alert: AlertAudience) -> bool:
    """Need-to-know: cleared for the alert's classification and concerned by it.

    Auditors see every alert; what protects the source from them is redaction
    (an alert view never shows it; exports open it only for the cleared).
    """
    if allowed(person, Action.AUDIT):
        return True
    return (
        allowed(person, Action.READ)
        and cleared_for(person, alert.classification)
        and concerns(person, alert)
    )


def may_acknowledge(person_id: str, chain: Collection[str]) -> bool:
    """Only someone on the alert's escalation chain acknowledges it."""
    return person_id in chain


def may_act_on_alert(person: Person | None, chain: Collection[str], sector: str) -> bool:
    """Resolve and notes: anyone on the chain, or a JOC duty officer of the sector."""
    if person is None:
        return False
    return _runs_the_board(person, sector) or person.id in chain


def may_see_message(
    person: Person, sender: str, delivered_to: Collection[str], classification: Classification
) -> bool:
    """Need-to-know for a message: cleared, and its sender or a delivered addressee.

    Auditors see every message. The clearance is checked again at read time, since
    it may have been lowered after delivery.
    """
    if allowed(person, Action.AUDIT):
        return True
    if not cleared_for(person, classification):
        return False
    return person.id == sender or person.id in delivered_to


def may_see_recommendation(
    person: Person, author: str, addressees: Collection[str], classification: Classification
) -> bool:
    """Need-to-know for a recommendation: cleared, and its author or an addressee."""
    if allowed(person, Action.AUDIT):
        return True
    if not cleared_for(person, classification):
        return False
    return person.id == author or person.id in addressees
