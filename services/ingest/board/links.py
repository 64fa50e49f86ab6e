"""Spending a page's one-time link: the acknowledgement it carries, staged once only.

A link is bound by its signature to one alert, one person and one action
(``shared.action_links``). Spending it records its nonce, stages the command as that
person and stages ``alert.link_used`` for the log, in one transaction: the link is
spent if and only if its command is staged. A second try is refused, and is on the log
too.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal
from uuid import UUID

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.ingest.alerts.tables import AlertViewRecord
from services.ingest.board.tables import ActionLinkUseRecord
from services.ingest.command_staging import stage_command
from shared.action_links import ActionLink
from shared.addressing import cleared_for
from shared.contracts import ALERT_ACKNOWLEDGE, ALERT_LINK_USED
from shared.contracts.escalation import AcknowledgeAlertV1, ActionLinkUsedV1
from shared.directory import Directory, Person
from shared.envelope import Classification, utc_now
from shared.permissions import Action, allowed


class LinkRefusal(StrEnum):
    """Why a valid link cannot be used (each is a page of its own)."""

    UNKNOWN_ALERT = "unknown_alert"
    NOT_FOR_YOU = "not_for_you"  # the person left the directory, or lost the right or clearance
    RESOLVED = "resolved"
    ALREADY_USED = "already_used"


@dataclass(frozen=True)
class LinkTarget:
    """What a valid link acts on: its person, its alert as the page showed it; spent yet?"""

    person: Person
    alert: AlertViewRecord
    spent: bool

    def refusal(self) -> LinkRefusal | None:
        """Why the link cannot act now (spent, or its alert resolved), if it cannot."""
        if self.spent:
            return LinkRefusal.ALREADY_USED
        if self.alert.status == "resolved":
            return LinkRefusal.RESOLVED
        return None


async def target_of(
    sessions: async_sessionmaker[AsyncSession], directory: Directory, link: ActionLink
) -> LinkTarget | LinkRefusal:
    """The person and alert of ``link``, or why it is no one's to use."""
    async with sessions() as session:
        view = await session.get(AlertViewRecord, str(link.alert_id))
        used = await session.get(ActionLinkUseRecord, link.nonce)
    if view is None:
        return LinkRefusal.UNKNOWN_ALERT
    person = directory.person(link.person_id)
    if (
        person is None
        or not allowed(person, Action.ACKNOWLEDGE)
        or not cleared_for(person, Classification(view.classification))
    ):
        return LinkRefusal.NOT_FOR_YOU
    return LinkTarget(person, view, spent=used is not None)


async def spend(
    sessions: async_sessionmaker[AsyncSession], target: LinkTarget, link: ActionLink
) -> UUID | LinkRefusal:
    """Spend ``link``: the command's id, or ``ALREADY_USED`` (a second try: on the log too)."""
    alert_id = UUID(target.alert.alert_id)
    classification = Classification(target.alert.classification)
    try:
        async with sessions() as session, session.begin():
            session.add(
                ActionLinkUseRecord(
                    nonce=link.nonce,
                    alert_id=str(alert_id),
                    person_id=target.person.id,
                    used_at=utc_now(),
                )
            )
            await session.flush()  # a spent nonce fails here, before anything is staged
            command_id = await stage_command(
                session,
                ALERT_ACKNOWLEDGE,
                AcknowledgeAlertV1(alert_id=alert_id, person_id=target.person.id),
                actor=target.person.id,
                correlation_id=alert_id,
                classification=classification,
            )
            await _log_use(session, link, classification, "staged", command_id)
    except IntegrityError:
        async with sessions() as session, session.begin():
            await _log_use(session, link, classification, "already_used", None)
        return LinkRefusal.ALREADY_USED
    return command_id


async def _log_use(
    session: AsyncSession,
    link: ActionLink,
    classification: Classification,
    outcome: Literal["staged", "already_used"],
    command_id: UUID | None,
) -> None:
    used = ActionLinkUsedV1(
        alert_id=link.alert_id,
        person_id=link.person_id,
        action=link.action.value,
        link=link.nonce,
        outcome=outcome,
        command_id=command_id,
    )
    await stage_command(
        session,
        ALERT_LINK_USED,
        used,
        actor=link.person_id,
        correlation_id=link.alert_id,
        classification=classification,
        causation_id=command_id,
    )
