"""End-to-end: an officer paged by SMS, and acting on the alert by replying from her phone.

The three services run as separate processes with a real Kannel (bearerbox, smsbox and
the fake SMS centre ``fakesmsc``, which plays the phones). What the officers and the
JOC rely on:

- a page reaches Awa's phone as one plain SMS (GSM 7-bit, one part) in French, naming
  the alert's code and how to reply, and nothing of the alert's source; the alert's
  deliveries show it delivered once the SMS centre's delivery report came back;
- her reply ``ACC <code>`` acknowledges the alert as her, and she is answered that it
  was, in French;
- a number the directory does not know is told so, and nothing is done;
- every SMS received is on the event log for auditors, naming the person, never the
  number (nor does any service's own log name it);
- the community loop: a village focal point's SMS raises a community alert and she gets
  a receipt with a reference; Awa, paged by SMS, acknowledges by reply; the message she
  chooses for the community when she resolves it reaches the focal point; an unknown
  number's report waits in triage. Neither the focal point's name nor her number shows
  on the log, in an alert, or in any service's own log;
- in a real browser (Debian's Chromium): the CLA promotes an unknown number's report from
  the board's triage to an alert; Awa, acknowledging a focal point's alert on its page,
  picks a set phrase in the village's language, and that phrase is what reaches it.

One system for the module (SQLite: the SMS rules run on both databases in
tests/integration) and one Kannel, whose get-url names ingest's port: the pool's hook
(``SystemSpec.before_start``) starts it once the services' ports are chosen and before
they start. Awa's only contact is her phone. The tests act on alerts of their own, found
by id and code.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import expect

from shared.sms.segments import prepare
from tests.e2e.harness import alert_body, wait_until
from tests.e2e.pool import SystemPool, SystemSpec
from tests.e2e.system import System
from tests.support.board_pages import Boards
from tests.support.browser import launch_chromium, screenshot
from tests.support.kannel import CODING_7BIT, Kannel, OutboundSms, require_kannel
from tests.support.sms_system import directory_with_phone, kannel_get_url, sms_env

JOC, AWA, AUDITOR, CLA = "jo.operator", "awa.hfo", "audit.one", "amani.cla"
AWA_PHONE = "+243990000111"
GATEWAY_NUMBER = "+243990000000"  # the number the officers reply to
STRANGER = "+243990000999"  # in no one's contacts
# What of a number could show in a record: its E.164 and national forms all hold this.
AWA_DIGITS, STRANGER_DIGITS = "990000111", "990000999"
SMS_SECRET = "e2e-sms-inbound-secret-0123456789abcdef0123456789"  # noqa: S105 - a test's own
SOURCE = {"name": "Kahindo Mbusa", "contact": "+243 970 555 123"}
SOURCE_WORDS = ("Kahindo", "Mbusa", "970 555 123", "970555123")
UNKNOWN_NUMBER_ANSWER = (
    "COORD: numero inconnu / number not registered. Rien n'a ete fait / nothing was done."
)
ROUTED_S = 30.0  # an alert routed, an SMS through the gateway: liveness bounds

# A focal point of Mavivi's community alert network: sealed wherever coord keeps her.
KAVIRA = {
    "id": "can.mavivi.1",
    "name": "Kavira Masika",
    "phone": "+243990000222",
    "location": "Mavivi",
    "sector": "beni",
    "language": "fr",
}
KAVIRA_DIGITS = "990000222"
HELD_FOR_TRIAGE = (
    "COORD: message recu, il sera examine par la mission / message received, "
    "the mission will review it."
)


def sms_directory(receiver_base_url: str) -> dict[str, Any]:
    """The e2e directory: Awa reachable only by SMS, in French, and Kavira a focal point."""
    data = directory_with_phone(receiver_base_url, person_id=AWA, phone=AWA_PHONE, language="fr")
    data["community_contacts"] = [KAVIRA]
    return data


SMS = SystemSpec(
    "sms",
    directory=sms_directory,
    local_tokens=True,  # `coord token` costs seconds of CPU per person
    shared=False,  # the module's own: it needs its Kannel (the fixture below)
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.timeout(120),
    # Tells the other modules' systems that these tests do not use them.
    pytest.mark.system_spec(SMS),
]


@dataclasses.dataclass(frozen=True)
class SmsSystem:
    system: System
    kannel: Kannel


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def sms_system(
    system_pool: SystemPool, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[SmsSystem]:
    """The module's system, on SQLite, wired to the module's Kannel."""
    require_kannel()
    async with contextlib.AsyncExitStack() as gateways:
        started: list[Kannel] = []

        async def start_kannel(system: System) -> None:
            ingest, notifier = system.services["ingest"].port, system.services["notifier"].port
            kannel = Kannel(
                tmp_path_factory.mktemp("kannel"), get_url=kannel_get_url(ingest, SMS_SECRET)
            )
            # Stopped when the fixture ends, after the system (released below) is.
            started.append(await gateways.enter_async_context(kannel))
            system.env.update(sms_env(kannel, notifier_port=notifier, secret=SMS_SECRET))

        spec = dataclasses.replace(SMS, before_start=start_kannel)
        system = await system_pool.acquire(spec, "sqlite")
        try:
            [kannel] = started
            # A service moved to another port at start-up (its port taken meanwhile) would
            # no longer be where Kannel or the report URL say: fail plainly, not by timeout.
            assert kannel.get_url == kannel_get_url(system.services["ingest"].port, SMS_SECRET)
            assert system.env["COORD_SMS_REPORT_URL"] == system.services["notifier"].url
            yield SmsSystem(system, kannel)
        finally:
            await system_pool.release(system)


@pytest.fixture(scope="module")
def kannel(sms_system: SmsSystem) -> Kannel:
    """The module's gateway: its fake SMS centre is every phone of the tests."""
    return sms_system.kannel


@pytest_asyncio.fixture(loop_scope="session")
async def system(sms_system: SmsSystem) -> AsyncIterator[System]:
    """The module's system, as if started for this test (overrides the e2e fixture, whose
    systems know nothing of a gateway); its logs are attached to a failed test's report."""
    await sms_system.system.begin_test()
    try:
        yield sms_system.system
    finally:
        await sms_system.system.end_test()


# --------------------------------------------------------------------------- helpers


async def raise_alert(system: System, jo: httpx.AsyncClient, **fields: Any) -> tuple[str, str]:
    """An UNCLASSIFIED severe abduction in beni (poc-urgent: Awa at level 1), raised by the
    JOC; its id and its code once the router gave it one."""
    body = alert_body(classification="unclassified", **fields)
    response = await system.raise_alert(jo, body)
    assert response.status_code == 201, response.text
    alert_id = str(response.json()["id"])

    async def code() -> str | None:
        found: str | None = (await system.get_alert(jo, alert_id))["code"]
        return found

    return alert_id, await wait_until(code, timeout=ROUTED_S, message=f"a code for {alert_id}")


async def page_to_awa(kannel: Kannel, code: str) -> OutboundSms:
    """Awa's page about the alert of ``code``, as it reached the SMS centre."""
    return await kannel.wait_for_outbound(
        lambda sms: sms.text.startswith(f"COORD {code}: "), to=AWA_PHONE, timeout=ROUTED_S
    )


async def answer_to(kannel: Kannel, phone: str, text: str) -> OutboundSms:
    """The SMS coord answered ``phone`` with, once it reached the SMS centre."""
    return await kannel.wait_for_outbound(lambda sms: sms.text == text, to=phone, timeout=ROUTED_S)


async def sms_log(auditor: httpx.AsyncClient, alert_id: str | None = None) -> list[dict[str, Any]]:
    """The ``sms.received`` records of the event log (of ``alert_id``'s story, if given),
    as the audit API gives them to an auditor."""
    params = {"type": "sms.received", "limit": "1000"}
    if alert_id is not None:
        params["alert"] = alert_id
    response = await auditor.get("/v1/audit/events", params=params)
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["next_cursor"] is None, "more sms.received records than one page holds"
    records: list[dict[str, Any]] = page["items"]
    return records


# --------------------------------------------------------------------------- tests


async def test_a_page_reaches_her_phone_as_one_french_sms_and_is_delivered_on_the_report(
    system: System, kannel: Kannel
) -> None:
    jo = await system.client(JOC)
    alert_id, code = await raise_alert(
        system, jo, title="Deux agriculteurs enlevés sur la route de Mavivi", source=SOURCE
    )

    page = await page_to_awa(kannel, code)
    assert (page.coding, page.parts) == (CODING_7BIT, 1), page
    assert page.text.startswith(f"COORD {code}: enlèvement GRAVE, secteur beni, "), page.text
    assert page.text.endswith(f"Répondez ACC {code}"), page.text
    assert [word for word in SOURCE_WORDS if word in page.text] == []

    # Delivered only on the SMS centre's report (fakesmsc reports it delivered, 1): the
    # notifier waits for it before it says so.
    async def delivered() -> list[dict[str, Any]]:
        view = await system.get_alert(jo, alert_id)
        hers = [d for d in view["deliveries"] if d["person_id"] == AWA]
        assert hers, view["deliveries"]
        return hers

    deliveries = await wait_until(delivered, timeout=ROUTED_S, message="Awa's page delivered")
    assert [(d["channel"], d["status"], d["error"]) for d in deliveries] == [
        ("sms", "delivered", None)
    ]


async def test_her_reply_acknowledges_the_alert_as_her_and_she_is_answered_in_french(
    system: System, kannel: Kannel
) -> None:
    jo, auditor = await system.client(JOC), await system.client(AUDITOR)
    alert_id, code = await raise_alert(system, jo, title="Enlèvement à Oicha")
    await page_to_awa(kannel, code)

    await kannel.send_inbound(AWA_PHONE, GATEWAY_NUMBER, f"ACC {code}")

    answer = await answer_to(kannel, AWA_PHONE, f"COORD {code}: réception accusée. Merci.")
    assert (answer.coding, answer.parts) == (CODING_7BIT, 1), answer

    async def acknowledged() -> dict[str, Any]:
        view = await system.get_alert(jo, alert_id)
        assert view["status"] == "acknowledged", view["status"]
        return view

    view = await wait_until(acknowledged, timeout=ROUTED_S, message=f"{alert_id} acknowledged")
    assert [a["person_id"] for a in view["acknowledgements"]] == [AWA]

    # On the log: who replied (Awa), what she did and to which alert; not her number.
    records = await wait_until(
        lambda: sms_log(auditor, alert_id),
        timeout=ROUTED_S,
        message=f"sms.received for {alert_id} on the log",
    )
    [record] = records
    payload = record["payload"]
    assert (payload["person_id"], payload["outcome"]) == (AWA, "staged"), payload
    assert (payload["action"], payload["code"], payload["alert_id"]) == (
        "acknowledge",
        code,
        alert_id,
    )
    assert payload["command_id"] is not None
    assert record["actor"] == AWA
    assert AWA_DIGITS not in json.dumps(record)
    assert system.grep_logs(AWA_DIGITS) == []  # nor in what the services wrote


async def test_an_unknown_number_is_told_so_and_nothing_is_done(
    system: System, kannel: Kannel
) -> None:
    jo, auditor = await system.client(JOC), await system.client(AUDITOR)
    alert_id, code = await raise_alert(system, jo, title="Enlèvement à Eringeti")

    await kannel.send_inbound(STRANGER, GATEWAY_NUMBER, f"ACK {code}")

    answer = await answer_to(kannel, STRANGER, UNKNOWN_NUMBER_ANSWER)
    assert (answer.coding, answer.parts) == (CODING_7BIT, 1), answer

    # On the log as from nobody, without the number (the only unknown sender of the
    # module's system).
    async def from_unknown_senders() -> list[dict[str, Any]]:
        records = await sms_log(auditor)
        return [r for r in records if r["payload"]["outcome"] == "unknown_sender"]

    records = await wait_until(
        from_unknown_senders,
        timeout=ROUTED_S,
        message="the unknown sender's sms.received on the log",
    )
    [record] = records
    payload = record["payload"]
    assert (payload["person_id"], payload["action"], payload["code"]) == (None, None, None)
    assert (payload["alert_id"], payload["command_id"]) == (None, None)
    assert STRANGER_DIGITS not in json.dumps(record)
    assert system.grep_logs(STRANGER_DIGITS) == []  # nor in what the services wrote
    # The SMS was answered and logged, and that is all: no command was staged for it.
    view = await system.get_alert(jo, alert_id)
    assert (view["status"], view["acknowledgements"]) == ("triggered", [])


async def log_of(auditor: httpx.AsyncClient, type_: str, alert_id: str) -> list[dict[str, Any]]:
    """The records of ``type_`` in ``alert_id``'s story, as an auditor reads them."""
    params = {"type": type_, "alert": alert_id, "limit": "1000"}
    response = await auditor.get("/v1/audit/events", params=params)
    assert response.status_code == 200, response.text
    records: list[dict[str, Any]] = response.json()["items"]
    return records


async def test_a_focal_points_sms_raises_an_alert_and_the_feedback_awa_chooses_reaches_her(
    system: System, kannel: Kannel
) -> None:
    jo, awa, auditor = (
        await system.client(JOC),
        await system.client(AWA),
        await system.client(AUDITOR),
    )
    await kannel.send_inbound(
        KAVIRA["phone"], GATEWAY_NUMBER, "ALERTE hommes armés vus près de l'école de Mavivi"
    )

    # Her receipt, at once, in French (reçu spelled recu: GSM-7 has no ç, and one SMS
    # matters more): a reference and nothing else.
    receipt = await kannel.wait_for_outbound(
        lambda sms: sms.text.startswith("COORD: la mission a bien recu votre alerte."),
        to=KAVIRA["phone"],
        timeout=ROUTED_S,
    )
    assert (receipt.coding, receipt.parts) == (CODING_7BIT, 1), receipt
    reference = receipt.text.split("Référence ")[1].split(".")[0]
    assert len(reference) == 6, receipt.text

    async def community_alert() -> dict[str, Any]:
        response = await jo.get("/v1/alerts", params={"limit": "100"})
        assert response.status_code == 200, response.text
        [item] = [
            a
            for a in response.json()["items"]
            if a["id"].replace("-", "").upper().startswith(reference)
        ]
        view = await system.get_alert(jo, item["id"])
        assert view["code"] is not None, view
        return view

    view = await wait_until(community_alert, timeout=ROUTED_S, message="the community alert")
    alert_id, code = view["id"], view["code"]
    assert (view["origin"], view["sector"], view["reporter"]) == ("community", "beni", KAVIRA["id"])
    assert view["description"] == "hommes armés vus près de l'école de Mavivi"
    assert view["receipt_at"] is not None
    assert KAVIRA_DIGITS not in json.dumps(view)
    assert "Kavira" not in json.dumps(view)

    # Awa is paged by SMS (a confidential alert: only that there is one, and its code)
    # and acknowledges by reply.
    await kannel.wait_for_outbound(
        lambda sms: sms.text.startswith(f"COORD {code}"), to=AWA_PHONE, timeout=ROUTED_S
    )
    await kannel.send_inbound(AWA_PHONE, GATEWAY_NUMBER, f"ACC {code}")
    await answer_to(kannel, AWA_PHONE, f"COORD {code}: réception accusée. Merci.")

    # Resolving, she chooses what the village is told; only that reaches Kavira.
    told = "Une patrouille est passée à Mavivi. Merci de votre alerte."
    response = await awa.post(
        f"/v1/alerts/{alert_id}/resolve",
        json={"note": "Patrouille sur place", "community_message": told},
    )
    assert response.status_code == 200, response.text
    feedback = await kannel.wait_for_outbound(
        lambda sms: sms.text == f"COORD {reference}: {told}", to=KAVIRA["phone"], timeout=ROUTED_S
    )
    assert feedback.parts == 1, feedback

    async def fed_back() -> dict[str, Any]:
        resolved = await system.get_alert(jo, alert_id)
        assert resolved["feedback_at"] is not None, resolved
        return resolved

    await wait_until(fed_back, timeout=ROUTED_S, message="the feedback delivered")
    # On the log: the text and who released it, to the contact's id - never her number.
    requested = [
        r
        for r in await log_of(auditor, "notification.requested", alert_id)
        if r["payload"]["kind"] == "community_feedback"
    ]
    assert [
        (r["actor"], r["payload"]["message"], r["payload"]["person_id"]) for r in requested
    ] == [(AWA, told, KAVIRA["id"])]
    [received] = [
        r
        for r in await log_of(auditor, "sms.received", alert_id)
        if r["payload"]["outcome"] == "community_alert"
    ]
    assert received["payload"]["contact_id"] == KAVIRA["id"]
    for record in [*requested, received]:
        assert KAVIRA_DIGITS not in json.dumps(record)
        assert "Kavira" not in json.dumps(record)
    assert system.grep_logs(KAVIRA_DIGITS) == []
    assert system.grep_logs("Kavira") == []


async def test_an_unknown_numbers_report_waits_in_triage_and_raises_nothing(
    system: System, kannel: Kannel
) -> None:
    jo = await system.client(JOC)
    before = (await jo.get("/v1/alerts", params={"limit": "100"})).json()["items"]

    await kannel.send_inbound(STRANGER, GATEWAY_NUMBER, "Coups de feu entendus vers Kasinga")

    answer = await answer_to(kannel, STRANGER, HELD_FOR_TRIAGE)
    assert (answer.coding, answer.parts) == (CODING_7BIT, 1), answer
    after = (await jo.get("/v1/alerts", params={"limit": "100"})).json()["items"]
    assert [a["id"] for a in after] == [a["id"] for a in before]
    assert system.grep_logs(STRANGER_DIGITS) == []


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def boards() -> AsyncIterator[Boards]:
    """One Chromium (Debian's) for the module's browser tests."""
    async with launch_chromium() as browser:
        yield Boards(browser)


async def test_in_the_browser_the_cla_promotes_a_report_and_awa_picks_what_the_village_is_told(
    system: System, kannel: Kannel, boards: Boards
) -> None:
    jo = await system.client(JOC)
    # An unknown number's report, promoted by Amani from the board's triage.
    report = "Maisons brulees a Kasinga cette nuit"
    earlier = list(kannel.outbound)  # what earlier tests got: not this test's answers

    def new(sms: OutboundSms) -> bool:
        return not any(sms is seen for seen in earlier)  # the same text may come again

    await kannel.send_inbound(STRANGER, GATEWAY_NUMBER, report)
    await kannel.wait_for_outbound(
        lambda sms: sms.text == HELD_FOR_TRIAGE and new(sms),
        to=STRANGER,
        timeout=ROUTED_S,
    )
    amani = await boards.signed_in(system.ingest_url, CLA)
    await amani.goto("/board/triage")
    item = amani.locator("li.triage-item", has_text=report)
    await expect(item).to_contain_text(STRANGER_DIGITS)  # the CLA reads who sent it
    promote = item.locator("form.promote")
    await promote.get_by_label("Sector").select_option("beni")
    await promote.get_by_label("Category").select_option("attack_on_civilians")
    await promote.get_by_label("Severity").select_option("severe")
    await promote.get_by_label("Place").fill("Kasinga")
    await promote.get_by_role("button", name="Promote to an alert").click()
    await expect(amani.locator(".notice")).to_contain_text("SMS promoted")
    decided = amani.locator("table.decided tr", has_text=report)
    await expect(decided).to_have_attribute("data-status", "promoted")
    await screenshot(amani, "triage")

    async def promoted() -> dict[str, Any]:
        items = (await jo.get("/v1/alerts", params={"limit": "100"})).json()["items"]
        [found] = [a for a in items if a["title"] == f"Kasinga: {report}"]
        return dict(found)

    alert = await wait_until(promoted, timeout=ROUTED_S, message="the promoted alert")
    assert (alert["origin"], alert["sector"], alert["raised_by"]) == ("community", "beni", CLA)
    view = await system.get_alert(jo, alert["id"])
    assert STRANGER_DIGITS not in json.dumps(view)  # the sender is its sealed source

    # A focal point's alert: Awa acknowledges it on its page with a set phrase, in French.
    await kannel.send_inbound(KAVIRA["phone"], GATEWAY_NUMBER, "Des hommes armés à Mavivi")
    receipt = await kannel.wait_for_outbound(
        lambda sms: sms.text.startswith("COORD: la mission a bien recu") and new(sms),
        to=KAVIRA["phone"],
        timeout=ROUTED_S,
    )
    reference = receipt.text.split("Référence ")[1].split(".")[0]

    async def community_alert() -> str:
        items = (await jo.get("/v1/alerts", params={"limit": "100"})).json()["items"]
        [found] = [a for a in items if a["id"].replace("-", "").upper().startswith(reference)]
        return str(found["id"])

    alert_id = await wait_until(community_alert, timeout=ROUTED_S, message="Kavira's alert")
    awa = await boards.signed_in(system.ingest_url, AWA)
    await awa.goto(f"/alerts/{alert_id}")
    phrase = "La mission a reçu votre alerte et suit la situation."
    # Awa reads the board in French; the page names the reporter's reference only.
    await expect(awa.locator("main")).to_contain_text(reference)
    feedback = awa.locator("form:has(fieldset.feedback)[action$='/acknowledge']")
    await feedback.get_by_label(re.compile("suit la situation")).check()
    await screenshot(awa, "alert-community-feedback")
    await feedback.get_by_role("button", name="Accuser réception").click()

    told = await kannel.wait_for_outbound(
        lambda sms: sms.text == prepare(f"COORD {reference}: {phrase}").text,
        to=KAVIRA["phone"],
        timeout=ROUTED_S,
    )
    assert told.parts == 1, told
    await expect(awa.locator("main")).to_contain_text(
        "Retour diffusé à la communauté par Awa", timeout=ROUTED_S * 1000
    )
