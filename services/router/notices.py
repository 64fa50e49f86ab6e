"""Envelopes the router writes about a subject, and the one way it asks for a notification.

Every subject (an alert, a message thread, a recommendation) has its ``SubjectEvents``;
``notification`` is the ``notification.requested`` (version 2) of each of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID, uuid4

from pydantic import BaseModel

from shared.addressing import contact_points, joc_operators
from shared.community_contacts import CommunityContact
from shared.contracts import NOTIFICATION_REQUESTED
from shared.contracts.notifications import (
    COMMUNITY_SMS,
    ContactPoint,
    NotificationKind,
    NotificationRequestedV2,
    SubjectType,
)
from shared.directory import Contact, Directory, Person
from shared.envelope import Classification, Envelope

PRODUCER = "router"


@dataclass(frozen=True)
class SubjectEvents:
    """Builds the envelopes of one message thread or recommendation."""

    subject_type: SubjectType
    subject_id: UUID
    correlation_id: UUID
    classification: Classification
    cause: Envelope | None
    actor: str = PRODUCER

    def make(self, type_: str, payload: BaseModel, version: int = 1) -> Envelope:
        """An event of ``type_`` in this thread, caused by ``cause`` if any."""
        return Envelope(
            type=type_,
            schema_version=version,
            producer=PRODUCER,
            actor=self.actor,
            correlation_id=self.correlation_id,
            causation_id=self.cause.id if self.cause else None,
            classification=self.classification,
            payload=payload.model_dump(mode="json"),
        )

    def tell(
        self,
        directory: Directory,
        people: list[str],
        kind: NotificationKind,
        summary: dict[str, object],
        message: str = "",
    ) -> list[Envelope]:
        """One ``notification.requested`` (v2) per person with a working channel.

        Someone without one still finds a message or recommendation in their
        inbox; that is why nobody is told about it here.
        """
        envelopes: list[Envelope] = []
        for person_id in dict.fromkeys(people):
            person = directory.person(person_id)
            contacts = contact_points(person) if person is not None else []
            if person is not None and contacts:
                envelopes.append(self.notification(person, contacts, kind, summary, message))
        return envelopes

    def notification(
        self,
        person: Person,
        contacts: Sequence[Contact],
        kind: NotificationKind,
        summary: dict[str, object],
        message: str = "",
        *,
        policy_id: str | None = None,
        level: int = 1,
    ) -> Envelope:
        """``notification.requested`` (version 2): tell ``person`` on ``contacts``, in order."""
        return self._request(
            person.id,
            [ContactPoint(channel=c.channel, address=c.address) for c in contacts],
            kind,
            summary,
            message,
            language=person.language.value,
            policy_id=policy_id,
            level=level,
        )

    def community_feedback(
        self, contact: CommunityContact, text: str, summary: dict[str, object]
    ) -> Envelope:
        """``notification.requested`` (v2) to a community contact: ``text``, by SMS.

        The address is the contact's id: their number stays sealed until the notifier
        opens it to send (``services.notifier.sms.community``). The envelope's actor is
        the officer who released the text, so the log says who told a village what.
        """
        return self._request(
            contact.id,
            [ContactPoint(channel=COMMUNITY_SMS, address=contact.id)],
            NotificationKind.COMMUNITY_FEEDBACK,
            summary,
            text,
            language=contact.language,
        )

    def _request(
        self,
        recipient: str,
        contacts: list[ContactPoint],
        kind: NotificationKind,
        summary: dict[str, object],
        message: str,
        *,
        language: str,
        policy_id: str | None = None,
        level: int = 1,
    ) -> Envelope:
        request = NotificationRequestedV2(
            notification_id=uuid4(),
            subject_type=self.subject_type,
            subject_id=self.subject_id,
            person_id=recipient,
            kind=kind,
            contacts=contacts,
            policy_id=policy_id,
            level=level,
            message=message,
            summary=summary,
            language=language,
        )
        return self.make(NOTIFICATION_REQUESTED, request, version=2)

    def tell_joc(
        self, directory: Directory, sector: str | None, summary: dict[str, object], message: str
    ) -> list[Envelope]:
        """Tell the JOC duty officers (of ``sector``, or all) that nobody can be escalated to."""
        # Without a sector only mission-wide duty officers match: they cover every sector.
        operators = [p.id for p in joc_operators(directory, sector or "")]
        return self.tell(
            directory, operators, NotificationKind.NOBODY_TO_ESCALATE_TO, summary, message
        )
