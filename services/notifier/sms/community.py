"""Feedback to a community contact: their number opened only to send, never stored.

The router addresses a ``community_feedback`` request to the contact's id on the
``community_sms`` channel; here the contact is found in the live directory and their
sealed number opened with the source key ring, then the SMS goes out like any other
(``deliver_sms``), its record keyed by the contact's id rather than the number.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from shared.community_contacts import opened
from shared.directory import Directory
from shared.source_protection import SourceKeyRing, SourceProtectionError


@dataclass(frozen=True)
class CommunityPhones:
    """Where the notifier finds a community contact's number."""

    directory: Callable[[], Directory]
    keys: SourceKeyRing

    def phone_of(self, contact_id: str) -> str | None:
        """The contact's number, or None when they are gone or their seal does not open."""
        contact = self.directory().community_contact(contact_id)
        if contact is None:
            return None
        try:
            return opened(contact, self.keys).contact
        except SourceProtectionError:
            return None  # a retired key: crypto-shredded, nobody can reach them now


def stored_address(contact_id: str) -> str:
    """What an SMS to a community contact is recorded under instead of their number."""
    return f"community:{contact_id}"
