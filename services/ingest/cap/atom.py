"""An Atom feed (RFC 4287) of CAP messages, as plain data and its XML.

The format only: which alerts a partner reads is the alerts domain's business
(services/ingest/alerts/partner_feed.py). Each entry links its CAP message
(``rel="alternate"``, ``type="application/cap+xml"``), the way national alerting
hubs publish CAP over Atom.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from lxml import etree

from services.ingest.cap.schema import MEDIA_TYPE as CAP_MEDIA_TYPE

ATOM = "http://www.w3.org/2005/Atom"
MEDIA_TYPE = "application/atom+xml"


def atom_time(moment: datetime) -> str:
    """A time as RFC 3339 (Atom's ``date-time``), in UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Entry:
    """One CAP message in the feed."""

    id: str  # an IRI that never changes for the alert: urn:uuid:<alert id>
    title: str
    updated: datetime  # its newest news: its newest CAP message, or its release if later
    published: datetime  # when it was released to partners
    summary: str
    cap_url: str
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class Feed:
    """The feed's own metadata and its entries, newest first."""

    id: str
    title: str
    author: str
    self_url: str
    entries: Sequence[Entry]
    updated: datetime  # the newest entry's, or when the feed was read if it has none


def _add(parent: etree._Element, name: str, text: str | None = None, **attributes: str) -> None:
    element = etree.SubElement(parent, f"{{{ATOM}}}{name}", attributes)
    if text is not None:
        element.text = text


def to_xml(feed: Feed) -> bytes:
    """The feed as UTF-8 XML with its declaration."""
    root = etree.Element(f"{{{ATOM}}}feed", nsmap={None: ATOM})
    _add(root, "id", feed.id)
    _add(root, "title", feed.title)
    _add(root, "updated", atom_time(feed.updated))
    author = etree.SubElement(root, f"{{{ATOM}}}author")
    _add(author, "name", feed.author)
    _add(root, "link", rel="self", type=MEDIA_TYPE, href=feed.self_url)
    for entry in feed.entries:
        element = etree.SubElement(root, f"{{{ATOM}}}entry")
        _add(element, "id", entry.id)
        _add(element, "title", entry.title)
        _add(element, "updated", atom_time(entry.updated))
        _add(element, "published", atom_time(entry.published))
        _add(element, "summary", entry.summary)
        for category in entry.categories:
            _add(element, "category", term=category)
        _add(element, "link", rel="alternate", type=CAP_MEDIA_TYPE, href=entry.cap_url)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
