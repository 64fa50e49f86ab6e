"""Reading partners' CAP 1.2 (services/ingest/cap/parsing.py): hostile XML refused with
its problem named, partner messages read whole, coord's own export read back as written."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.ingest.alerts.cap_export import cap_message
from services.ingest.alerts.schemas import AlertView
from services.ingest.cap.message import Reference, to_xml
from services.ingest.cap.parsing import MAX_MESSAGE_BYTES, CapRefused, parse
from services.ingest.cap.profile import CapProfile
from tests.support.directories import REPO_ROOT

CAP_DATA = REPO_ROOT / "tests" / "data" / "cap"
PARTNERS = CAP_DATA / "partners"
HOSTILE = CAP_DATA / "hostile"


def partner(name: str) -> bytes:
    return (PARTNERS / name).read_bytes()


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("not-well-formed.xml", "not well-formed XML"),
        ("not-xml.xml", "not well-formed XML"),
        (
            "invalid-severity.xml",
            "not valid CAP 1.2: line 13: Element '{urn:oasis:names:tc:emergency:cap:1.2}severity'",
        ),
        ("missing-msgtype.xml", "msgType"),
        ("external-entity.xml", "a DTD (<!DOCTYPE ...>) is not accepted"),
        ("external-dtd.xml", "a DTD (<!DOCTYPE ...>) is not accepted"),
        ("billion-laughs.xml", "a DTD (<!DOCTYPE ...>) is not accepted"),
        (
            "wrong-namespace.xml",
            "not a CAP 1.2 alert: the root element is 'alert' in namespace 'urn:example:not-cap'",
        ),
        ("cap-1.1.xml", "CAP 1.1 is not accepted"),
    ],
)
def test_hostile_or_wrong_xml_is_refused_naming_the_problem(name: str, problem: str) -> None:
    with pytest.raises(CapRefused) as refused:
        parse((HOSTILE / name).read_bytes())
    assert problem in str(refused.value)


def test_no_entity_is_ever_expanded_nor_a_file_read() -> None:
    for name in ("external-entity.xml", "billion-laughs.xml"):
        with pytest.raises(CapRefused) as refused:
            parse((HOSTILE / name).read_bytes())
        assert "root:" not in str(refused.value)  # /etc/passwd's first line
        assert "lollol" not in str(refused.value)


def test_a_dtd_in_utf_16_is_refused_too() -> None:
    text = (HOSTILE / "external-entity.xml").read_text(encoding="utf-8")
    data = text.replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")
    with pytest.raises(CapRefused) as refused:
        parse(data)
    assert "a DTD (<!DOCTYPE ...>) is not accepted" in str(refused.value)


def test_a_message_over_the_limit_is_refused_before_it_is_parsed() -> None:
    padding = b"x" * (MAX_MESSAGE_BYTES + 1)
    with pytest.raises(CapRefused) as refused:
        parse(
            partner("evacuation-order.xml").replace(b"Mavivi</areaDesc>", padding + b"</areaDesc>")
        )
    assert f"at most {MAX_MESSAGE_BYTES}" in str(refused.value)


def test_a_weather_warning_in_two_languages_with_polygons() -> None:
    message = parse(partner("weather-flood-warning.xml"))
    assert (message.identifier, message.sender) == (
        "CD-METTELSAT-2026-11-23-0042",
        "alerts@mettelsat.example.cd",
    )
    assert message.sent == datetime(2026, 11, 23, 5, 0, tzinfo=UTC)
    assert (message.msg_type, message.scope) == ("Alert", "Public")
    assert [i.language for i in message.infos] == ["fr-CD", "en-US"]
    french = message.infos[0]
    assert (french.urgency, french.severity, french.certainty) == ("Expected", "Severe", "Likely")
    assert french.categories == ("Met",)
    assert french.headline == "Alerte crue : Semliki, territoire de Beni"
    assert french.instruction == "Éloignez-vous des berges et préparez une évacuation."
    [area] = french.areas
    assert area.polygons == ("0.40,29.40 0.60,29.40 0.60,29.60 0.40,29.60 0.40,29.40",)
    assert area.geocodes == (("ADM2", "CD-NK-BENI"),)


def test_an_update_and_a_cancel_reference_what_they_change() -> None:
    order = parse(partner("evacuation-order.xml"))
    update = parse(partner("evacuation-update.xml"))
    cancel = parse(partner("evacuation-cancel.xml"))
    first = Reference(order.sender, order.identifier, order.sent)
    assert update.msg_type == "Update"
    assert update.references == (first,)
    assert cancel.msg_type == "Cancel"
    assert cancel.references == (first, Reference(update.sender, update.identifier, update.sent))
    assert cancel.infos == ()
    assert cancel.note == "Calm restored; residents may return."


def test_a_child_abduction_alert() -> None:
    message = parse(partner("child-abduction.xml"))
    [info] = message.infos
    assert info.categories == ("Rescue",)
    assert info.event_codes == (("SAME", "CAE"),)
    assert info.areas[0].circles == ("0.70,29.52 5",)


@pytest.mark.parametrize("path", sorted(PARTNERS.glob("*.xml")), ids=lambda p: p.name)
def test_what_is_read_is_written_back_the_same(path: Path) -> None:
    message = parse(path.read_bytes())
    assert parse(to_xml(message)) == message


def test_coord_s_own_export_reads_back_as_written() -> None:
    view = AlertView.model_validate(AlertView.example() | {"description": "Seen at dawn"})
    written = cap_message(view, CapProfile())
    assert parse(to_xml(written)) == written
