"""What partners read: the alerts released to them, as CAP messages in an Atom feed.

An alert reaches partners only once a person whose role releases asked for it and the
router agreed (``alert.release``: UNCLASSIFIED only, on the log). The rule of what a
partner reads is :func:`released_to`; the feed and a single message both follow it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.ingest.alerts import queries
from services.ingest.alerts.cap_export import CAP_CATEGORY, versions
from services.ingest.alerts.schemas import AlertView
from services.ingest.alerts.tables import AlertViewRecord
from services.ingest.cap.atom import Entry, Feed
from services.ingest.cap.profile import CapProfile
from shared.contracts.alerts import Category
from shared.envelope import Classification
from shared.partners import Partner

FEED_SIZE = 50  # the most recently released: a partner polls, it does not page back


def released_to(partner: Partner, view: AlertView) -> bool:
    """Whether ``partner`` may read the alert: released, unclassified, of its sectors."""
    return (
        view.released_at is not None
        and view.classification == Classification.UNCLASSIFIED.value
        and partner.covers(view.sector)
    )


async def released_alert(
    session: AsyncSession, partner: Partner, alert_id: UUID
) -> AlertView | None:
    """The alert if ``partner`` may read it; None otherwise (as if it did not exist)."""
    view = await queries.get_alert(session, alert_id)
    return view if view is not None and released_to(partner, view) else None


async def released_alerts(session: AsyncSession, partner: Partner) -> list[AlertView]:
    """The alerts ``partner`` reads, most recently released first (at most FEED_SIZE).

    Two queries whatever the feed's length: the alerts, then all their timelines.
    """
    query = (
        select(AlertViewRecord)
        .where(
            AlertViewRecord.released_at.is_not(None),
            AlertViewRecord.classification == Classification.UNCLASSIFIED.value,
        )
        .order_by(AlertViewRecord.released_at.desc(), AlertViewRecord.alert_id)
        .limit(FEED_SIZE)
    )
    if partner.sectors:
        query = query.where(AlertViewRecord.sector.in_(partner.sectors))
    views = await queries.alert_views(session, (await session.scalars(query)).all())
    return [view for view in views if released_to(partner, view)]


def message_url(profile: CapProfile, alert_id: UUID) -> str:
    """Where a partner reads the alert's newest CAP message."""
    return f"{profile.public_url}/v1/cap/alerts/{alert_id}"


def feed_of(views: list[AlertView], profile: CapProfile, read_at: datetime) -> Feed:
    """The partner feed of ``views``: one entry per alert, its newest CAP message linked."""
    entries = [
        Entry(
            id=f"urn:uuid:{view.id}",
            title=view.title,
            # Releasing is news to a partner though it makes no new CAP message.
            updated=max(versions(view)[-1].sent, view.released_at or view.raised_at),
            published=view.released_at or view.raised_at,
            summary=view.description or view.title,
            cap_url=message_url(profile, view.id),
            categories=(CAP_CATEGORY[Category(view.category)],),
        )
        for view in views
    ]
    return Feed(
        # The same feed id for as long as the mission's sender id stays the same.
        id=f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'coord-cap-feed:' + profile.sender)}",
        title=f"{profile.sender_name}: alerts released to partners",
        author=profile.sender_name,
        self_url=f"{profile.public_url}/v1/cap/feed",
        entries=entries,
        updated=max((e.updated for e in entries), default=read_at),
    )
