"""The community loop on the board: SMS triage, feedback to a reporter, the report's columns.

Ingest's app in-process on both backends, without a router (as test_board_pages.py): a
command posted from a page is staged and read back from the outbox; the views are put
into a state through the projections. The directory is the demo one with a French focal
point in beni, sealed as when stored.

- ``/board/triage`` is for community liaison assistants only (403 for anyone else, and
  no menu link); a CLA promotes an open SMS to a community alert of a sector they cover,
  once; a dismissal without a reason is shown again with its error and changes nothing.
- On an alert a focal point reported, acknowledging or resolving offers a message to
  them: "do not send anything" by default, set phrases in THEIR language, or one's own
  words; what was chosen is the command's ``community_message``, and nothing else is.
- The page gives the reference the reporter got, never their name or number; its story
  tells the feedback released and delivered; the report counts it.
"""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import select

from services.ingest.alerts.tables import AlertViewRecord
from services.ingest.board.community import PHRASES
from services.ingest.deps import ApiContext
from services.ingest.sms.community import raise_from_contact
from services.ingest.sms.tables import TriageRecord
from services.ingest.sms.triage import hold_for_triage, triage_items
from services.ingest.tables import OUTBOX
from shared.community_contacts import community_reference
from shared.contracts import NOTIFICATION_DELIVERED, NOTIFICATION_REQUESTED
from shared.directory import Directory, load_directory
from shared.envelope import Envelope
from shared.source_protection import SourceKeyRing
from tests.support.board_client import apply, set_state, visitor_of
from tests.support.database import Database
from tests.support.directories import DEMO_DIRECTORY, focal_point, with_focal_points
from tests.support.ingest_client import IngestClient, ingest_client, service_context
from tests.support.tokens import JWT_SECRET

pytestmark = pytest.mark.integration

SOURCE_KEYS = "k-board:" + base64.urlsafe_b64encode(bytes(range(32, 64))).decode()
KEYS = SourceKeyRing.parse(SOURCE_KEYS)
FOCAL_NAME = "Kavira Masika"
FOCAL_PHONE = "+243990000444"
STRANGER = "+243990000999"


def community_directory() -> Directory:
    """The demo directory plus a French focal point in Mavivi (beni), sealed."""
    return with_focal_points(
        load_directory(DEMO_DIRECTORY).content(),
        KEYS,
        focal_point("can.mavivi", FOCAL_NAME, FOCAL_PHONE, "Mavivi"),
    )


DIRECTORY = community_directory()


@pytest.fixture
async def client(db: Database) -> AsyncIterator[IngestClient]:
    async with ingest_client(db, JWT_SECRET, directory=DIRECTORY, source_keys=SOURCE_KEYS) as c:
        yield c


@pytest.fixture
def context(db: Database) -> ApiContext:
    """What the SMS services are called with (as ingest's SMS route would)."""
    return service_context(db, DIRECTORY, KEYS, JWT_SECRET)


async def outbox(db: Database) -> list[Envelope]:
    async with db.sessions() as session:
        rows = (await session.execute(OUTBOX.select().order_by(OUTBOX.c.position))).all()
    return [Envelope.model_validate_json(bytes(r.body)) for r in rows]


async def alerts(db: Database) -> list[AlertViewRecord]:
    async with db.sessions() as session:
        return list((await session.scalars(select(AlertViewRecord))).all())


async def triage_rows(db: Database) -> dict[str, tuple[str, str | None]]:
    """Each SMS in triage: its status and the alert it became."""
    async with db.sessions() as session:
        rows = (await session.scalars(select(TriageRecord))).all()
    return {r.triage_id: (r.status, r.alert_id) for r in rows}


async def held(context: ApiContext, text: str, gateway_id: str) -> str:
    """An SMS from ``STRANGER`` held in triage; its triage id."""
    await hold_for_triage(context, STRANGER, text, gateway_id, "CD")
    [item] = [i for i in await triage_items(context) if i.text == text]
    return item.triage_id


def error_beside(html: str, triage_id: str, field: str) -> bool:
    """The SMS's field is marked invalid, its error shown beside it."""
    invalid = re.search(rf'id="f-{triage_id}-{field}"[^>]*aria-invalid="true"', html)
    return bool(invalid) and f'id="e-{triage_id}-{field}"' in html


PROMOTION = {"sector": "beni", "category": "abduction", "severity": "severe", "location": "Mavivi"}


# --------------------------------------------------------------------------- triage


async def test_a_cla_promotes_an_open_sms_once(
    db: Database, client: IngestClient, context: ApiContext
) -> None:
    triage_id = await held(context, "Hommes armés vus près de Mavivi", "gw-1")
    await held(context, "Ils sont toujours là", "gw-2")  # the same number again
    async with visitor_of(client, "amani.cla") as cla:
        page = await cla.get("/board/triage")
        assert page.status_code == 200, page.text
        assert 'href="/board/triage"' in page.text  # the menu offers it to a CLA
        item = page.text.split(f'data-triage-id="{triage_id}"', 1)[1].split("</li>", 1)[0]
        assert 'data-status="open"' in page.text
        assert STRANGER in item
        assert "Hommes armés vus près de Mavivi" in item
        assert "2 SMS from this number" in item
        # a sector amani.cla does not cover is not offered, and refused if posted
        assert '<option value="north"' not in item
        north = await cla.post(
            f"/board/triage/{triage_id}/promote", {**PROMOTION, "sector": "north"}
        )
        assert north.status_code == 422
        assert error_beside(north.text, triage_id, "sector")
        missing = await cla.post(f"/board/triage/{triage_id}/promote", {"sector": "beni"})
        assert missing.status_code == 422
        for field in ("category", "severity", "location"):
            assert error_beside(missing.text, triage_id, field), field
        assert await alerts(db) == []

        promoted = await cla.post(f"/board/triage/{triage_id}/promote", PROMOTION)
        assert (promoted.status_code, promoted.headers["location"]) == (303, "/board/triage")
        [alert] = await alerts(db)
        assert (alert.origin, alert.sector, alert.category) == ("community", "beni", "abduction")
        assert alert.raised_by == "amani.cla"
        assert (await triage_rows(db))[triage_id] == ("promoted", alert.alert_id)
        after = await cla.get("/board/triage")
        assert "notice-done" in after.text
        decided = after.text.split("<table", 1)[1]
        assert f'data-triage-id="{triage_id}" data-status="promoted"' in decided
        assert f'href="/alerts/{alert.alert_id}"' in decided

        again = await cla.post(f"/board/triage/{triage_id}/promote", PROMOTION)
        assert again.status_code == 303
        assert "notice-refused" in (await cla.get(again.headers["location"])).text
    assert len(await alerts(db)) == 1


async def test_a_dismissal_needs_a_reason(
    db: Database, client: IngestClient, context: ApiContext
) -> None:
    triage_id = await held(context, "Bonjour, test", "gw-3")
    before = len(await outbox(db))
    async with visitor_of(client, "amani.cla") as cla:
        for reason in ("", "   "):
            response = await cla.post(f"/board/triage/{triage_id}/dismiss", {"reason": reason})
            assert response.status_code == 422
            assert error_beside(response.text, triage_id, "reason")
            assert (await triage_rows(db))[triage_id] == ("open", None)
        assert len(await outbox(db)) == before  # no sms.triaged either

        response = await cla.post(f"/board/triage/{triage_id}/dismiss", {"reason": "a test"})
        assert response.status_code == 303
        page = (await cla.get("/board/triage")).text
        assert f'data-triage-id="{triage_id}" data-status="dismissed"' in page
        assert "«a test»" in page
    assert (await triage_rows(db))[triage_id] == ("dismissed", None)


@pytest.mark.parametrize("person_id", ["jo.operator", "awa.hfo", "audit.one"])
async def test_only_a_cla_may_triage(
    db: Database, client: IngestClient, context: ApiContext, person_id: str
) -> None:
    triage_id = await held(context, "Hommes armés", "gw-4")
    before = len(await outbox(db))
    async with visitor_of(client, person_id) as someone:
        page = await someone.get("/board/triage")
        assert page.status_code == 403
        assert STRANGER not in page.text
        assert 'href="/board/triage"' not in (await someone.get("/board")).text
        promoted = await someone.post(f"/board/triage/{triage_id}/promote", PROMOTION)
        dismissed = await someone.post(f"/board/triage/{triage_id}/dismiss", {"reason": "no"})
        assert (promoted.status_code, dismissed.status_code) == (403, 403)
    assert (await triage_rows(db))[triage_id] == ("open", None)
    assert len(await outbox(db)) == before
    assert await alerts(db) == []


# --------------------------------------------------------------------------- feedback


async def reported(context: ApiContext, db: Database, gateway_id: str = "gw-10") -> str:
    """An alert the focal point's SMS raised, paging awa.hfo; its id."""
    [contact] = DIRECTORY.community_contacts
    await raise_from_contact(context, contact, "ALERTE hommes armés à Mavivi", gateway_id)
    [alert_id] = [a.alert_id for a in await alerts(db) if a.reporter == contact.id]
    await set_state(db, alert_id)
    return alert_id


# (the form posted, the community_message staged)
ACKNOWLEDGEMENTS: list[tuple[dict[str, str], str | None]] = [
    ({}, None),  # the default: do not send anything
    ({"community": "", "community_text": "typed, then not chosen"}, None),
    ({"community": "received"}, PHRASES["received"]["fr"]),  # the reporter's language
    (
        {"community": "free", "community_text": "  Une patrouille   arrive. "},
        "Une patrouille arrive.",
    ),
    ({"community": "free", "community_text": "   "}, None),  # blank: nothing
]


@pytest.mark.parametrize(("form", "message"), ACKNOWLEDGEMENTS)
async def test_the_feedback_chosen_on_acknowledging_is_what_is_staged(
    db: Database,
    client: IngestClient,
    context: ApiContext,
    form: dict[str, str],
    message: str | None,
) -> None:
    alert_id = await reported(context, db)
    async with visitor_of(client, "awa.hfo") as awa:
        page = (await awa.get(f"/alerts/{alert_id}")).text
        assert community_reference(UUID(alert_id)) in page
        assert FOCAL_NAME not in page
        assert FOCAL_PHONE.removeprefix("+243") not in page
        assert 'name="community" value="" checked' in page  # nothing sent by default
        assert PHRASES["received"]["fr"] in page  # in the reporter's language, not awa's
        before = len(await outbox(db))
        response = await awa.post(f"/alerts/{alert_id}/acknowledge", form)
        assert response.status_code == 303
    [staged] = (await outbox(db))[before:]
    assert staged.type == "alert.acknowledge"
    assert staged.payload.get("community_message") == message


async def test_resolving_may_release_feedback_and_too_long_is_refused(
    db: Database, client: IngestClient, context: ApiContext
) -> None:
    alert_id = await reported(context, db)
    await set_state(db, alert_id, version=2, status="acknowledged")
    async with visitor_of(client, "jo.operator") as jo:
        before = len(await outbox(db))
        too_long = {"community": "free", "community_text": "x" * 301}
        response = await jo.post(f"/alerts/{alert_id}/resolve", too_long)
        assert response.status_code == 303
        assert "notice-refused" in (await jo.get(response.headers["location"])).text
        assert len(await outbox(db)) == before
        closing = {"note": "Patrol back", "community": "closed"}
        response = await jo.post(f"/alerts/{alert_id}/resolve", closing)
        assert response.status_code == 303
    [staged] = (await outbox(db))[before:]
    assert staged.type == "alert.resolve"
    assert staged.payload["community_message"] == PHRASES["closed"]["fr"]
    assert staged.payload["note"] == "Patrol back"


async def test_an_alert_nobody_reported_by_sms_offers_no_feedback(
    db: Database, client: IngestClient, context: ApiContext
) -> None:
    triage_id = await held(context, "Hommes armés", "gw-5")
    async with visitor_of(client, "amani.cla") as cla:
        await cla.post(f"/board/triage/{triage_id}/promote", PROMOTION)
    [alert] = await alerts(db)
    await set_state(db, alert.alert_id)
    async with visitor_of(client, "awa.hfo") as awa:
        page = (await awa.get(f"/alerts/{alert.alert_id}")).text
        assert 'name="community"' not in page
        assert STRANGER.removeprefix("+243") not in page
        before = len(await outbox(db))
        await awa.post(f"/alerts/{alert.alert_id}/acknowledge", {"community": "received"})
    [staged] = (await outbox(db))[before:]
    assert staged.payload.get("community_message") is None


def _notification(alert_id: str, type_: str, **payload: Any) -> Envelope:
    common = {"subject_type": "alert", "subject_id": alert_id, "person_id": "can.mavivi"}
    return Envelope(
        type=type_,
        schema_version=2,
        producer="router" if type_ == NOTIFICATION_REQUESTED else "notifier",
        actor="awa.hfo" if type_ == NOTIFICATION_REQUESTED else "notifier",
        correlation_id=UUID(alert_id),
        payload={**common, "kind": "community_feedback", **payload},
    )


async def test_the_story_tells_the_feedback_and_the_report_counts_it(
    db: Database, client: IngestClient, context: ApiContext
) -> None:
    alert_id = await reported(context, db)
    said = PHRASES["patrol"]["fr"]
    await apply(db, _notification(alert_id, NOTIFICATION_REQUESTED, message=said))
    await apply(db, _notification(alert_id, NOTIFICATION_DELIVERED, channel="community_sms"))
    async with visitor_of(client, "awa.hfo") as awa:
        page = (await awa.get(f"/alerts/{alert_id}")).text
        assert f"Feedback released to the community by Awa Ndiaye: «{said}»" in page
        assert "Feedback delivered to the community by SMS." in page
        assert "can.mavivi" not in page  # not even the contact's id
        assert FOCAL_NAME not in page

        report = await awa.get("/reports")
        assert report.status_code == 200
        beni = report.text.split('<tr data-sector="beni">', 1)[1].split("</tr>", 1)[0]
        assert '<td data-column="community">1</td>' in beni
        assert '<td data-column="receipt">100 %</td>' in beni
        assert '<td data-column="feedback">100 %</td>' in beni

        await awa.get("/language/fr")
        french = (await awa.get(f"/alerts/{alert_id}")).text
        assert "Retour diffusé à la communauté par Awa Ndiaye" in french
