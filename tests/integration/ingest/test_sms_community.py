"""A focal point's SMS raises a community alert; an unknown number's waits in triage.

Through ingest's SMS route and the real router (pumped in-process), on both backends:
a registered community contact's text becomes exactly one alert of their sector, its
source sealed, answered with a receipt in their language; Kannel calling again for the
same SMS raises nothing more. An unknown number's text is held for a CLA (the number
sealed), its reply keywords are refused as before; a CLA promotes or dismisses it once.
Nothing on the log, the view or the API shows a focal point's name or number.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from uuid import UUID

import pytest
import yaml
from sqlalchemy import select

from services.ingest.alerts.tables import AlertViewRecord
from services.ingest.deps import ApiContext
from services.ingest.sms.routes import INBOUND_PATH
from services.ingest.sms.tables import TriageRecord
from services.ingest.sms.triage import Promotion, TriageClosed, dismiss, promote, triage_items
from services.ingest.sms.wording import HELD_FOR_TRIAGE, UNKNOWN_SENDER
from services.router.tables import EventRecord
from shared.auth import mint_token
from shared.community_contacts import community_reference
from shared.contracts import ALERT_RAISED, SMS_RECEIVED, SMS_TRIAGED
from shared.contracts.alerts import Category, Severity
from shared.directory import Directory
from shared.source_protection import SourceKeyRing
from tests.support.database import Database
from tests.support.directories import EXAMPLE_DIRECTORY, focal_point, with_focal_points
from tests.support.ingest_client import IngestClient, ingest_client, service_context

pytestmark = pytest.mark.integration

JWT_SECRET = "sms-community-jwt-secret-" + "0123456789abcdef" * 3
SMS_SECRET = "sms-community-inbound-secret-0123456789abcdef0123"  # noqa: S105
SOURCE_KEYS = "k-community:" + base64.urlsafe_b64encode(bytes(range(32))).decode()
KEYS = SourceKeyRing.parse(SOURCE_KEYS)

FOCAL_NAME = "Kavira Masika"
FOCAL_PHONE = "+243990000444"  # can.mavivi, French
EN_FOCAL_PHONE = "+243990000555"  # can.oicha, English
STRANGER = "+243990000999"


def community_directory() -> Directory:
    """The reference directory with two focal points in beni, sealed as when stored."""
    return with_focal_points(
        yaml.safe_load(EXAMPLE_DIRECTORY.read_text(encoding="utf-8")),
        KEYS,
        focal_point("can.mavivi", FOCAL_NAME, "+243 990 000 444", "Mavivi"),
        focal_point("can.oicha", "Paluku Kasereka", EN_FOCAL_PHONE, "Oicha", "en"),
    )


DIRECTORY = community_directory()


def secret_forms(phone: str) -> tuple[str, ...]:
    """A number as it may be written: none of these may show anywhere."""
    national = phone.removeprefix("+243")
    return (phone, national, f"0{national}", f"{national[:3]} {national[3:6]}")


@pytest.fixture
async def client(db: Database) -> AsyncIterator[IngestClient]:
    async with ingest_client(
        db,
        JWT_SECRET,
        directory=DIRECTORY,
        router=True,
        sms_kannel_url="http://127.0.0.1:9/cgi-bin/sendsms",
        sms_inbound_secret=SMS_SECRET,
        sms_default_region="CD",
        source_keys=SOURCE_KEYS,
    ) as client:
        yield client


@pytest.fixture
def context(db: Database) -> ApiContext:
    """What the triage services are called with (as the routes would)."""
    return service_context(db, DIRECTORY, KEYS, JWT_SECRET)


def bearer(person_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(person_id, JWT_SECRET)}"}


async def sms(client: IngestClient, sender: str, text: str, gateway_id: str = "kannel-1") -> str:
    query = {"secret": SMS_SECRET, "from": sender, "to": "+243990000000", "text": text}
    query |= {"id": gateway_id, "ts": "1796599247"}
    response = await client.get(INBOUND_PATH, params=query)
    assert response.status_code == 200, response.text
    return response.text


async def logged(client: IngestClient, db: Database, type_: str) -> list[EventRecord]:
    await client.pump.settle()
    async with db.sessions() as session:
        rows = await session.scalars(
            select(EventRecord).where(EventRecord.type == type_).order_by(EventRecord.seq)
        )
        return list(rows.all())


async def views(db: Database) -> list[AlertViewRecord]:
    async with db.sessions() as session:
        return list((await session.scalars(select(AlertViewRecord))).all())


async def triaged(db: Database) -> list[TriageRecord]:
    async with db.sessions() as session:
        return list((await session.scalars(select(TriageRecord))).all())


def row_json(row: object) -> str:
    columns = row.__table__.columns  # type: ignore[attr-defined]
    return json.dumps({c.name: getattr(row, c.name) for c in columns}, default=str)


# --------------------------------------------------------------------------- focal points


async def test_a_focal_points_sms_raises_one_community_alert_and_a_receipt(
    client: IngestClient, db: Database
) -> None:
    answer = await sms(client, "0990000444", "ALERTE hommes armés vus près de l'école")
    await client.pump.settle()

    [view] = await views(db)
    reference = community_reference(UUID(view.alert_id))
    assert answer == (  # in GSM-7: "reçu" loses its cedilla
        f"COORD: la mission a bien recu votre alerte. Référence {reference}. Merci."
    )
    assert (view.origin, view.sector, view.reporter) == ("community", "beni", "can.mavivi")
    assert view.title == "Mavivi: hommes armés vus près de l'école"
    assert view.description == "hommes armés vus près de l'école"
    assert (view.classification, view.raised_by) == ("confidential", "community-sms")
    assert view.receipt_at is not None
    assert view.feedback_at is None

    # The raised event carries the source sealed, and the contact's id as reporter.
    [raised] = client.pump.staged(ALERT_RAISED)
    assert raised.payload["reporter"] == "can.mavivi"
    assert set(raised.payload["source"]) >= {"kid", "nonce", "ciphertext"}
    for text in (raised.model_dump_json(), row_json(view)):
        assert FOCAL_NAME not in text
        assert not any(form in text for form in secret_forms(FOCAL_PHONE))

    # The API shows the reporter's id, and never their name or number (even to a reader
    # cleared strictly confidential).
    for reader in ("awa.hfo", "jo.operator"):
        response = await client.get(f"/v1/alerts/{view.alert_id}", headers=bearer(reader))
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["reporter"], body["origin"]) == ("can.mavivi", "community")
        assert body["receipt_at"] is not None
        assert FOCAL_NAME not in response.text
        assert not any(form in response.text for form in secret_forms(FOCAL_PHONE))

    [entry] = await logged(client, db, SMS_RECEIVED)
    assert entry.payload["outcome"] == "community_alert"
    assert entry.payload["contact_id"] == "can.mavivi"
    assert entry.payload["alert_id"] == view.alert_id
    assert entry.payload["person_id"] is None
    assert entry.payload["gateway_id"] == "kannel-1"
    assert not any(form in json.dumps(entry.payload) for form in secret_forms(FOCAL_PHONE))


async def test_the_receipt_is_in_the_contacts_language(client: IngestClient, db: Database) -> None:
    answer = await sms(client, EN_FOCAL_PHONE, "alert: houses burning in Oicha")
    [view] = await views(db)
    reference = community_reference(UUID(view.alert_id))
    assert answer == f"COORD: the mission received your alert. Reference {reference}. Thank you."
    assert (view.reporter, view.title) == ("can.oicha", "Oicha: houses burning in Oicha")


async def test_kannel_calling_again_for_the_same_sms_raises_nothing_more(
    client: IngestClient, db: Database
) -> None:
    first = await sms(client, FOCAL_PHONE, "ALERTE coups de feu", gateway_id="kannel-7")
    again = await sms(client, FOCAL_PHONE, "ALERTE coups de feu", gateway_id="kannel-7")
    assert again == first  # the same reference: the reporter may quote either
    assert len(await views(db)) == 1
    assert len(await logged(client, db, SMS_RECEIVED)) == 1
    assert len(client.pump.staged(ALERT_RAISED)) == 1
    # Another SMS (another id) is another alert.
    other = await sms(client, FOCAL_PHONE, "ALERTE coups de feu", gateway_id="kannel-8")
    assert other != first
    assert len(await views(db)) == 2


# --------------------------------------------------------------------------- unknown numbers


async def test_an_unknown_numbers_text_waits_in_triage_its_sender_sealed(
    client: IngestClient, db: Database, context: ApiContext
) -> None:
    answer = await sms(client, "0990000999", "il y a des hommes armés à Mamove")
    assert answer == HELD_FOR_TRIAGE
    assert await views(db) == []
    assert client.pump.staged(ALERT_RAISED) == []

    [row] = await triaged(db)
    assert (row.status, row.gateway_id) == ("open", "kannel-1")
    assert row.text == "il y a des hommes armés à Mamove"
    assert set(row.sender) >= {"kid", "nonce", "ciphertext"}
    assert not any(form in row_json(row) for form in secret_forms(STRANGER))

    [entry] = await logged(client, db, SMS_RECEIVED)
    assert entry.payload["outcome"] == "triaged"
    assert entry.payload["triage_id"] == row.triage_id
    assert entry.payload["person_id"] is None
    assert "Mamove" not in json.dumps(entry.payload)  # the text stays in triage
    assert not any(form in json.dumps(entry.payload) for form in secret_forms(STRANGER))

    # A CLA sees the number (E.164) and how often it wrote.
    await sms(client, STRANGER, "encore des hommes armés", gateway_id="kannel-2")
    await sms(client, STRANGER, "encore des hommes armés", gateway_id="kannel-2")  # retried
    items = await triage_items(context)
    assert [(i.sender, i.from_sender) for i in items] == [(STRANGER, 2), (STRANGER, 2)]


async def test_an_unknown_numbers_reply_keyword_is_refused_not_triaged(
    client: IngestClient, db: Database
) -> None:
    assert await sms(client, STRANGER, "ACK 1234") == UNKNOWN_SENDER
    assert await triaged(db) == []
    [entry] = await logged(client, db, SMS_RECEIVED)
    assert entry.payload["outcome"] == "unknown_sender"


async def test_a_cla_promotes_an_sms_once(
    client: IngestClient, db: Database, context: ApiContext
) -> None:
    await sms(client, STRANGER, "ALERTE maisons brûlées à Mamove")
    [row] = await triaged(db)
    triage_id = UUID(row.triage_id)
    cla = DIRECTORY.person("amani.cla")
    assert cla is not None

    elsewhere = Promotion(
        sector="north", category=Category.OTHER, severity=Severity.MODERATE, location="Mamove"
    )
    with pytest.raises(ValueError, match=r"amani\.cla does not cover sector north"):
        await promote(context, cla, triage_id, elsewhere)
    assert [r.status for r in await triaged(db)] == ["open"]

    promotion = Promotion(
        sector="beni",
        category=Category.ATTACK_ON_CIVILIANS,
        severity=Severity.SEVERE,
        location="Mamove",
    )
    alert_id = await promote(context, cla, triage_id, promotion)
    with pytest.raises(TriageClosed, match=r"already promoted by amani\.cla"):
        await promote(context, cla, triage_id, promotion)
    with pytest.raises(TriageClosed):
        await dismiss(context, cla, triage_id, "spam")

    [row] = await triaged(db)
    assert (row.status, row.decided_by, row.alert_id) == ("promoted", "amani.cla", str(alert_id))
    await client.pump.settle()
    [view] = await views(db)
    assert view.alert_id == str(alert_id)
    assert (view.origin, view.sector, view.raised_by) == ("community", "beni", "amani.cla")
    assert view.title == "Mamove: maisons brûlées à Mamove"
    [raised] = client.pump.staged(ALERT_RAISED)
    assert set(raised.payload["source"]) >= {"kid", "nonce", "ciphertext"}
    assert not any(form in raised.model_dump_json() for form in secret_forms(STRANGER))

    [decided] = await logged(client, db, SMS_TRIAGED)
    assert decided.actor == "amani.cla"
    assert decided.payload["outcome"] == "promoted"
    assert decided.payload["alert_id"] == str(alert_id)
    assert decided.payload["triage_id"] == str(triage_id)


async def test_a_cla_dismisses_an_sms_with_a_reason(
    client: IngestClient, db: Database, context: ApiContext
) -> None:
    await sms(client, STRANGER, "gagnez 1000 dollars")
    [row] = await triaged(db)
    cla = DIRECTORY.person("amani.cla")
    assert cla is not None
    with pytest.raises(ValueError, match="say why"):
        await dismiss(context, cla, UUID(row.triage_id), "   ")

    await dismiss(context, cla, UUID(row.triage_id), "  spam,\n  not an alert ")
    [row] = await triaged(db)
    assert (row.status, row.decided_by, row.reason) == (
        "dismissed",
        "amani.cla",
        "spam, not an alert",
    )
    assert await views(db) == []
    [decided] = await logged(client, db, SMS_TRIAGED)
    assert decided.payload["outcome"] == "dismissed"
    assert decided.payload["reason"] == "spam, not an alert"
    assert decided.payload["alert_id"] is None
    text = json.dumps(decided.payload)
    assert "dollars" not in text
    assert not any(form in text for form in secret_forms(STRANGER))
    with pytest.raises(TriageClosed, match="already dismissed"):
        await dismiss(context, cla, UUID(row.triage_id), "spam")


async def test_deciding_on_an_sms_not_in_triage_is_refused(context: ApiContext) -> None:
    cla = DIRECTORY.person("amani.cla")
    assert cla is not None
    with pytest.raises(TriageClosed, match="no SMS"):
        await dismiss(context, cla, UUID(int=7), "spam")
