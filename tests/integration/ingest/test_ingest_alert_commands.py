"""Commands on alerts answered with the router's verdict (ingest's API, the real router).

The broker's work is done in-process by a ``Pump`` (tests/support/pump.py), so
each command goes through ingest's outbox to the router's rules and back to
ingest's views exactly as in production. What is asserted is what a person
sees: ``200`` and the alert after their command; the ``404``/``403``/``409`` and
reason the router gave; never a refusal because ingest's view was behind.
Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.ingest.tables import OUTBOX
from shared.auth import mint_token
from shared.contracts import ALERT_COMMAND_REJECTED, ALERT_RAISED
from shared.envelope import Envelope
from tests.support.builders import alert_request
from tests.support.database import Database
from tests.support.ingest_client import IngestClient, ingest_client

pytestmark = pytest.mark.integration

JWT_SECRET = "integration-jwt-secret-" + "0123456789abcdef" * 3

COMMAND_TYPES = {
    "acknowledge": "alert.acknowledge",
    "resolve": "alert.resolve",
    "notes": "alert.add_note",
}


def bearer(person_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(person_id, JWT_SECRET)}"}


@pytest.fixture
async def client(db: Database) -> AsyncIterator[IngestClient]:
    async with ingest_client(db, JWT_SECRET, router=True) as client:
        yield client


async def raise_alert(client: IngestClient, **overrides: Any) -> str:
    """An alert raised by the JOC (poc-urgent in beni: awa.hfo paged, then lucas.ho, grace)."""
    response = await client.post(
        "/v1/alerts", json=alert_request(**overrides), headers=bearer("jo.operator")
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def command(
    client: IngestClient, alert_id: str, action: str, person: str, body: Any = None
) -> Any:
    return await client.post(f"/v1/alerts/{alert_id}/{action}", json=body, headers=bearer(person))


def rejections(client: IngestClient, alert_id: str) -> list[Envelope]:
    return [
        e for e in client.pump.staged(ALERT_COMMAND_REJECTED) if str(e.correlation_id) == alert_id
    ]


@pytest.mark.parametrize(
    ("action", "body", "person", "state_after"),
    [
        pytest.param("acknowledge", None, "awa.hfo", "acknowledged", id="ack-level-one-target"),
        pytest.param("acknowledge", None, "grace.dsrsg", "acknowledged", id="ack-later-level"),
        pytest.param(
            "resolve", {"note": "Abductees released"}, "lucas.ho", "resolved", id="resolve-chain"
        ),
        pytest.param("resolve", None, "jo.operator", "resolved", id="resolve-by-joc-no-body"),
        pytest.param(
            "notes", {"text": "Patrol sent"}, "grace.dsrsg", "triggered", id="note-by-chain"
        ),
        pytest.param(
            "notes", {"text": "Called the CAN"}, "jo.operator", "triggered", id="note-by-joc"
        ),
    ],
)
async def test_accepted_command_answers_200_with_the_alert_after_it(
    client: IngestClient, action: str, body: Any, person: str, state_after: str
) -> None:
    alert_id = await raise_alert(client)

    response = await command(client, alert_id, action, person, body)

    assert response.status_code == 200, response.text
    view = response.json()
    assert view["status"] == state_after
    if action == "acknowledge":
        assert [a["person_id"] for a in view["acknowledgements"]] == [person]
    if action == "notes":
        notes = [e for e in view["timeline"] if e["type"] == "alert.note_added"]
        assert [(n["person_id"], n["text"]) for n in notes] == [(person, body["text"])]
    # Read-your-writes: the next read shows the same.
    again = await client.get(f"/v1/alerts/{alert_id}", headers=bearer(person))
    assert again.json()["status"] == state_after
    (staged,) = client.pump.staged(COMMAND_TYPES[action])
    expected: dict[str, Any] = {"alert_id": alert_id, "person_id": person}
    if action in {"acknowledge", "resolve"}:
        expected["community_message"] = None  # nothing is told a community unless chosen
    if action == "resolve":
        expected["note"] = body["note"] if body else ""
    if action == "notes":
        expected["text"] = body["text"]
    assert staged.payload == expected
    assert (staged.producer, staged.actor, str(staged.correlation_id)) == (
        "ingest",
        person,
        alert_id,
    )
    assert staged.classification.value == "confidential"


@pytest.mark.parametrize(
    ("action", "body", "person", "refused", "by_router"),
    [
        # Not concerned by the alert: the router answers as if it did not exist.
        pytest.param("acknowledge", None, "col.okafor", 404, True, id="ack-not-concerned"),
        pytest.param("resolve", {"note": "x"}, "col.okafor", 404, True, id="resolve-not-concerned"),
        pytest.param("notes", {"text": "x"}, "insp.diallo", 404, True, id="notes-not-concerned"),
        # Sees the alert, but it is not theirs to acknowledge: the router's 403.
        pytest.param("acknowledge", None, "jo.operator", 403, True, id="ack-joc-not-on-chain"),
        # The permissions table refuses at once, before anything is staged.
        pytest.param("acknowledge", None, "audit.one", 403, False, id="ack-auditor"),
        pytest.param("resolve", None, "amani.cla", 403, False, id="resolve-cla"),
        pytest.param("notes", {"text": "x"}, "audit.one", 403, False, id="notes-auditor"),
    ],
)
async def test_refused_command_gives_the_reason(  # noqa: PLR0917 - one table row
    client: IngestClient, action: str, body: Any, person: str, refused: int, by_router: bool
) -> None:
    alert_id = await raise_alert(client)

    response = await command(client, alert_id, action, person, body)

    assert response.status_code == refused, response.text
    detail = response.json()["detail"]
    if refused == 404:
        assert detail == f"no alert {alert_id}"
    else:
        assert person in detail
    assert bool(client.pump.staged(COMMAND_TYPES[action])) is by_router
    if by_router:
        (rejection,) = rejections(client, alert_id)
        assert rejection.payload["refusal"] == {404: "not_found", 403: "not_allowed"}[refused]
        assert rejection.payload["reason"] == detail


async def test_commands_on_a_resolved_alert_are_409_but_notes_are_taken(
    client: IngestClient,
) -> None:
    alert_id = await raise_alert(client)
    assert (
        await command(client, alert_id, "resolve", "awa.hfo", {"note": "done"})
    ).status_code == 200

    for action, body in [("acknowledge", None), ("resolve", {"note": "again"}), ("resolve", None)]:
        response = await command(client, alert_id, action, "awa.hfo", body)
        assert response.status_code == 409, response.text
        assert "resolved" in response.json()["detail"]
    note = await command(client, alert_id, "notes", "awa.hfo", {"text": "After action"})
    assert note.status_code == 200, note.text
    assert note.json()["status"] == "resolved"


async def test_commands_on_a_merged_alert_are_409_naming_the_open_one(client: IngestClient) -> None:
    first = await raise_alert(client, dedup_key="mavivi-road")
    merged = await raise_alert(client, dedup_key="mavivi-road")
    assert (await client.get(f"/v1/alerts/{merged}", headers=bearer("jo.operator"))).json()[
        "status"
    ] in {"raised", "merged"}

    for action in ("acknowledge", "resolve"):
        response = await command(
            client, merged, action, "jo.operator" if action == "resolve" else "awa.hfo"
        )
        assert response.status_code == 409, response.text
        assert f"merged into {first}" in response.json()["detail"]


async def test_acknowledging_twice_answers_the_state_both_times(client: IngestClient) -> None:
    alert_id = await raise_alert(client)
    first = await command(client, alert_id, "acknowledge", "awa.hfo")
    second = await command(client, alert_id, "acknowledge", "awa.hfo")
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json()["acknowledgements"] == first.json()["acknowledgements"]
    assert rejections(client, alert_id) == []


async def test_acting_the_moment_an_alert_is_raised_is_never_refused(client: IngestClient) -> None:
    """Before the router has even routed it: the command waits for the router, not a view."""
    for _ in range(20):
        alert_id = await raise_alert(client)
        response = await command(client, alert_id, "acknowledge", "awa.hfo")
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "acknowledged"


async def test_undecided_command_answers_202_with_where_to_look(db: Database) -> None:
    async with ingest_client(db, JWT_SECRET, command_wait=0.1) as client:  # no router
        alert_id = await raise_alert(client)
        response = await command(client, alert_id, "acknowledge", "awa.hfo")

        assert response.status_code == 202, response.text
        assert response.headers["Location"] == f"/v1/alerts/{alert_id}"
        assert int(response.headers["Retry-After"]) >= 1
        body = response.json()
        assert body["status"] == "pending"
        assert f"/v1/alerts/{alert_id}" in body["detail"]
        async with db.sessions() as session:
            rows = (await session.execute(OUTBOX.select().order_by(OUTBOX.c.position))).all()
        raised, staged = (Envelope.model_validate_json(bytes(r.body)) for r in rows)
        assert raised.type == ALERT_RAISED
        assert str(staged.id) == body["command_id"]
        assert staged.payload == {
            "alert_id": alert_id,
            "person_id": "awa.hfo",
            "community_message": None,
        }
