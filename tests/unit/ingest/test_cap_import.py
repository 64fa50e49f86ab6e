"""A partner's CAP message read as coord alerts (services/ingest/alerts/cap_import.py):
the info blocks taken, the category read, the sector placed, the incident keyed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.ingest.alerts.cap_import import (
    Unplaced,
    alerts_from,
    category_of,
    incident_key,
    infos_in,
    sector_of,
)
from services.ingest.cap.message import Area, CapMessage, Info, Reference
from shared.contracts.alerts import Category
from shared.directory import Directory, load_directory
from tests.support.directories import DEMO_DIRECTORY

SENT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def info(**fields: Any) -> Info:
    base: dict[str, Any] = {
        "language": "fr",
        "categories": ("Safety",),
        "event": "Incident",
        "urgency": "Immediate",
        "severity": "Severe",
        "certainty": "Observed",
        "headline": "Incident à Mavivi",
        "areas": (Area("Mavivi", circles=("0.55,29.47 2",)),),
    }
    return Info(**(base | fields))


def message(*infos: Info, **fields: Any) -> CapMessage:
    base: dict[str, Any] = {
        "identifier": "P-1",
        "sender": "ops@partner.example",
        "sent": SENT,
        "status": "Actual",
        "msg_type": "Alert",
        "scope": "Public",
        "infos": infos,
    }
    return CapMessage(**(base | fields))


@pytest.fixture(scope="module")
def directory() -> Directory:
    return load_directory(DEMO_DIRECTORY)


@pytest.mark.parametrize(
    ("languages", "mission", "taken"),
    [
        (("fr-CD", "en-US"), "fr", ["fr-CD"]),
        (("fr-CD", "en-US"), "en", ["en-US"]),
        (("fr-CD", "en-US"), "sw", ["fr-CD"]),  # none in Swahili: the first
        (("EN", "fr"), "en-GB", ["EN"]),
        (("fr", "fr-BE"), "fr", ["fr", "fr-BE"]),  # both French: an alert each
    ],
)
def test_the_blocks_in_the_mission_s_language_else_the_first(
    languages: tuple[str, ...], mission: str, taken: list[str]
) -> None:
    blocks = [info(language=language) for language in languages]
    assert [i.language for i in infos_in(message(*blocks), mission)] == taken


@pytest.mark.parametrize(
    ("event", "codes", "category"),
    [
        ("Enlèvement d'enfant", (), Category.ABDUCTION),
        ("Amber alert", (("SAME", "CAE"),), Category.ABDUCTION),
        ("Kidnapping of aid workers", (), Category.ABDUCTION),
        ("Ordre d'évacuation", (), Category.DISPLACEMENT),
        ("Pillage du marché", (), Category.LOOTING),
        ("Mouvement de groupe armé", (), Category.ARMED_GROUP_MOVEMENT),
        ("Attaque contre des civils", (), Category.ATTACK_ON_CIVILIANS),
        ("Menace d'attaque", (), Category.THREAT_OF_ATTACK),
        ("Violences sexuelles", (), Category.SEXUAL_VIOLENCE),
        ("Flash flood", (), Category.OTHER),
        ("Anything", (("coord:category", "looting"),), Category.LOOTING),  # coord's own code
        ("Anything", (("coord:category", "nonsense"),), Category.OTHER),
    ],
)
def test_the_category_from_coord_s_code_else_the_event_s_words(
    event: str, codes: tuple[tuple[str, str], ...], category: Category
) -> None:
    assert category_of(info(event=event, event_codes=codes)) is category


@pytest.mark.parametrize(
    ("area", "sector"),
    [
        (Area("Anywhere", geocodes=(("coord:sector", "south"),)), "south"),  # coord's own first
        (Area("TERRITOIRE DE BENI"), "beni"),  # cap_areas names, without case
        (Area("Somewhere", geocodes=(("ADM2", "CD-NK-BENI"),)), "beni"),  # cap_areas geocodes
        (Area("Oicha", circles=("0.70,29.52 5",)), "north"),  # the circle's centre
        (Area("Box", polygons=("0.1,29.4 0.2,29.4 0.2,29.5 0.1,29.5 0.1,29.4",)), "south"),
        (Area("Kinshasa", circles=("-4.32,15.31 10",)), None),  # outside every outline
        (Area("Nowhere"), None),
    ],
)
def test_the_sector_of_an_area(area: Area, sector: str | None, directory: Directory) -> None:
    assert sector_of(area, directory) == sector


def test_an_area_no_sector_matches_is_unplaced_naming_it(directory: Directory) -> None:
    unplaced = message(info(areas=(Area("Kinshasa", circles=("-4.32,15.31 10",)),)))
    with pytest.raises(Unplaced) as refused:
        alerts_from(unplaced, directory, "fr")
    assert "'Kinshasa'" in str(refused.value)


@pytest.mark.parametrize(
    ("fields", "key"),
    [
        ({}, "cap:ops@partner.example:P-1"),
        ({"incidents": "INC-7"}, "cap:ops@partner.example:INC-7"),
        (
            {"references": (Reference("first@partner.example", "P-0", SENT),)},
            "cap:first@partner.example:P-0",
        ),
    ],
)
def test_the_incident_an_alert_or_update_is_about(fields: dict[str, Any], key: str) -> None:
    assert incident_key(message(info(), **fields)) == key


def test_an_alert_from_a_partner(directory: Directory) -> None:
    [imported] = alerts_from(
        message(info(description="Des tirs.", instruction="Restez chez vous.")), directory, "fr"
    )
    alert = imported.alert
    assert (alert.title, alert.origin.value, alert.sector) == (
        "Incident à Mavivi",
        "partner",
        "beni",
    )
    assert alert.description == "[CAP Safety: Incident]\n\nDes tirs.\n\nRestez chez vous."
    assert (alert.location.lat, alert.location.lon) == (0.55, 29.47)
    assert alert.classification.value == "unclassified"  # Public
    assert alert.dedup_key == "cap:ops@partner.example:P-1"
    [restricted] = alerts_from(message(info(), scope="Restricted"), directory, "fr")
    assert restricted.alert.classification.value == "confidential"
