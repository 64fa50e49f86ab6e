"""Community contacts: sealed at rest, found by number (any form, across a key rotation),
refused when malformed without the number in the error; the report's words and reference."""

from __future__ import annotations

import base64
import json
from typing import Any
from uuid import UUID, uuid4

import pytest
import yaml
from pydantic import ValidationError

from services.ingest.sms.community import report_text
from shared.community_contacts import (
    CommunityContact,
    community_reference,
    contact_with_phone,
    opened,
    seal_contact,
    seal_contacts,
)
from shared.directory import Directory
from shared.source_protection import SourceKeyRing, SourceNotAuthentic, UnknownSourceKey
from tests.support.directories import EXAMPLE_DIRECTORY

K1 = "k1:" + base64.urlsafe_b64encode(bytes(range(32))).decode()
K2 = "k2:" + base64.urlsafe_b64encode(bytes(range(100, 132))).decode()
NAME = "Kahindo Mbusa"
PHONE = "+243990000111"
# The number as it may be written: what must never appear in anything sealed.
PHONE_FORMS = ("+243990000111", "+243 990 000 111", "990000111", "0990000111")


def contact(**overrides: Any) -> CommunityContact:
    fields: dict[str, Any] = {
        "id": "can.mavivi",
        "location": "Mavivi",
        "sector": "beni",
        "language": "fr",
        "name": NAME,
        "phone": "+243 990 000 111",
    }
    fields.update(overrides)
    return CommunityContact.model_validate({k: v for k, v in fields.items() if v is not None})


def directory_with(*contacts: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(EXAMPLE_DIRECTORY.read_text(encoding="utf-8"))
    data["community_contacts"] = list(contacts)
    return data


def shows_nothing_of_the_contact(text: str) -> bool:
    return NAME not in text and not any(form in text for form in PHONE_FORMS)


# --------------------------------------------------------------------------- sealing


def test_sealing_hides_the_name_and_phone_and_the_ring_opens_them() -> None:
    keys = SourceKeyRing.parse(K1)
    sealed = seal_contact(contact(), keys)

    assert sealed.is_sealed
    assert (sealed.name, sealed.phone) == (None, None)
    assert sealed.sealed is not None
    assert sealed.phone_digest is not None
    assert (sealed.id, sealed.location, sealed.sector, sealed.language) == (
        "can.mavivi",
        "Mavivi",
        "beni",
        "fr",
    )
    assert shows_nothing_of_the_contact(sealed.model_dump_json())
    source = opened(sealed, keys)
    assert (source.name, source.contact) == (NAME, PHONE)  # the phone opens as E.164
    assert seal_contact(sealed, keys) == sealed  # sealing twice changes nothing


def test_a_directorys_content_holds_its_contacts_sealed_only() -> None:
    keys = SourceKeyRing.parse(K1)
    plain = Directory.model_validate(directory_with(contact().model_dump(exclude_none=True)))
    assert not shows_nothing_of_the_contact(json.dumps(plain.content()))  # the file's form

    sealed = plain.with_sealed_contacts(keys)
    content = json.dumps(sealed.content())
    assert shows_nothing_of_the_contact(content)
    # What is stored reads back, and still opens.
    stored = Directory.model_validate(json.loads(content))
    [back] = stored.community_contacts
    assert back.is_sealed
    assert opened(back, keys).contact == PHONE


def test_a_seal_copied_onto_another_contact_id_does_not_open() -> None:
    keys = SourceKeyRing.parse(K1)
    sealed = seal_contact(contact(), keys)
    moved = sealed.model_copy(update={"id": "can.oicha"})
    with pytest.raises(SourceNotAuthentic):
        opened(moved, keys)


def test_a_seal_under_a_retired_key_does_not_open() -> None:
    sealed = seal_contact(contact(), SourceKeyRing.parse(K1))
    with pytest.raises(UnknownSourceKey):
        opened(sealed, SourceKeyRing.parse(K2))


# --------------------------------------------------------------------------- lookup by number


@pytest.mark.parametrize(
    ("number", "region"),
    [
        pytest.param("+243990000111", None, id="e164"),
        pytest.param("+243 990 000 111", None, id="spaced"),
        pytest.param("00243990000111", "CD", id="international-prefix"),
        pytest.param("0990000111", "CD", id="national-in-cd"),
    ],
)
@pytest.mark.parametrize("sealed", [True, False], ids=["sealed", "plaintext"])
def test_a_contact_is_found_by_its_number_in_any_written_form(
    number: str, region: str | None, *, sealed: bool
) -> None:
    keys = SourceKeyRing.parse(K1)
    others = [contact(id="can.oicha", phone="+243990000222")]
    wanted = seal_contact(contact(), keys) if sealed else contact()
    contacts = [*(seal_contacts(others, keys) if sealed else others), wanted]
    assert contact_with_phone(contacts, number, keys, region) == wanted


@pytest.mark.parametrize(
    "number",
    [
        pytest.param("+243990000999", id="another-number"),
        pytest.param("0990000111", id="national-without-region"),
        pytest.param("not a number", id="junk"),
        pytest.param("", id="empty"),
    ],
)
def test_an_unknown_number_finds_nobody(number: str) -> None:
    keys = SourceKeyRing.parse(K1)
    contacts = [seal_contact(contact(), keys), contact(id="can.oicha", phone="+243990000222")]
    assert contact_with_phone(contacts, number, keys) is None


def test_after_a_key_rotation_contacts_sealed_before_are_found_and_open() -> None:
    before = SourceKeyRing.parse(K1)
    after = SourceKeyRing.parse(f"{K2},{K1}")  # the new key first, the old one kept
    old = seal_contact(contact(), before)
    new = seal_contact(contact(id="can.oicha", phone="+243990000222"), after)
    assert (old.sealed and old.sealed.kid, new.sealed and new.sealed.kid) == ("k1", "k2")

    contacts = [new, old]
    assert contact_with_phone(contacts, PHONE, after) == old
    assert contact_with_phone(contacts, "+243990000222", after) == new
    assert opened(old, after).contact == PHONE
    # Without the old key, what it sealed is gone (crypto-shredded): not found by number.
    assert contact_with_phone(contacts, PHONE, SourceKeyRing.parse(K2)) is None


# --------------------------------------------------------------------------- refused


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"name": None, "phone": None}, id="neither"),
        pytest.param({"name": None}, id="phone-without-name"),
        pytest.param({"phone": None}, id="name-without-phone"),
        pytest.param({"phone_digest": "0" * 64}, id="plaintext-and-digest"),
        pytest.param({"name": None, "phone": None, "phone_digest": "0" * 64}, id="digest-only"),
    ],
)
def test_a_contact_is_plaintext_or_sealed_never_both_nor_neither(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="community contact"):
        contact(**fields)


def test_a_contact_both_plaintext_and_sealed_is_refused() -> None:
    keys = SourceKeyRing.parse(K1)
    sealed = seal_contact(contact(), keys)
    both = {**sealed.model_dump(mode="json", exclude_none=True), "name": NAME, "phone": PHONE}
    with pytest.raises(ValidationError, match="not both or neither"):
        CommunityContact.model_validate(both)


@pytest.mark.parametrize(
    "phone",
    [
        pytest.param("0990000111", id="no-country-code"),
        pytest.param("+243 12", id="too-short"),
        pytest.param("+243 990 000 111 555", id="too-long"),
    ],
)
def test_a_bad_phone_is_refused_without_the_number_in_the_error(phone: str) -> None:
    with pytest.raises(ValidationError) as raised:
        contact(phone=phone)
    text = str(raised.value)
    assert "phone is not a number with its country code" in text
    assert phone not in text
    assert phone.replace(" ", "") not in text
    assert NAME not in text
    # Nor in a directory check's message (what `coord directory check` prints).
    with pytest.raises(ValidationError) as in_directory:
        Directory.model_validate(
            directory_with(
                {"id": "x", "location": "y", "sector": "beni", "name": NAME, "phone": phone}
            )
        )
    messages = " ".join(str(e["msg"]) for e in in_directory.value.errors())
    assert "phone is not a number" in messages
    assert phone not in messages


def test_a_missing_name_is_refused_without_the_number_in_the_error() -> None:
    with pytest.raises(ValidationError) as raised:
        CommunityContact.model_validate(
            {"id": "can.mavivi", "location": "Mavivi", "sector": "beni", "phone": PHONE}
        )
    assert "needs both a name and a phone" in str(raised.value)
    assert PHONE not in str(raised.value)


def test_the_directory_refuses_duplicate_contact_ids_and_unknown_sectors() -> None:
    first = contact().model_dump(exclude_none=True)
    again = contact(phone="+243990000222").model_dump(exclude_none=True)
    elsewhere = contact(id="can.goma", sector="goma").model_dump(exclude_none=True)
    with pytest.raises(ValidationError) as raised:
        Directory.model_validate(directory_with(first, again, elsewhere))
    text = str(raised.value)
    assert "community_contacts[1].id: duplicate contact id 'can.mavivi'" in text
    assert (
        "community_contacts[2].sector: community contact 'can.goma' is in unknown sector 'goma'"
    ) in text
    # One of each is fine.
    ok = Directory.model_validate(directory_with(first, contact(id="can.oicha").model_dump()))
    assert [c.id for c in ok.community_contacts] == ["can.mavivi", "can.oicha"]
    assert ok.community_contact("can.oicha") is not None
    assert ok.community_contact("can.goma") is None


# --------------------------------------------------------------------------- the report


@pytest.mark.parametrize(
    ("text", "words"),
    [
        pytest.param("ALERTE hommes armés à Mavivi", "hommes armés à Mavivi", id="alerte"),
        pytest.param("alert: armed men near the school", "armed men near the school", id="alert"),
        pytest.param("Alerte.  maisons   brûlées", "maisons brûlées", id="dot-and-spaces"),
        pytest.param("  ALERTE - 3 enlevés", "3 enlevés", id="dash"),
        pytest.param("alertes partout", "alertes partout", id="not-the-keyword"),
        pytest.param("des hommes armés, ALERTE", "des hommes armés, ALERTE", id="not-leading"),
        pytest.param("ALERTE ALERTE feu", "ALERTE feu", id="only-the-first"),
        pytest.param("ALERTE", "", id="keyword-only"),
        pytest.param("coups de feu\nà Oicha", "coups de feu à Oicha", id="no-keyword"),
    ],
)
def test_the_report_is_the_text_without_its_keyword(text: str, words: str) -> None:
    assert report_text(text) == words


def test_the_reference_is_six_characters_stable_for_the_alert() -> None:
    alert_id = UUID("1b4e28ba-2fa1-11d2-883f-0016d3cca427")
    assert community_reference(alert_id) == "1B4E28"
    assert community_reference(alert_id) == community_reference(UUID(str(alert_id)))
    references = {community_reference(uuid4()) for _ in range(50)}
    assert all(len(r) == 6 and r.isalnum() and r == r.upper() for r in references)
    assert len(references) > 1
