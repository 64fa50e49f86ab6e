"""End-to-end: coordination messages and recommendations (docs/contract.md).

The three services run as separate processes on a real RabbitMQ and database; people are
the e2e directory's (tests/data/e2e_directory.yaml): awa.hfo (head of field office,
Beni) reports to lucas.ho; col.okafor (sector commander, Beni) reports to gen.force;
lt.mbeki (military, Beni) is cleared for UNCLASSIFIED only. Notifications are observed as
webhook POSTs on the harness receiver; state through the public HTTP API. The tests of a
backend share one system (tests/e2e/pool.py), each seeing only its own webhooks.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.e2e.harness import wait_until
from tests.e2e.system import System
from tests.support.receiver import Receipt, WebhookReceiver

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(150)]

AWA, LUCAS, OKAFOR, FORCE, MBEKI = "awa.hfo", "lucas.ho", "col.okafor", "gen.force", "lt.mbeki"
# The services' logic runs on both databases in tests/integration; end to end, each scenario
# runs on one of them to keep the suite short.
ON_POSTGRESQL = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
ON_SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
GRACE = 3.0  # seconds to wait for notifications that must NOT arrive
SLACK = 0.5  # seconds of clock jitter allowed on "not before the due time"


def about(receiver: WebhookReceiver, person: str, kind: str, key: str, value: str) -> list[Receipt]:
    """Receipts of ``kind`` for ``person`` whose body has ``key == value``."""
    return [
        r
        for r in receiver.receipts
        if r.person_id == person and r.kind == kind and str(r.json().get(key)) == value
    ]


async def accepted(response: httpx.Response) -> dict[str, Any]:
    """A submission (a message, a recommendation): 202, the router has it to address."""
    assert response.status_code == 202, f"{response.status_code} {response.text}"
    body: dict[str, Any] = response.json()
    return body


async def decided(response: httpx.Response, status: str) -> dict[str, Any]:
    """A command the router accepted: 200 and the subject with its effect, ``status``."""
    assert response.status_code == 200, f"{response.status_code} {response.text}"
    body: dict[str, Any] = response.json()
    assert body["status"] == status, body
    return body


async def recommendation(client: httpx.AsyncClient, rec_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/recommendations/{rec_id}")
    assert response.status_code == 200, response.text
    view: dict[str, Any] = response.json()
    return view


def recommend(due_by: datetime) -> dict[str, Any]:
    return {
        "addressee": {"role": "sector_commander"},
        "sector": "beni",
        "action": "Deploy a night patrol to the Mavivi road",
        "rationale": "Three community alerts of armed men near Mavivi this week.",
        "due_by": due_by.isoformat(),
    }


@ON_POSTGRESQL
async def test_recommendation_to_the_sector_commander_is_declined_and_counted(
    system: System, receiver: WebhookReceiver
) -> None:
    awa, okafor = await system.client(AWA), await system.client(OKAFOR)
    view = await accepted(
        await awa.post(
            "/v1/recommendations", json=recommend(datetime.now(UTC) + timedelta(hours=2))
        )
    )
    rec_id = view["id"]
    await wait_until(
        lambda: about(receiver, OKAFOR, "recommendation", "recommendation_id", rec_id),
        timeout=30,
        message="the sector commander is told",
    )

    await decided(await okafor.post(f"/v1/recommendations/{rec_id}/acknowledge"), "acknowledged")
    assert await _status(okafor, rec_id, "acknowledged")  # the next read shows it too
    no_reason = await okafor.post(
        f"/v1/recommendations/{rec_id}/respond", json={"response": "declined"}
    )
    assert no_reason.status_code == 422
    assert "reason" in no_reason.text
    reason = "No troops free before Friday: the battalion is on the Eringeti road"
    answered = await decided(
        await okafor.post(
            f"/v1/recommendations/{rec_id}/respond",
            json={"response": "declined", "reason": reason},
        ),
        "declined",
    )
    assert answered["reason"] == reason
    final = await recommendation(awa, rec_id)
    assert final["status"] == "declined"
    assert final["reason"] == reason
    assert final["responded_by"] == OKAFOR
    # the author hears of the acknowledgement and of the decline, with its reason
    await wait_until(
        lambda: any(
            reason in str(r.json().get("message"))
            for r in about(receiver, AWA, "recommendation_answered", "recommendation_id", rec_id)
        ),
        timeout=30,
        message="the author is told the reason",
    )

    report = await awa.get("/v1/reports/recommendations", params={"sector": "beni"})
    assert report.status_code == 200, report.text
    [row] = [
        r
        for r in report.json()["recommendations"]["groups"]
        if r["sector"] == "beni" and r["addressee_component"] == "military"
    ]
    assert row["issued"] == 1
    assert row["acknowledged_in_time"] == 1
    assert row["declined"] == 1
    assert row["accepted"] == row["done"] == row["overdue"] == 0
    assert reason in row["declined_reasons"]

    # the same report from the command line
    printed = json.loads(
        await system.run_coord(
            "report", "recommendations", "--sector", "beni", "--format", "json", as_person=AWA
        )
    )
    [cli_row] = [
        r for r in printed["recommendations"]["groups"] if r["addressee_component"] == "military"
    ]
    assert cli_row["declined"] == 1


async def _escalated(client: httpx.AsyncClient, rec_id: str) -> bool:
    return (await recommendation(client, rec_id))["escalated_at"] is not None


async def _status(client: httpx.AsyncClient, rec_id: str, status: str) -> bool:
    return bool((await recommendation(client, rec_id))["status"] == status)


@ON_SQLITE
async def test_unanswered_recommendation_escalates_on_time(
    system: System, receiver: WebhookReceiver
) -> None:
    awa = await system.client(AWA)
    due_by = datetime.now(UTC) + timedelta(seconds=3)
    rec_id = (await accepted(await awa.post("/v1/recommendations", json=recommend(due_by))))["id"]

    def overdue_to(person: str) -> list[Receipt]:
        return about(receiver, person, "recommendation_overdue", "recommendation_id", rec_id)

    # the author's next senior civilian and the addressee's superior
    await wait_until(
        lambda: overdue_to(LUCAS) and overdue_to(FORCE),
        timeout=30,
        message="lucas.ho and gen.force told it is overdue",
    )
    for person in (LUCAS, FORCE):
        [receipt] = overdue_to(person)
        assert receipt.received_at >= due_by - timedelta(seconds=SLACK), (
            "escalated before it was due"
        )
    # the read side follows a moment later
    await wait_until(
        lambda: _escalated(awa, rec_id), timeout=30, message="the view shows the escalation"
    )
    view = await recommendation(awa, rec_id)
    assert sorted(view["escalated_to"]) == [FORCE, LUCAS]
    assert view["status"] == "issued"


@ON_SQLITE
async def test_confidential_message_never_reaches_the_uncleared_and_the_sender_is_told(
    system: System, receiver: WebhookReceiver
) -> None:
    awa, okafor, mbeki = [await system.client(p) for p in (AWA, OKAFOR, MBEKI)]
    body = {
        "to": {"components": ["military"], "sectors": ["beni"]},
        "subject": "Armed group sighted near Mavivi",
        "body": "Source reports 30 armed men moving north at dawn.",
        "classification": "confidential",
    }
    message_id = (await accepted(await awa.post("/v1/messages", json=body)))["id"]

    await wait_until(
        lambda: all(
            about(receiver, person, "message", "message_id", message_id)
            for person in (OKAFOR, FORCE)
        ),
        timeout=30,
        message="the cleared military addressees are told",
    )
    await wait_until(
        lambda: about(receiver, AWA, "message_undelivered", "message_id", message_id),
        timeout=30,
        message="the sender is told who did not get it",
    )
    [undelivered] = about(receiver, AWA, "message_undelivered", "message_id", message_id)
    assert MBEKI in undelivered.json()["message"]
    assert "unclassified" in undelivered.json()["message"]
    # a classified body never travels in a notification
    assert all("Source reports" not in r.body.decode() for r in receiver.receipts)

    await asyncio.sleep(GRACE)
    assert not [r for r in receiver.receipts if r.person_id == MBEKI]
    assert (await mbeki.get(f"/v1/messages/{message_id}")).status_code == 404
    inbox = await mbeki.get("/v1/messages")
    assert inbox.status_code == 200
    assert message_id not in inbox.text

    view = (await awa.get(f"/v1/messages/{message_id}")).json()
    statuses = {a["person_id"]: a for a in view["addressees"]}
    assert statuses[OKAFOR]["delivered"]
    assert not statuses[MBEKI]["delivered"]
    assert "unclassified" in statuses[MBEKI]["reason"]
    assert message_id in (await okafor.get("/v1/messages")).text
