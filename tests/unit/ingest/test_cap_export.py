"""An alert as CAP 1.2 (services/ingest/cap/export.py): valid against the OASIS schema for
every category and classification, mapped as docs/cap.md says, one message per change."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from lxml import etree

from services.ingest.alerts.cap_export import alert_message, event_name, versions
from services.ingest.alerts.schemas import AlertView
from services.ingest.cap.message import cap_time
from services.ingest.cap.negotiation import prefers_cap
from services.ingest.cap.profile import CapProfile
from services.ingest.cap.schema import NAMESPACE, schema_errors
from shared.contracts.alerts import Category
from shared.envelope import Classification

PROFILE = CapProfile(sender="joc@mission.example", sender_name="Mission JOC", language="fr")
RAISED = datetime(2026, 11, 23, 10, 0, 0, 123456, tzinfo=UTC)
NS = {"cap": NAMESPACE}


def view(**overrides: Any) -> AlertView:
    fields = AlertView.example() | {"raised_at": RAISED, "timeline": []}
    return AlertView.model_validate(fields | overrides)


def parsed(message: bytes) -> etree._Element:
    root = etree.fromstring(message)
    assert schema_errors(root) == []
    return root


def text(root: etree._Element, path: str) -> str | None:
    return root.findtext(path, namespaces=NS)


def timeline(*types: str) -> list[dict[str, Any]]:
    return [
        {"type": t, "at": RAISED + timedelta(minutes=minute)}
        for minute, t in enumerate(("alert.raised", *types))
    ]


@pytest.mark.parametrize(
    ("category", "classification"), list(itertools.product(Category, Classification))
)
def test_every_category_and_classification_is_a_valid_cap_message(
    category: Category, classification: Classification
) -> None:
    alert = view(category=category.value, classification=classification.value)
    root = parsed(alert_message(alert, PROFILE))

    assert text(root, "cap:identifier") == str(alert.id)
    assert text(root, "cap:sender") == "joc@mission.example"
    assert text(root, "cap:sent") == "2026-11-23T10:00:00+00:00"
    assert (text(root, "cap:status"), text(root, "cap:msgType")) == ("Actual", "Alert")
    # Not released to partners (nothing is, yet): restricted, saying to whom.
    assert text(root, "cap:scope") == "Restricted"
    label = classification.value.replace("_", " ").upper()
    assert (text(root, "cap:restriction") or "").startswith(f"UN {label}.")
    expected_cap_category = (
        "Safety" if category in (Category.DISPLACEMENT, Category.OTHER) else "Security"
    )
    assert text(root, "cap:info/cap:category") == expected_cap_category
    assert text(root, "cap:info/cap:event") == event_name(category.value)
    assert text(root, "cap:info/cap:eventCode/cap:value") == category.value
    assert text(root, "cap:info/cap:parameter/cap:value") == classification.value


@pytest.mark.parametrize(
    ("classification", "released", "scope", "restriction"),
    [
        ("unclassified", True, "Public", None),
        ("unclassified", False, "Restricted", "UN UNCLASSIFIED. For the mission; not released"),
        # The router never releases a classified alert; were one marked, it stays restricted.
        ("confidential", True, "Restricted", "UN CONFIDENTIAL. Not for release"),
    ],
)
def test_only_a_released_unclassified_alert_is_public(
    classification: str, released: bool, scope: str, restriction: str | None
) -> None:
    released_at = RAISED + timedelta(hours=1) if released else None
    alert = view(classification=classification, released_at=released_at)
    root = parsed(alert_message(alert, PROFILE))
    assert text(root, "cap:scope") == scope
    if restriction is None:
        assert text(root, "cap:restriction") is None
    else:
        assert (text(root, "cap:restriction") or "").startswith(restriction)


def test_the_alert_s_fields_in_cap_s_words() -> None:
    alert = view(
        title="Armed men <near> Mavivi & Oicha",
        description="Seen at dawn by the CAN.",
        severity="extreme",
        urgency="expected",
        certainty="likely",
        location={"name": "Mavivi market", "lat": 0.4911, "lon": 29.4731},
    )
    root = parsed(alert_message(alert, PROFILE))
    info = "cap:info/"
    assert text(root, info + "cap:language") == "fr"
    assert text(root, info + "cap:headline") == "Armed men <near> Mavivi & Oicha"
    assert text(root, info + "cap:description") == "Seen at dawn by the CAN."
    assert text(root, info + "cap:senderName") == "Mission JOC"
    assert [text(root, info + f"cap:{n}") for n in ("urgency", "severity", "certainty")] == [
        "Expected",
        "Extreme",
        "Likely",
    ]
    assert text(root, info + "cap:area/cap:areaDesc") == "Mavivi market"
    assert text(root, info + "cap:area/cap:circle") == "0.4911,29.4731 0"
    assert text(root, info + "cap:area/cap:geocode/cap:value") == "beni"
    assert text(root, info + "cap:instruction") is None  # coord alerts carry none
    assert text(root, "cap:incidents") == str(alert.id)


def test_no_point_without_coordinates_and_no_empty_description() -> None:
    alert = view(description="", location={"name": "Somewhere near Oicha"})
    root = parsed(alert_message(alert, PROFILE))
    assert root.find("cap:info/cap:area/cap:circle", NS) is None
    assert root.find("cap:info/cap:description", NS) is None


@pytest.mark.parametrize(
    ("types", "expected"),
    [
        ((), ["Alert"]),
        (("alert.triggered", "notification.delivered"), ["Alert"]),  # no change for partners
        (("alert.triggered", "alert.acknowledged"), ["Alert", "Update"]),
        (
            ("alert.acknowledged", "alert.retriggered", "alert.acknowledged", "alert.resolved"),
            ["Alert", "Update", "Update", "Update", "Update"],
        ),
        (("alert.upgraded", "alert.merged"), ["Alert", "Update", "Update"]),
        (("alert.deduplicated",), ["Alert", "Cancel"]),
    ],
)
def test_one_cap_message_per_change_a_partner_should_hear_of(
    types: tuple[str, ...], expected: list[str]
) -> None:
    alert = view(timeline=timeline(*types))
    story = versions(alert)
    assert [v.msg_type for v in story] == expected
    assert [v.identifier for v in story] == [str(alert.id)] + [
        f"{alert.id}.{n}" for n in range(1, len(story))
    ]


def test_the_newest_message_references_every_earlier_one() -> None:
    alert = view(timeline=timeline("alert.triggered", "alert.acknowledged", "alert.resolved"))
    root = parsed(alert_message(alert, PROFILE))
    assert text(root, "cap:msgType") == "Update"
    assert text(root, "cap:identifier") == f"{alert.id}.2"
    assert text(root, "cap:sent") == "2026-11-23T10:03:00+00:00"
    assert text(root, "cap:note") == "Resolved by the mission."
    assert (text(root, "cap:references") or "").split() == [
        f"joc@mission.example,{alert.id},2026-11-23T10:00:00+00:00",
        f"joc@mission.example,{alert.id}.1,2026-11-23T10:02:00+00:00",
    ]


def test_a_folded_duplicate_is_cancelled_under_its_incident() -> None:
    survivor = "2b4e28ba-2fa1-11d2-883f-0016d3cca427"
    alert = view(timeline=timeline("alert.deduplicated"), merged_into=survivor)
    root = parsed(alert_message(alert, PROFILE))
    assert text(root, "cap:msgType") == "Cancel"
    assert text(root, "cap:incidents") == survivor


def test_the_same_state_is_the_same_message() -> None:
    alert = view(timeline=timeline("alert.acknowledged"))
    assert alert_message(alert, PROFILE) == alert_message(view(**alert.model_dump()), PROFILE)


def test_cap_times_have_seconds_and_a_spelled_out_offset() -> None:
    kinshasa = timezone(timedelta(hours=1))
    assert cap_time(datetime(2026, 11, 23, 11, 0, 59, 999999, tzinfo=kinshasa)) == (
        "2026-11-23T10:00:59+00:00"
    )


@pytest.mark.parametrize(
    ("accept", "cap"),
    [
        ("application/cap+xml", True),
        ("application/cap+xml, application/json;q=0.5", True),
        ("application/json, application/cap+xml", False),
        ("application/json;q=0.4, application/cap+xml;q=0.9", True),
        ("application/cap+xml;q=0", False),
        ("*/*", False),
        ("", False),
        ("text/html", False),
        ("APPLICATION/CAP+XML", True),
        ("application/cap+xml;q=oops", False),
    ],
)
def test_accept_asks_for_cap_only_when_it_prefers_it(accept: str, cap: bool) -> None:
    assert prefers_cap(accept) is cap
