"""Community contacts: the focal points of community alert networks (CANs), protected.

A focal point's name and phone say who in a village talks to the mission: they are
protected like an alert's source (docs/sms.md#the-community-loop). The directory file
an administrator keeps holds them in plaintext; ``coord directory load`` seals each one
(``seal_contacts``) before the directory leaves the machine, so the stored versions,
the ``directory.load`` command on the log and every service's copy hold only:

- ``sealed``: name and phone, AES-256-GCM under the source key ring, bound to the
  contact's id (a sealed contact copied onto another id does not open);
- ``phone_digest``: a keyed digest of the E.164 number, which is how an inbound SMS
  finds its sender without opening every contact.

A directory read straight from the file (``make run`` before any load) keeps them in
plaintext in memory; every function here takes both forms.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID, uuid5

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.contracts.alerts import SealedSource, Source
from shared.sms.phones import e164_or_none

if TYPE_CHECKING:
    from collections.abc import Iterable

    from shared.source_protection import SourceKeyRing

# Sealing binds a ciphertext to a UUID; a contact's is derived from its id.
_CONTACT_NAMESPACE = UUID("5c0b5a57-3f0e-4d0b-9a52-c0a11e9f0c01")
CONTACT_ID_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"
# Most community alert networks of the missions coord serves speak French.
DEFAULT_CONTACT_LANGUAGE = "fr"


class CommunityContact(BaseModel):
    """One focal point of a community alert network.

    Either ``name`` and ``phone`` (the file, plaintext) or ``sealed`` and
    ``phone_digest`` (what is stored and logged), never both.
    """

    # A refused contact's input (its name and phone) is left out of the error's text:
    # the message may end up in a log.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    id: str = Field(pattern=CONTACT_ID_PATTERN)
    location: str = Field(min_length=1, max_length=200, description="Village or place")
    sector: str
    language: str = Field(default=DEFAULT_CONTACT_LANGUAGE, pattern="^(en|fr)$")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    phone: str | None = None
    sealed: SealedSource | None = None
    phone_digest: str | None = Field(default=None, pattern="^[0-9a-f]{64}$")

    @model_validator(mode="after")
    def _one_form(self) -> CommunityContact:
        plain = self.name is not None or self.phone is not None
        sealed = self.sealed is not None or self.phone_digest is not None
        if plain == sealed:
            raise ValueError(
                "a community contact has a name and a phone (the file) or is sealed "
                "(sealed and phone_digest, as stored), not both or neither"
            )
        if plain and (self.name is None or self.phone is None):
            raise ValueError("a community contact needs both a name and a phone")
        if sealed and (self.sealed is None or self.phone_digest is None):
            raise ValueError("a sealed community contact needs sealed and phone_digest")
        if self.phone is not None and e164_or_none(self.phone) is None:
            # Not the number itself in the message: it may end up in a log.
            raise ValueError("phone is not a number with its country code (e.g. +243990000111)")
        return self

    @property
    def is_sealed(self) -> bool:
        """True when name and phone are sealed (a stored directory)."""
        return self.sealed is not None


def contact_binding(contact_id: str) -> UUID:
    """The UUID a contact's seal is bound to."""
    return uuid5(_CONTACT_NAMESPACE, f"community-contact:{contact_id}")


def _digest_input(phone: str) -> bytes:
    return f"community-phone:{phone}".encode()


def seal_contact(contact: CommunityContact, keys: SourceKeyRing) -> CommunityContact:
    """``contact`` with name and phone sealed (unchanged when it already is)."""
    if contact.is_sealed or contact.name is None or contact.phone is None:
        return contact
    phone = e164_or_none(contact.phone)
    if phone is None:  # the model refuses such a contact: unreachable
        raise ValueError(f"community contact {contact.id}: phone is not a number")
    return contact.model_copy(
        update={
            "name": None,
            "phone": None,
            "sealed": keys.seal(
                Source(name=contact.name, contact=phone), contact_binding(contact.id)
            ),
            "phone_digest": keys.digest(_digest_input(phone)),
        }
    )


def seal_contacts(
    contacts: Iterable[CommunityContact], keys: SourceKeyRing
) -> list[CommunityContact]:
    """Every contact sealed: what a directory may be stored and logged with."""
    return [seal_contact(contact, keys) for contact in contacts]


def opened(contact: CommunityContact, keys: SourceKeyRing) -> Source:
    """The contact's name and phone (``Source.contact``); raises SourceProtectionError."""
    if contact.sealed is None:
        return Source(name=contact.name or "", contact=contact.phone)
    return keys.open(contact.sealed, contact_binding(contact.id))


def contact_with_phone(
    contacts: Iterable[CommunityContact],
    number: str,
    keys: SourceKeyRing,
    default_region: str | None = None,
) -> CommunityContact | None:
    """The contact whose phone is ``number`` (compared as E.164), if any.

    A sealed contact matches by its digest under any key of the ring, so contacts
    sealed before a key rotation are still found.
    """
    wanted = e164_or_none(number, default_region)
    if wanted is None:
        return None
    digests = keys.digests(_digest_input(wanted))
    for contact in contacts:
        if contact.phone_digest is not None and contact.phone_digest in digests:
            return contact
        if contact.phone is not None and e164_or_none(contact.phone, default_region) == wanted:
            return contact
    return None


def community_reference(alert_id: UUID) -> str:
    """The reference a reporter is given for their alert: what they quote when they call.

    Six characters of the alert's id: stable for the alert's life (unlike its SMS code,
    which is reused once it is resolved), and short enough to read out on the phone.
    """
    return alert_id.hex[:6].upper()
