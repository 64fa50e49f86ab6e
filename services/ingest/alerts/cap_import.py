"""A partner's CAP message as coord alerts (the mapping: docs/cap.md, "Import").

One alert per ``info`` block in the mission's language (or the first block when none
is): the CAP vocabularies as given, the category read from coord's own code or from the
event's words (``other`` when nothing matches, the original CAP category and event kept
at the head of the description), the area placed in a sector by the directory (coord's
own geocode, then ``cap_areas`` names and geocodes, then the point or polygon inside a
``sector_areas`` outline), origin ``partner``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.ingest.alerts.cap_export import CATEGORY_CODE, CLASSIFICATION_CODE, SECTOR_CODE
from services.ingest.cap.message import Area, CapMessage, Info
from shared.contracts.alerts import (
    DEDUP_KEY_MAX,
    DESCRIPTION_MAX,
    PLACE_NAME_MAX,
    TITLE_MAX,
    Category,
    Certainty,
    Component,
    Location,
    RaiseAlertV1,
    Severity,
    Urgency,
)
from shared.directory import Directory
from shared.envelope import Classification
from shared.geography import Position

# Words of a partner's event (English and French, lower case, accents as written) and
# codes (SAME's child abduction emergency), most specific first: the first match wins.
_EVENT_WORDS: tuple[tuple[Category, tuple[str, ...]], ...] = (
    (Category.SEXUAL_VIOLENCE, ("sexual", "sexuel", "rape", "viol ")),
    (Category.ABDUCTION, ("abduct", "kidnap", "enlèvement", "enlevement", "rapt", "cae")),
    (Category.LOOTING, ("loot", "pillage")),
    (Category.DISPLACEMENT, ("displace", "déplac", "deplac", "evacua", "évacua", "refugee")),
    (Category.ARMED_GROUP_MOVEMENT, ("armed group", "groupe armé", "militia", "milice")),
    # A threat of attack names the attack too: the threat first.
    (Category.THREAT_OF_ATTACK, ("threat", "menace")),
    (Category.ATTACK_ON_CIVILIANS, ("attack", "attaque", "massacre", "combat", "fighting")),
)


class Unplaced(ValueError):
    """No sector of the directory matches the message's area; ``str()`` says which area."""


@dataclass(frozen=True)
class ImportedAlert:
    """One alert a CAP message becomes, and the ``info`` block it came from."""

    alert: RaiseAlertV1
    language: str


def infos_in(message: CapMessage, language: str) -> list[Info]:
    """The blocks in the mission's language (by primary subtag), else the first one."""
    wanted = language.split("-", maxsplit=1)[0].lower()
    same = [i for i in message.infos if i.language.split("-")[0].lower() == wanted]
    return same or list(message.infos[:1])


def category_of(info: Info) -> Category:
    """Coord's own code when the message carries it, else the event's words, else other."""
    for name, value in info.event_codes:
        if name == CATEGORY_CODE and value in Category.__members__.values():
            return Category(value)
    words = " ".join([info.event, *(value for _, value in info.event_codes)]).lower()
    for category, markers in _EVENT_WORDS:
        if any(re.search(rf"\b{re.escape(m.strip())}", words) for m in markers):
            return category
    return Category.OTHER


def _center(area: Area) -> Position | None:
    """(longitude, latitude) of the area's first circle, or its first polygon's mean."""
    for circle in area.circles:
        lat, lon = (float(v) for v in circle.split()[0].split(","))
        return lon, lat
    for polygon in area.polygons:
        points = [tuple(float(v) for v in p.split(",")) for p in polygon.split()]
        ring = points[:-1] if len(points) > 1 and points[0] == points[-1] else points
        return (sum(p[1] for p in ring) / len(ring), sum(p[0] for p in ring) / len(ring))
    return None


def sector_of(area: Area, directory: Directory) -> str | None:
    """The directory's sector the area is in, or None."""
    for name, value in area.geocodes:
        if name == SECTOR_CODE and value in directory.sectors:
            return value
    codes = {f"{name}={value}" for name, value in area.geocodes}
    described = area.description.strip().lower()
    for sector, known in directory.cap_areas.items():
        if described in (n.strip().lower() for n in known.names) or codes & set(known.geocodes):
            return sector
    center = _center(area)
    if center is not None:
        for sector, outline in directory.sector_areas.items():
            if outline.contains(center):
                return sector
    return None


def _placed(info: Info, directory: Directory) -> tuple[str, Location]:
    for area in info.areas:
        sector = sector_of(area, directory)
        if sector is not None:
            center = _center(area)
            lon, lat = center if center is not None else (None, None)
            return sector, Location(
                name=area.description[:PLACE_NAME_MAX] or sector, lat=lat, lon=lon
            )
    described = ", ".join(repr(a.description) for a in info.areas) or "no area at all"
    raise Unplaced(
        f"no sector of the directory matches {described}: add its name or geocode to "
        "the directory's cap_areas, or send a point or polygon inside a sector's outline"
    )


def _classification(message: CapMessage, info: Info) -> Classification:
    for name, value in info.parameters:
        if name == CLASSIFICATION_CODE and value in Classification.__members__.values():
            return Classification(value)
    return Classification.UNCLASSIFIED if message.scope == "Public" else Classification.CONFIDENTIAL


def _description(info: Info) -> str:
    parts = []
    if not any(name == CATEGORY_CODE for name, _ in info.event_codes):
        # The partner's own words for what it is, kept: coord's category is a reading.
        parts.append(f"[CAP {'/'.join(info.categories)}: {info.event}]")
    parts += [p for p in (info.description, info.instruction) if p]
    return "\n\n".join(parts)[:DESCRIPTION_MAX]


def incident_key(message: CapMessage) -> str:
    """The dedup key of the incident a message is about.

    The router folds an ``Update`` into the alert of the incident's first message:
    CAP's ``incidents`` when given, else the first message it references, else itself.
    """
    if message.incidents:
        return f"cap:{message.sender}:{message.incidents}"[:DEDUP_KEY_MAX]
    first = message.references[0] if message.references else None
    if first is not None:
        return f"cap:{first.sender}:{first.identifier}"[:DEDUP_KEY_MAX]
    return f"cap:{message.sender}:{message.identifier}"[:DEDUP_KEY_MAX]


def alerts_from(message: CapMessage, directory: Directory, language: str) -> list[ImportedAlert]:
    """The alerts the message becomes (:class:`Unplaced` when an area matches no sector)."""
    out = []
    for info in infos_in(message, language):
        category = category_of(info)
        sector, location = _placed(info, directory)
        title = (info.headline or info.event or message.identifier)[:TITLE_MAX]
        alert = RaiseAlertV1(
            title=title,
            description=_description(info),
            category=category,
            # The schema admits only CAP's values, which are coord's, capitalised.
            severity=Severity(info.severity.lower()),
            urgency=Urgency(info.urgency.lower()),
            certainty=Certainty(info.certainty.lower()),
            sector=sector,
            location=location,
            origin=Component.PARTNER,
            classification=_classification(message, info),
            dedup_key=incident_key(message),
        )
        out.append(ImportedAlert(alert, info.language))
    return out
