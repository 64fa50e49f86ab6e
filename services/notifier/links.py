"""The action link a page carries: the person's own, signed link to acknowledge its alert.

Minted when a channel delivers (not when the router asks), so that its lifetime runs from
when the person can first see it. A delivery taken over after a crash, or tried again on
another channel, mints another link (another nonce): each is valid on its own, and ingest
acts at most once per link and never on a resolved alert.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from shared.action_links import LinkAction, action_link_url, mint_link_token
from shared.contracts.notifications import NotificationKind, NotificationRequestedV2, SubjectType
from shared.settings import Settings

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class LinkConfig:
    """How to mint links: where ingest is, the signing secret, how long a link lives."""

    public_url: str
    secret: str
    ttl: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> LinkConfig:
        """``COORD_PUBLIC_URL``, ``COORD_LINK_SECRET`` and ``COORD_LINK_TTL``."""
        return cls(
            public_url=settings.public_url,
            secret=settings.link_secret.get_secret_value(),
            ttl=timedelta(seconds=settings.link_ttl),
        )


def carries_acknowledge_link(request: NotificationRequestedV2) -> bool:
    """Whether ``request`` asks its person to acknowledge an alert: a page, nothing else.

    Notices (acknowledged, resolved, to the JOC, ...) ask nothing of their reader, and
    messages and recommendations are acknowledged elsewhere.
    """
    return request.subject_type is SubjectType.ALERT and request.kind is NotificationKind.PAGE


def acknowledge_url(
    config: LinkConfig, request: NotificationRequestedV2, now: datetime | None = None
) -> str | None:
    """A new link for ``request``'s person to acknowledge its alert, or None if it has none.

    A page whose link cannot be minted (a person id too long for one) goes without:
    the page matters more than the shortcut, and the person can still acknowledge
    after signing in.
    """
    if not carries_acknowledge_link(request):
        return None
    try:
        token = mint_link_token(
            request.subject_id,
            request.person_id,
            LinkAction.ACKNOWLEDGE,
            secret=config.secret,
            ttl=config.ttl,
            now=now,
        )
    except ValueError as error:
        log.warning(
            "notification.link_not_minted",
            notification_id=str(request.notification_id),
            person_id=request.person_id,
            error=str(error),
        )
        return None
    return action_link_url(config.public_url, token)
