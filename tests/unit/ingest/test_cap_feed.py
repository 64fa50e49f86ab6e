"""The partner feed as Atom: one entry per released alert, dated by its newest news."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from lxml import etree

from services.ingest.alerts.partner_feed import feed_of, released_to
from services.ingest.alerts.schemas import AlertView
from services.ingest.cap.atom import ATOM, to_xml
from services.ingest.cap.profile import CapProfile
from shared.partners import Partner

PROFILE = CapProfile(sender="joc@mission.example", public_url="https://joc.example")
RAISED = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
NS = {"a": ATOM}
BENI = Partner(id="ocha", name="OCHA", token_sha256="0" * 64, sectors=["beni"])


def view(**overrides: Any) -> AlertView:
    fields = AlertView.example() | {
        "raised_at": RAISED,
        "timeline": [],
        "classification": "unclassified",
        "released_at": RAISED + timedelta(hours=2),
    }
    return AlertView.model_validate(fields | overrides)


def test_released_to_is_released_unclassified_and_of_the_partners_sectors() -> None:
    assert released_to(BENI, view())
    assert not released_to(BENI, view(released_at=None))
    assert not released_to(BENI, view(classification="restricted"))
    assert not released_to(BENI, view(sector="north"))


def test_an_entry_links_its_cap_message_and_is_dated_by_its_newest_news() -> None:
    released = view()
    resolved_later = view(
        id="2b4e28ba-2fa1-11d2-883f-0016d3cca427",
        timeline=[{"type": "alert.resolved", "at": RAISED + timedelta(hours=5)}],
    )
    now = RAISED + timedelta(days=1)
    root = etree.fromstring(to_xml(feed_of([resolved_later, released], PROFILE, now)))

    assert root.tag == f"{{{ATOM}}}feed"
    entries = root.findall("a:entry", NS)
    assert [e.findtext("a:id", namespaces=NS) for e in entries] == [
        f"urn:uuid:{resolved_later.id}",
        f"urn:uuid:{released.id}",
    ]
    # released 12:00, resolved 15:00: the resolution is its news; the other's, its release
    assert [e.findtext("a:updated", namespaces=NS) for e in entries] == [
        "2026-11-23T15:00:00Z",
        "2026-11-23T12:00:00Z",
    ]
    assert root.findtext("a:updated", namespaces=NS) == "2026-11-23T15:00:00Z"
    link = entries[1].find("a:link", NS)
    assert link is not None
    assert dict(link.attrib) == {
        "rel": "alternate",
        "type": "application/cap+xml",
        "href": f"https://joc.example/v1/cap/alerts/{released.id}",
    }
    # RFC 4287: a feed has an id, a title, an author and a self link
    assert (root.findtext("a:id", namespaces=NS) or "").startswith("urn:uuid:")
    assert root.findtext("a:author/a:name", namespaces=NS) == PROFILE.sender_name


def test_an_empty_feed_is_dated_when_it_was_read() -> None:
    now = RAISED + timedelta(days=1)
    root = etree.fromstring(to_xml(feed_of([], PROFILE, now)))
    assert root.findall("a:entry", NS) == []
    assert root.findtext("a:updated", namespaces=NS) == "2026-11-24T10:00:00Z"
