"""Keeps ingest's alert views up to date from the events of the other services."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from services.ingest.alerts.tables import AlertPersonRecord, AlertViewRecord, TimelineRecord
from shared.contracts import (
    ALERT_STATE_CHANGED,
    ALERT_TRIGGERED,
    ALERT_UPGRADED,
    NOTIFICATION_DELIVERED,
)
from shared.contracts.alerts import (
    SEVERITY_ORDER,
    URGENCY_ORDER,
    AlertTriggeredV1,
    AlertUpgradedV1,
    more_serious,
)
from shared.contracts.escalation import AlertStateV1
from shared.contracts.notifications import NotificationKind
from shared.db import insert_ignoring_duplicates
from shared.envelope import Envelope
from shared.state_rows import take_state

# Payload fields never shown to a reader (timeline or live stream): contact addresses,
# the alert body, and the policy snapshot (auditors read it with `coord audit explain`).
_PRIVATE_FIELDS = frozenset({"address", "contacts", "alert", "source", "snapshot"})


# session.info key: the views this transaction has locked (and loaded).
_LOCKED_VIEWS = "coord.ingest.locked_views"

# On an alert's own timeline, what names the alert, and what repeats the view (a
# notification's summary is the alert as raised).
_THE_ALERT_ITSELF = ("alert_id", "subject_type", "subject_id", "summary")


def shown_detail(payload: Mapping[str, Any]) -> dict[str, Any]:
    """What of an event's payload its readers are shown, on the timeline and the stream."""
    return {k: v for k, v in payload.items() if k not in _PRIVATE_FIELDS}


async def _locked_view(session: AsyncSession, alert_id: str) -> AlertViewRecord | None:
    """The alert's view, locked for the transaction: read once however many events it gets.

    A batch of events (``ViewKeeper.batch``) often carries several of one alert; the lock
    (against another replica's consumer) lasts the transaction, so the view loaded the
    first time is current for the rest of it.
    """
    locked: set[str] = session.sync_session.info.setdefault(_LOCKED_VIEWS, set())
    if alert_id in locked:
        return await session.get(AlertViewRecord, alert_id)  # from the session, no SQL
    view = await session.get(AlertViewRecord, alert_id, with_for_update=True)
    if view is not None:
        locked.add(alert_id)
    return view


@event.listens_for(Session, "after_transaction_end")
def _unlocked(session: Session, _transaction: SessionTransaction) -> None:
    session.info.pop(_LOCKED_VIEWS, None)  # the locks end with the transaction


async def apply_event(session: AsyncSession, envelope: Envelope) -> None:
    """Add the event to its alert's timeline and update the view; replays are no-ops."""
    view = await _locked_view(session, str(envelope.correlation_id))
    if view is None:
        return  # not an alert this ingest accepted (e.g. another thread type)
    if envelope.type == ALERT_STATE_CHANGED:
        known = {*view.targets, *view.chain}
        apply_state(view, AlertStateV1.model_validate(envelope.payload))
        await _concerns(session, view.alert_id, {*view.targets, *view.chain} - known)
        return
    detail = shown_detail(envelope.payload)
    for name in _THE_ALERT_ITSELF:
        detail.pop(name, None)
    inserted = await insert_ignoring_duplicates(
        session,
        TimelineRecord.__table__,  # type: ignore[arg-type]
        {
            "event_id": str(envelope.id),
            "alert_id": view.alert_id,
            "type": envelope.type,
            "occurred_at": envelope.occurred_at,
            "detail": {"actor": envelope.actor, **detail},
        },
    )
    if inserted and envelope.type == ALERT_TRIGGERED and view.version == 0:
        # Before the first state arrives, show who level 1 pages.
        triggered = AlertTriggeredV1.model_validate(envelope.payload)
        view.policy_id = triggered.policy_id
        view.level = triggered.level
        view.targets = triggered.targets
        await _concerns(session, view.alert_id, set(triggered.targets))
    if inserted and envelope.type == ALERT_UPGRADED:
        # A merged duplicate raised the alert. Only ever upwards, so the order in which
        # concurrent consumers apply two upgrades does not matter.
        upgraded = AlertUpgradedV1.model_validate(envelope.payload)
        view.severity = more_serious(SEVERITY_ORDER, view.severity, upgraded.severity.value)
        view.urgency = more_serious(URGENCY_ORDER, view.urgency, upgraded.urgency.value)
    if (
        inserted
        and envelope.type == NOTIFICATION_DELIVERED
        and envelope.payload.get("kind") == NotificationKind.COMMUNITY_FEEDBACK.value
        and view.feedback_at is None
    ):
        # The community loop's figure: when the reporter first heard back (reports).
        view.feedback_at = envelope.occurred_at


async def _concerns(session: AsyncSession, alert_id: str, people: set[str]) -> None:
    """Record that the alert concerns ``people`` (need-to-know for the list in SQL)."""
    for person_id in sorted(people):
        await insert_ignoring_duplicates(
            session,
            AlertPersonRecord.__table__,  # type: ignore[arg-type]
            {"alert_id": alert_id, "person_id": person_id},
        )


def apply_state(view: AlertViewRecord, state: AlertStateV1) -> None:
    """Take the router's state, whole, when it is newer than what the view shows."""
    if state.version <= view.version:
        return  # an older state handled late (consumers run concurrently)
    take_state(view, state, keep=frozenset({"alert_id"}))
