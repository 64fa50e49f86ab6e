"""An alert as a CAP 1.2 message (the mapping: docs/cap.md).

A CAP message is immutable: each change a partner should know of is a new message that
``references`` the earlier ones. coord keeps one alert with a timeline, so the messages
are derived from it: the first (``Alert``) when it was raised, then one per change of
state on the timeline (``Update``; ``Cancel`` for a duplicate folded into another
alert). An export is the newest of them, with every earlier one referenced; the same
alert exported twice in the same state is the same message.

The export is built from the alert's view, the one the JSON API shows: what need-to-know
hides there is never here, and the view has no source to leak.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from services.ingest.alerts.schemas import AlertView
from services.ingest.cap.message import Area, CapMessage, Info, Reference, to_xml
from services.ingest.cap.profile import CapProfile
from shared.contracts import (
    ALERT_ACKNOWLEDGED,
    ALERT_DEDUPLICATED,
    ALERT_MERGED,
    ALERT_RESOLVED,
    ALERT_RETRIGGERED,
    ALERT_UPGRADED,
)
from shared.contracts.alerts import Category
from shared.envelope import Classification

#: coord's own codes, in ``eventCode`` / ``geocode`` / ``parameter``: what CAP's
#: vocabulary cannot say exactly (an import of coord's own export reads them back).
CATEGORY_CODE = "coord:category"
SECTOR_CODE = "coord:sector"
CLASSIFICATION_CODE = "coord:classification"

# CAP's two categories for protection of civilians: violence and its threat are
# Security; the displacement it causes (and what is not said) Safety.
CAP_CATEGORY = dict.fromkeys(Category, "Security") | {
    Category.DISPLACEMENT: "Safety",
    Category.OTHER: "Safety",
}

MsgType = Literal["Alert", "Update", "Cancel"]

# The timeline's changes a partner should hear of: the message type and its note.
_CHANGES: dict[str, tuple[MsgType, str]] = {
    ALERT_UPGRADED: ("Update", "A later report raised its severity or urgency."),
    ALERT_MERGED: ("Update", "Another report of the same incident was merged into it."),
    ALERT_ACKNOWLEDGED: ("Update", "Acknowledged by the mission: it is being acted on."),
    ALERT_RETRIGGERED: ("Update", "Open again: the acknowledgement lapsed."),
    ALERT_RESOLVED: ("Update", "Resolved by the mission."),
    ALERT_DEDUPLICATED: ("Cancel", "A duplicate: follow the alert it was merged into."),
}


@dataclass(frozen=True)
class CapVersion:
    """One CAP message of an alert's story."""

    identifier: str
    sent: datetime
    msg_type: MsgType
    note: str | None


def event_name(category: str) -> str:
    """What CAP's ``event`` says of a category (the board's label in English).

    ``armed_group_movement`` -> ``Armed group movement``.
    """
    return category.replace("_", " ").capitalize()


def versions(view: AlertView) -> list[CapVersion]:
    """The alert's CAP messages, oldest first: ``Alert``, then one per change."""
    story = [CapVersion(str(view.id), view.raised_at, "Alert", None)]
    for entry in sorted(view.timeline, key=lambda e: e.at):
        if entry.type in _CHANGES:
            msg_type, note = _CHANGES[entry.type]
            story.append(CapVersion(f"{view.id}.{len(story)}", entry.at, msg_type, note))
    return story


def scope_of(view: AlertView) -> tuple[str, str | None]:
    """CAP ``scope`` and ``restriction`` of the alert.

    Public only once released to partners (only an UNCLASSIFIED alert can be: the router
    refuses the others); otherwise Restricted to the mission, the restriction naming
    its classification.
    """
    level = Classification(view.classification)
    if level is Classification.UNCLASSIFIED and view.released_at is not None:
        return "Public", None
    if level is Classification.UNCLASSIFIED:
        return "Restricted", "UN UNCLASSIFIED. For the mission; not released to partners."
    label = level.value.replace("_", " ").upper()
    return "Restricted", f"UN {label}. Not for release outside the mission."


def cap_message(view: AlertView, profile: CapProfile) -> CapMessage:
    """The alert's newest CAP message."""
    story = versions(view)
    newest = story[-1]
    scope, restriction = scope_of(view)
    point = view.location.lat is not None and view.location.lon is not None
    area = Area(
        description=view.location.name,
        # A point: CAP's circle of radius 0 km, "lat,lon radius" in WGS 84.
        circles=(f"{view.location.lat},{view.location.lon} 0",) if point else (),
        geocodes=((SECTOR_CODE, view.sector),),
    )
    info = Info(
        language=profile.language,
        categories=(CAP_CATEGORY[Category(view.category)],),
        event=event_name(view.category),
        urgency=view.urgency.capitalize(),
        severity=view.severity.capitalize(),
        certainty=view.certainty.capitalize(),
        event_codes=((CATEGORY_CODE, view.category),),
        sender_name=profile.sender_name,
        headline=view.title,
        description=view.description or None,
        parameters=((CLASSIFICATION_CODE, view.classification),),
        areas=(area,),
    )
    return CapMessage(
        identifier=newest.identifier,
        sender=profile.sender,
        sent=newest.sent,
        status="Actual",
        msg_type=newest.msg_type,
        scope=scope,
        restriction=restriction,
        note=newest.note,
        references=tuple(Reference(profile.sender, v.identifier, v.sent) for v in story[:-1]),
        incidents=str(view.merged_into or view.id),
        infos=(info,),
    )


def alert_message(view: AlertView, profile: CapProfile) -> bytes:
    """The alert as its newest CAP 1.2 message, UTF-8 XML."""
    return to_xml(cap_message(view, profile))
