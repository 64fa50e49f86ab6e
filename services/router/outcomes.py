"""Delivery outcomes reported by the notifier: logged, and failures told to the JOC."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.router.alerts.escalation import Page
from services.router.alerts.tables import AlertRecord
from services.router.alerts.transitions import EventFactory, notifications
from services.router.tables import stage
from shared.contracts import NOTIFICATION_FAILED, payload_model
from shared.contracts.notifications import NotificationKind, SubjectType, upcast_failed
from shared.directory import Directory
from shared.envelope import Envelope
from shared.event_log import append as append_to_log


async def record_outcome(session: AsyncSession, directory: Directory, envelope: Envelope) -> None:  # noqa: ARG001 - one signature for every router effect
    """Put an event that changes no state on the log (a delivery outcome, an audit access)."""
    await append_to_log(session, (envelope,))


async def record_failure(session: AsyncSession, directory: Directory, envelope: Envelope) -> None:
    """Log a failed notification; a page nobody received is told to the JOC."""
    await append_to_log(session, (envelope,))
    model = payload_model(NOTIFICATION_FAILED, envelope.schema_version)
    failed = upcast_failed(model.model_validate(envelope.payload))
    if failed.subject_type is not SubjectType.ALERT:
        # A message or recommendation notice: the addressee still has it in their coord
        # inbox, and the failure is on the log for the sender to see.
        return
    if failed.kind is not NotificationKind.PAGE:
        return  # telling the JOC about a failed FYI (or a failed JOC notice) would loop
    record = await session.get(AlertRecord, str(failed.subject_id))
    if record is None:
        return
    page = Page(
        people=(),
        kind=NotificationKind.TARGET_UNREACHABLE.value,
        level=record.level,
        message=f"{failed.person_id} could not be reached: {failed.error}",
    )
    events = EventFactory(record, envelope)
    await stage(session, notifications(record, directory, (page,), events))
