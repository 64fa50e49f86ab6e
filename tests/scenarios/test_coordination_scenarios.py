"""Scenarios: a coordination message and a recommendation, from the sender to the answer.

The demo directory (deploy/directory.yaml): awa.hfo heads the field office of beni;
col.okafor commands its sector and reports to gen.force; lt.mbeki (military, beni) is
cleared for UNCLASSIFIED only.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.support.receiver import Receipt
from tests.support.scenario import Mission

# Two 30-s liveness polls may run back to back on a loaded CI machine.
pytestmark = pytest.mark.timeout(120)

AWA, OKAFOR, FORCE, MBEKI = "awa.hfo", "col.okafor", "gen.force", "lt.mbeki"


def answer(response: httpx.Response, status_code: int = 200) -> dict[str, Any]:
    assert response.status_code == status_code, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_message_reaches_the_cleared_and_their_acknowledgements_close_it(
    mission: Mission,
) -> None:
    awa, okafor, force, mbeki = (mission.client(p) for p in (AWA, OKAFOR, FORCE, MBEKI))
    sent = await awa.post(
        "/v1/messages",
        json={
            "to": {"components": ["military"], "sectors": ["beni"]},
            "subject": "Armed group sighted near Mavivi",
            "body": "Source reports 30 armed men moving north at dawn.",
            "classification": "confidential",
            "requires_ack": True,
            "ack_due_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
        },
    )
    message_id = answer(sent, 202)["id"]

    async def told() -> None:
        for person in (OKAFOR, FORCE):
            assert mission.sink.to(person, "message", message_id=message_id), person
        assert mission.sink.to(AWA, "message_undelivered", message_id=message_id)

    await mission.eventually(told)
    [undelivered] = mission.sink.to(AWA, "message_undelivered")
    assert MBEKI in undelivered.json()["message"]
    assert mission.sink.to(MBEKI) == []
    assert all("Source reports" not in str(r.body) for r in mission.sink.receipts)
    assert (await mbeki.get(f"/v1/messages/{message_id}")).status_code == 404

    first = answer(await okafor.post(f"/v1/messages/{message_id}/acknowledge"))
    assert first["status"] == "delivered"  # gen.force has not acknowledged yet
    last = answer(await force.post(f"/v1/messages/{message_id}/acknowledge"))
    assert last["status"] == "acknowledged"

    async def closed() -> dict[str, Any]:
        view = answer(await awa.get(f"/v1/messages/{message_id}"))
        assert view["status"] == "acknowledged", view
        return view

    view = await mission.eventually(closed)
    assert view["next_escalation_at"] is None
    addressees = {a["person_id"]: a for a in view["addressees"]}
    assert addressees.keys() == {OKAFOR, FORCE, MBEKI}
    assert addressees[OKAFOR]["acknowledged_at"]
    assert addressees[FORCE]["acknowledged_at"]
    assert not addressees[MBEKI]["delivered"]
    assert "unclassified" in addressees[MBEKI]["reason"]


async def test_a_recommendation_is_acknowledged_declined_and_counted(mission: Mission) -> None:
    awa, okafor = mission.client(AWA), mission.client(OKAFOR)
    submitted = await awa.post(
        "/v1/recommendations",
        json={
            "addressee": {"role": "sector_commander"},
            "sector": "beni",
            "action": "Deploy a night patrol to the Mavivi road",
            "rationale": "Three community alerts of armed men near Mavivi this week.",
            "due_by": (datetime.now(UTC) + timedelta(hours=2)).isoformat(),
        },
    )
    rec_id = answer(submitted, 202)["id"]

    async def issued() -> None:
        assert mission.sink.to(OKAFOR, "recommendation", recommendation_id=rec_id)

    await mission.eventually(issued)
    acknowledged = answer(await okafor.post(f"/v1/recommendations/{rec_id}/acknowledge"))
    assert acknowledged["status"] == "acknowledged"
    respond = f"/v1/recommendations/{rec_id}/respond"
    answer(await okafor.post(respond, json={"response": "declined"}), 422)  # a reason is due
    reason = "No troops free before Friday: the battalion is on the Eringeti road"
    declined = answer(await okafor.post(respond, json={"response": "declined", "reason": reason}))
    assert (declined["status"], declined["reason"]) == ("declined", reason)

    async def author_told() -> list[Receipt]:
        told = mission.sink.to(AWA, "recommendation_answered", recommendation_id=rec_id)
        assert len(told) == 2, told  # of the acknowledgement and of the decline
        return told

    told = await mission.eventually(author_told)
    assert sorted(reason in r.json()["message"] for r in told) == [False, True]
    view = answer(await awa.get(f"/v1/recommendations/{rec_id}"))
    assert (view["status"], view["responded_by"]) == ("declined", OKAFOR)
    report = answer(await awa.get("/v1/reports/recommendations", params={"sector": "beni"}))
    [row] = [
        group
        for group in report["recommendations"]["groups"]
        if group["sector"] == "beni" and group["addressee_component"] == "military"
    ]
    assert (row["issued"], row["acknowledged_in_time"], row["declined"]) == (1, 1, 1)
    assert reason in row["declined_reasons"]
