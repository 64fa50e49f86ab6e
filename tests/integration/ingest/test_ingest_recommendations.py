"""Ingest's side of recommendations on a real database (and the broker for the views
consumer): validation, commands answered with the real router's verdict (an in-process
``Pump`` does the broker's work), need-to-know, the read side, and the report.
Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest

from services.ingest.recommendations.projections import apply_recommendation_event
from services.ingest.recommendations.tables import (
    RecommendationAddresseeRecord,
    RecommendationTimelineRecord,
    RecommendationViewRecord,
)
from services.ingest.service import IngestService
from services.ingest.tables import OUTBOX
from shared.auth import mint_token
from shared.bus import Bus, to_outgoing
from shared.contracts import (
    RECOMMENDATION_ACKNOWLEDGE,
    RECOMMENDATION_ACKNOWLEDGED,
    RECOMMENDATION_COMMAND_REJECTED,
    RECOMMENDATION_ISSUED,
    RECOMMENDATION_RESPOND,
    RECOMMENDATION_SUBMITTED,
)
from shared.contracts.recommendations import (
    AcknowledgeRecommendationV1,
    RecommendationAcknowledgedV1,
    RecommendationIssuedV1,
    RecommendationSubmittedV1,
    RespondRecommendationV1,
)
from shared.decisions import pack
from shared.envelope import Envelope, utc_now
from shared.settings import Settings
from tests.support.builders import alert_request, recommendation_state_changed
from tests.support.database import Database
from tests.support.directories import EXAMPLE_DIRECTORY
from tests.support.ingest_client import IngestClient, ingest_client

pytestmark = pytest.mark.integration

JWT_SECRET = "recommendation-jwt-secret-" + "0123456789abcdef" * 3
AUTHOR = "jo.operator"
ADDRESSEE = "col.okafor"  # the sector commander of beni (military)
OUTSIDER = "insp.diallo"
READER = "grace.dsrsg"  # a senior civilian: reads the "is it heeded?" report


def bearer(person_id: str = AUTHOR) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(person_id, JWT_SECRET)}"}


def recommendation_request(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "addressee": {"role": "sector_commander"},
        "sector": "beni",
        "action": "Deploy a patrol to Mavivi before nightfall",
        "rationale": "Two abductions on the Mavivi road in 48 hours",
        "due_by": (utc_now() + timedelta(hours=2)).isoformat(),
        "classification": "confidential",
    }
    body.update(overrides)
    return body


@pytest.fixture
async def client(db: Database) -> AsyncIterator[httpx.AsyncClient]:
    async with ingest_client(db, JWT_SECRET) as client:
        yield client


async def outbox_envelopes(db: Database) -> list[Envelope]:
    async with db.sessions() as session:
        rows = (await session.execute(OUTBOX.select().order_by(OUTBOX.c.position))).all()
    return [Envelope.model_validate_json(bytes(r.body)) for r in rows]


async def nothing_written(db: Database) -> None:
    assert await db.count(RecommendationViewRecord) == 0
    assert await db.count(RecommendationTimelineRecord) == 0
    assert await db.count(OUTBOX) == 0


def state(recommendation_id: str, version: int = 1, **overrides: Any) -> Envelope:
    """A ``recommendation.state_changed`` of the router: issued to col.okafor."""
    return recommendation_state_changed(recommendation_id, version=version, **overrides)


ACKNOWLEDGED = {"status": "acknowledged", "acknowledged_by": ADDRESSEE}


def acknowledged(recommendation_id: str, version: int = 2, **overrides: Any) -> Envelope:
    fields = {**ACKNOWLEDGED, "acknowledged_at": utc_now().isoformat(), **overrides}
    return state(recommendation_id, version, **fields)


async def apply(db: Database, *envelopes: Envelope) -> None:
    for envelope in envelopes:
        async with db.sessions() as session, session.begin():
            await apply_recommendation_event(session, envelope)


async def submit(client: httpx.AsyncClient, **overrides: Any) -> str:
    response = await client.post(
        "/v1/recommendations", json=recommendation_request(**overrides), headers=bearer()
    )
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


async def issued(db: Database, client: httpx.AsyncClient, **overrides: Any) -> str:
    """A recommendation submitted through the API and issued to col.okafor by the router."""
    recommendation_id = await submit(client, **overrides)
    await apply(db, state(recommendation_id))
    return recommendation_id


async def view(client: httpx.AsyncClient, recommendation_id: str, person: str) -> httpx.Response:
    return await client.get(f"/v1/recommendations/{recommendation_id}", headers=bearer(person))


# --------------------------------------------------------------------------- submit


async def test_submit_stages_one_recommendation_submitted(
    db: Database, client: httpx.AsyncClient
) -> None:
    body = recommendation_request()
    response = await client.post("/v1/recommendations", json=body, headers=bearer())
    assert response.status_code == 202, response.text
    shown = response.json()
    assert response.headers["location"] == f"/v1/recommendations/{shown['id']}"
    assert (shown["status"], shown["author"], shown["addressees"]) == ("submitted", AUTHOR, [])
    assert shown["addressee"] == {"role": "sector_commander", "person": None}
    assert (shown["version"], shown["overdue"]) == (0, False)
    assert [h["type"] for h in shown["history"]] == [RECOMMENDATION_SUBMITTED]

    [submitted] = await outbox_envelopes(db)
    assert submitted.type == RECOMMENDATION_SUBMITTED
    assert (submitted.producer, submitted.actor) == ("ingest", AUTHOR)
    assert str(submitted.correlation_id) == shown["id"]
    assert submitted.classification.value == "confidential"
    payload = RecommendationSubmittedV1.model_validate(submitted.payload)
    assert str(payload.recommendation_id) == shown["id"]
    assert (payload.author, payload.addressee.role, payload.sector) == (
        AUTHOR,
        "sector_commander",
        "beni",
    )
    assert await db.count(RecommendationViewRecord) == 1


async def test_an_alert_ingest_knows_may_be_referenced(
    db: Database, client: httpx.AsyncClient
) -> None:
    raised = await client.post("/v1/alerts", json=alert_request(), headers=bearer())
    assert raised.status_code == 201
    alert_id = raised.json()["id"]
    response = await client.post(
        "/v1/recommendations",
        json=recommendation_request(alert_id=alert_id, addressee={"person": ADDRESSEE}),
        headers=bearer(),
    )
    assert response.status_code == 202, response.text
    assert response.json()["alert_id"] == alert_id
    assert response.json()["addressee"]["person"] == ADDRESSEE


def past() -> str:
    return (utc_now() - timedelta(minutes=1)).isoformat()


@pytest.mark.parametrize(
    ("overrides", "location", "named"),
    [
        pytest.param(
            {"addressee": {"role": "ghost_role"}}, ["body", "addressee", "role"], "ghost_role",
            id="unknown-role",
        ),
        pytest.param(
            {"addressee": {"person": "ghost.person"}}, ["body", "addressee", "person"],
            "ghost.person", id="unknown-person",
        ),
        pytest.param({"sector": "atlantis"}, ["body", "sector"], "atlantis", id="unknown-sector"),
        pytest.param(
            {"alert_id": "2b4e28ba-2fa1-11d2-883f-0016d3cca427"}, ["body", "alert_id"],
            "2b4e28ba-2fa1-11d2-883f-0016d3cca427", id="unknown-alert",
        ),
        pytest.param({"due_by": past()}, ["body", "due_by"], "future", id="due-in-the-past"),
        pytest.param(
            {"due_by": "2030-01-01T10:00:00"}, ["body", "due_by"], "timezone", id="naive-due-by"
        ),
        pytest.param(
            {"addressee": {"role": "dsrsg", "person": ADDRESSEE}}, ["body", "addressee"],
            "exactly one", id="role-and-person",
        ),
        pytest.param({"action": ""}, ["body", "action"], "action", id="empty-action"),
        pytest.param({"priority": "high"}, ["body", "priority"], "priority", id="unknown-field"),
    ],
)  # fmt: skip
async def test_invalid_recommendations_get_422_naming_the_problem(
    db: Database,
    client: httpx.AsyncClient,
    overrides: dict[str, Any],
    location: list[str],
    named: str,
) -> None:
    response = await client.post(
        "/v1/recommendations", json=recommendation_request(**overrides), headers=bearer()
    )
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error["loc"] == location
    assert named in error["msg"] or named in str(error["loc"]), error
    await nothing_written(db)


async def test_every_unknown_name_is_reported_at_once(
    db: Database, client: httpx.AsyncClient
) -> None:
    body = recommendation_request(addressee={"role": "ghost_role"}, sector="atlantis")
    response = await client.post("/v1/recommendations", json=body, headers=bearer())
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["errors"]] == [
        ["body", "addressee", "role"],
        ["body", "sector"],
    ]
    assert "north" in response.json()["errors"][1]["msg"]  # the known sectors are listed
    await nothing_written(db)


async def test_submit_needs_a_token(db: Database, client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/recommendations", json=recommendation_request())
    assert response.status_code == 401
    await nothing_written(db)


# --------------------------------------------------------------------------- need-to-know


async def test_addressee_sees_it_once_issued_an_outsider_never(
    db: Database, client: httpx.AsyncClient
) -> None:
    recommendation_id = await submit(client)
    assert (await view(client, recommendation_id, ADDRESSEE)).status_code == 404

    await apply(db, state(recommendation_id))

    seen = await view(client, recommendation_id, ADDRESSEE)
    assert seen.status_code == 200, seen.text
    shown = seen.json()
    assert (shown["status"], shown["addressees"]) == ("issued", [ADDRESSEE])
    assert (shown["addressee_component"], shown["version"]) == ("military", 1)
    assert (await view(client, recommendation_id, AUTHOR)).json() == shown
    hidden = await view(client, recommendation_id, OUTSIDER)
    assert hidden.status_code == 404
    assert recommendation_id in hidden.json()["detail"]
    assert shown["action"] not in hidden.text

    for person, expected in ((ADDRESSEE, [recommendation_id]), (AUTHOR, [recommendation_id]),
                             (OUTSIDER, [])):  # fmt: skip
        listed = await client.get("/v1/recommendations", headers=bearer(person))
        assert listed.status_code == 200
        assert [i["id"] for i in listed.json()["items"]] == expected, person


async def test_unknown_recommendation_is_404(client: httpx.AsyncClient) -> None:
    unknown = str(uuid4())
    assert (await view(client, unknown, AUTHOR)).status_code == 404
    ack = await client.post(f"/v1/recommendations/{unknown}/acknowledge", headers=bearer())
    assert ack.status_code == 404


# --------------------------------------------------------------------------- commands


async def command(
    client: httpx.AsyncClient, recommendation_id: str, person: str, body: Any = None
) -> httpx.Response:
    action = "acknowledge" if body is None else "respond"
    return await client.post(
        f"/v1/recommendations/{recommendation_id}/{action}", json=body, headers=bearer(person)
    )


@pytest.fixture
async def routed(db: Database) -> AsyncIterator[IngestClient]:
    """A client whose commands get the real router's verdict (a ``Pump`` does the broker's work).

    Recommendations are then submitted through the API, so the router issues them.
    """
    async with ingest_client(db, JWT_SECRET, router=True) as client:
        yield client


def rejections(client: IngestClient, recommendation_id: str) -> list[Envelope]:
    """The router's refusals of commands on ``recommendation_id``, in order."""
    return [
        e
        for e in client.pump.staged(RECOMMENDATION_COMMAND_REJECTED)
        if e.payload["recommendation_id"] == recommendation_id
    ]


async def test_acknowledge_and_respond_answer_200_with_the_recommendation_after_them(
    routed: IngestClient,
) -> None:
    recommendation_id = await submit(routed)

    ack = await command(routed, recommendation_id, ADDRESSEE)
    assert ack.status_code == 200, ack.text
    shown = ack.json()
    assert (shown["status"], shown["acknowledged_by"]) == ("acknowledged", ADDRESSEE)
    assert shown["acknowledged_at"] is not None
    assert RECOMMENDATION_ACKNOWLEDGED in [h["type"] for h in shown["history"]]

    answer = {"response": "declined", "reason": "No troops free before Thursday"}
    responded = await command(routed, recommendation_id, ADDRESSEE, answer)
    assert responded.status_code == 200, responded.text
    shown = responded.json()
    assert (shown["status"], shown["response"], shown["reason"], shown["responded_by"]) == (
        "declined",
        "declined",
        answer["reason"],
        ADDRESSEE,
    )
    # Read-your-writes, for the author as well.
    by_author = (await view(routed, recommendation_id, AUTHOR)).json()
    assert (by_author["status"], by_author["reason"]) == ("declined", answer["reason"])

    staged = [
        *routed.pump.staged(RECOMMENDATION_ACKNOWLEDGE),
        *routed.pump.staged(RECOMMENDATION_RESPOND),
    ]
    assert [e.type for e in staged] == [RECOMMENDATION_ACKNOWLEDGE, RECOMMENDATION_RESPOND]
    for envelope in staged:
        assert (str(envelope.correlation_id), envelope.actor) == (recommendation_id, ADDRESSEE)
        assert envelope.producer == "ingest"
        assert envelope.classification.value == "confidential"
    acknowledge = AcknowledgeRecommendationV1.model_validate(staged[0].payload)
    assert (str(acknowledge.recommendation_id), acknowledge.person_id) == (
        recommendation_id,
        ADDRESSEE,
    )
    respond = RespondRecommendationV1.model_validate(staged[1].payload)
    assert (str(respond.recommendation_id), respond.person_id) == (recommendation_id, ADDRESSEE)
    assert (respond.response.value, respond.reason) == ("declined", answer["reason"])
    assert rejections(routed, recommendation_id) == []


async def test_undecided_command_answers_202_with_where_to_look(
    db: Database, client: httpx.AsyncClient
) -> None:
    """Without a router nothing decides: the command is staged; the answer says where to look."""
    recommendation_id = await issued(db, client)
    await apply(db, acknowledged(recommendation_id))
    answer = {"response": "declined", "reason": "No troops free before Thursday"}

    response = await command(client, recommendation_id, ADDRESSEE, answer)

    assert response.status_code == 202, response.text
    location = f"/v1/recommendations/{recommendation_id}"
    assert response.headers["Location"] == location
    assert int(response.headers["Retry-After"]) >= 1
    body = response.json()
    assert (body["status"], location in body["detail"]) == ("pending", True)
    [_, staged] = await outbox_envelopes(db)  # after recommendation.submitted
    assert str(staged.id) == body["command_id"]
    assert staged.type == RECOMMENDATION_RESPOND
    assert (str(staged.correlation_id), staged.actor, staged.producer) == (
        recommendation_id,
        ADDRESSEE,
        "ingest",
    )
    assert staged.classification.value == "confidential"
    respond = RespondRecommendationV1.model_validate(staged.payload)
    assert (str(respond.recommendation_id), respond.person_id) == (recommendation_id, ADDRESSEE)
    assert (respond.response.value, respond.reason) == ("declined", answer["reason"])
    shown = (await view(client, recommendation_id, ADDRESSEE)).json()
    assert shown["status"] == "acknowledged"  # nothing decided it: the view is as it was


async def test_acknowledging_and_answering_at_once_is_never_refused(routed: IngestClient) -> None:
    """Submitted, acknowledged and answered back to back: the router's order, not a view's."""
    answers: list[dict[str, Any]] = [
        {"response": "accepted"},
        {"response": "declined", "reason": "No troops free"},
        {"response": "done"},
    ]
    for index in range(20):
        recommendation_id = await submit(routed)
        answer = answers[index % len(answers)]
        ack = await command(routed, recommendation_id, ADDRESSEE)
        responded = await command(routed, recommendation_id, ADDRESSEE, answer)
        assert (ack.status_code, responded.status_code) == (200, 200), (ack.text, responded.text)
        assert ack.json()["status"] == "acknowledged"
        assert responded.json()["status"] == answer["response"]
    assert routed.pump.staged(RECOMMENDATION_COMMAND_REJECTED) == []


@pytest.mark.parametrize(
    ("body", "location"),
    [
        pytest.param({"response": "declined"}, ["body", "reason"], id="declined-no-reason"),
        pytest.param({"response": "declined", "reason": "  "}, ["body", "reason"], id="blank"),
        pytest.param({"response": "maybe"}, ["body", "response"], id="bad-response"),
        pytest.param({}, ["body", "response"], id="no-response"),
    ],
)
async def test_invalid_answers_get_422(
    db: Database, client: httpx.AsyncClient, body: dict[str, Any], location: list[str]
) -> None:
    recommendation_id = await issued(db, client)
    await apply(db, acknowledged(recommendation_id))
    response = await command(client, recommendation_id, ADDRESSEE, body)
    assert response.status_code == 422, response.text
    assert location in [e["loc"] for e in response.json()["errors"]]
    if location[-1] == "reason":
        assert "reason" in response.text
    assert await db.count(OUTBOX) == 1  # the submitted event alone


ACCEPT = {"response": "accepted"}
DECLINE = {"response": "declined", "reason": "No"}
DONE = {"response": "done"}


@pytest.mark.parametrize(
    ("before", "body", "message"),
    [
        pytest.param([], ACCEPT, "acknowledge the recommendation before responding",
                     id="respond-before-ack"),
        pytest.param([None], None, f"already acknowledged by {ADDRESSEE}", id="ack-twice"),
        pytest.param([None, DECLINE], DONE, "already declined", id="answer-declined"),
        pytest.param([None, DONE], None, f"already done by {ADDRESSEE}", id="ack-done"),
        pytest.param([None, ACCEPT], {"response": "declined", "reason": "Changed our mind"},
                     "already accepted: the only answer left is done", id="decline-accepted"),
    ],
)  # fmt: skip
async def test_commands_the_state_does_not_allow_get_409(
    routed: IngestClient,
    before: list[dict[str, Any] | None],
    body: dict[str, Any] | None,
    message: str,
) -> None:
    """``before``: the addressee's commands that bring it to its state (None: acknowledge)."""
    recommendation_id = await submit(routed)
    for step in before:
        done = await command(routed, recommendation_id, ADDRESSEE, step)
        assert done.status_code == 200, done.text
    await routed.pump.settle()  # issued, whatever ``before`` did
    shown = (await view(routed, recommendation_id, AUTHOR)).json()

    response = await command(routed, recommendation_id, ADDRESSEE, body)

    assert response.status_code == 409, response.text
    assert response.json()["detail"] == message
    [rejection] = rejections(routed, recommendation_id)
    assert (rejection.payload["refusal"], rejection.payload["reason"]) == ("wrong_state", message)
    assert rejection.payload["person_id"] == ADDRESSEE
    after = (await view(routed, recommendation_id, AUTHOR)).json()
    assert {k: v for k, v in after.items() if k != "history"} == {
        k: v for k, v in shown.items() if k != "history"
    }  # the refusal changed nothing


async def test_commands_on_an_undeliverable_recommendation_are_refused(
    routed: IngestClient,
) -> None:
    """Nobody holds the role there: it has no addressee, so nobody may acknowledge it."""
    recommendation_id = await submit(
        routed, addressee={"role": "police_focal_point"}, sector="north"
    )
    by_addressee = await command(routed, recommendation_id, ADDRESSEE)  # it was never theirs
    assert by_addressee.status_code == 404, by_addressee.text
    assert by_addressee.json()["detail"] == f"no recommendation {recommendation_id}"
    by_author = await command(routed, recommendation_id, AUTHOR)
    assert by_author.status_code == 403, by_author.text
    assert by_author.json()["detail"] == f"{AUTHOR} is not an addressee of this recommendation"
    refused = rejections(routed, recommendation_id)
    assert [(r.payload["person_id"], r.payload["refusal"]) for r in refused] == [
        (ADDRESSEE, "not_found"),
        (AUTHOR, "not_allowed"),
    ]
    shown = (await view(routed, recommendation_id, AUTHOR)).json()
    assert (shown["status"], shown["addressees"], shown["acknowledged_by"]) == (
        "undeliverable",
        [],
        None,
    )


async def test_accepted_can_still_be_done(db: Database, client: httpx.AsyncClient) -> None:
    recommendation_id = await issued(db, client)
    accepted = {**ACKNOWLEDGED, "status": "accepted", "response": "accepted"}
    await apply(db, state(recommendation_id, 2, **accepted))
    response = await command(client, recommendation_id, ADDRESSEE, {"response": "done"})
    assert response.status_code == 202, response.text


async def test_who_may_answer(db: Database, routed: IngestClient) -> None:
    recommendation_id = await submit(routed)
    by_author = await command(routed, recommendation_id, AUTHOR)
    assert by_author.status_code == 403, by_author.text
    assert by_author.json()["detail"] == f"{AUTHOR} is not an addressee of this recommendation"
    by_outsider = await command(routed, recommendation_id, OUTSIDER, {"response": "accepted"})
    assert by_outsider.status_code == 404, by_outsider.text
    assert by_outsider.json()["detail"] == f"no recommendation {recommendation_id}"
    refused = rejections(routed, recommendation_id)
    assert [
        (r.payload["person_id"], r.payload["refusal"], r.payload["reason"]) for r in refused
    ] == [
        (AUTHOR, "not_allowed", by_author.json()["detail"]),
        (OUTSIDER, "not_found", by_outsider.json()["detail"]),
    ]
    # The permissions table: the JOC may not respond at all; refused at once, nothing staged.
    by_joc = await command(routed, recommendation_id, AUTHOR, {"response": "accepted"})
    assert by_joc.status_code == 403, by_joc.text
    assert by_joc.json()["detail"] == f"{AUTHOR} (joc_operator) may not respond"
    await routed.pump.settle()
    assert [e.actor for e in routed.pump.staged(RECOMMENDATION_RESPOND)] == [OUTSIDER]
    assert await db.count(OUTBOX) == 0
    shown = (await view(routed, recommendation_id, ADDRESSEE)).json()
    assert (shown["status"], shown["acknowledged_by"], shown["response"]) == ("issued", None, None)


# --------------------------------------------------------------------------- read side


async def test_older_states_and_replays_are_ignored(
    db: Database, client: httpx.AsyncClient
) -> None:
    recommendation_id = await submit(client)
    newer = acknowledged(recommendation_id, version=2)
    issued_event = Envelope(
        type=RECOMMENDATION_ISSUED,
        producer="router",
        actor="router",
        correlation_id=UUID(recommendation_id),
        payload=RecommendationIssuedV1(
            recommendation_id=UUID(recommendation_id),
            addressees=[ADDRESSEE],
            addressee_component="military",
            due_by=utc_now() + timedelta(hours=2),
        ).model_dump(mode="json"),
    )
    acknowledged_event = Envelope(
        type=RECOMMENDATION_ACKNOWLEDGED,
        producer="router",
        actor=ADDRESSEE,
        correlation_id=UUID(recommendation_id),
        payload=RecommendationAcknowledgedV1(
            recommendation_id=UUID(recommendation_id), person_id=ADDRESSEE, in_time=True
        ).model_dump(mode="json"),
    )
    # the consumers run concurrently: version 2 arrives before version 1
    await apply(db, issued_event, acknowledged_event, newer, state(recommendation_id, 1))
    await apply(db, newer, acknowledged_event)  # redelivered

    shown = (await view(client, recommendation_id, ADDRESSEE)).json()
    assert (shown["status"], shown["version"], shown["acknowledged_by"]) == (
        "acknowledged", 2, ADDRESSEE,
    )  # fmt: skip
    assert [(h["type"], h["actor"]) for h in shown["history"]] == [
        (RECOMMENDATION_SUBMITTED, AUTHOR),
        ("recommendation.issued", "router"),
        (RECOMMENDATION_ACKNOWLEDGED, ADDRESSEE),
    ]
    assert shown["history"][1]["addressees"] == [ADDRESSEE]
    assert shown["history"][2]["in_time"] is True
    # submitted + issued + acknowledged + two states, each once
    assert await db.count(RecommendationTimelineRecord) == 5
    assert await db.count(RecommendationAddresseeRecord) == 1


async def test_events_of_unknown_recommendations_are_ignored(db: Database) -> None:
    await apply(db, state(str(uuid4())))
    assert await db.count(RecommendationTimelineRecord) == 0


async def test_list_filters_and_pages(db: Database, client: httpx.AsyncClient) -> None:
    first = await issued(db, client)
    second = await issued(db, client, sector="north", addressee={"role": "head_of_office"})
    late = await issued(db, client)
    await apply(db, state(late, 2, escalated_at=utc_now().isoformat(), escalated_to=["lucas.ho"]))

    async def ids(person: str = AUTHOR, **params: Any) -> list[str]:
        response = await client.get("/v1/recommendations", params=params, headers=bearer(person))
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert await ids() == [late, second, first]
    assert await ids(sector="north") == [second]
    assert await ids(overdue="true") == [late]
    assert await ids(overdue="false") == [second, first]
    assert await ids(status="issued", sector="beni") == [late, first]
    assert await ids(status="declined") == []

    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = await client.get("/v1/recommendations", params=params, headers=bearer())
        seen += [item["id"] for item in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == [late, second, first]

    bad = await client.get("/v1/recommendations", params={"cursor": "nope"}, headers=bearer())
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["loc"] == ["query", "cursor"]
    wrong = await client.get("/v1/recommendations", params={"status": "x"}, headers=bearer())
    assert wrong.status_code == 422


# --------------------------------------------------------------------------- report


async def test_report_counts_a_declined_recommendation_with_its_reason(
    db: Database, client: httpx.AsyncClient
) -> None:
    recommendation_id = await issued(db, client)
    now = utc_now().isoformat()
    declined = {"status": "declined", "response": "declined", "reason": "No troops",
                "responded_by": ADDRESSEE, "responded_at": now}  # fmt: skip
    await apply(db, acknowledged(recommendation_id, 2, **declined))
    await issued(db, client, sector="north", addressee={"role": "head_of_office"})
    raised = await client.post("/v1/alerts", json=alert_request(), headers=bearer())
    assert raised.status_code == 201

    # The figures are for senior civilians and auditors, not for every focal point.
    refused = await client.get("/v1/reports/recommendations", headers=bearer(OUTSIDER))
    assert refused.status_code == 403, refused.text
    response = await client.get("/v1/reports/recommendations", headers=bearer("audit.one"))
    assert response.status_code == 200, response.text
    report = response.json()
    section = report["recommendations"]
    assert [(g["sector"], g["addressee_component"]) for g in section["groups"]] == [
        ("beni", "military"),
        ("north", "military"),
    ]
    beni = section["groups"][0]
    assert (beni["issued"], beni["acknowledged"], beni["acknowledged_in_time"]) == (1, 1, 1)
    assert (beni["declined"], beni["declined_reasons"], beni["overdue"]) == (1, ["No troops"], 0)
    assert beni["median_seconds_to_respond"] is not None
    assert (section["totals"]["issued"], section["totals"]["declined"]) == (2, 1)
    assert report["alerts"]["totals"]["raised"] == 1
    assert report["alerts"]["sectors"][0]["sector"] == "beni"

    only_north = await client.get(
        "/v1/reports/recommendations", params={"sector": "north"}, headers=bearer(READER)
    )
    assert [g["sector"] for g in only_north.json()["recommendations"]["groups"]] == ["north"]
    assert only_north.json()["alerts"]["totals"]["raised"] == 0
    later = (utc_now() + timedelta(minutes=5)).isoformat()
    empty = await client.get(
        "/v1/reports/recommendations", params={"since": later}, headers=bearer(READER)
    )
    assert empty.json()["recommendations"]["totals"]["issued"] == 0
    naive = await client.get(
        "/v1/reports/recommendations",
        params={"since": "2026-01-01T00:00:00"},
        headers=bearer(READER),
    )
    assert naive.status_code == 422
    assert (await client.get("/v1/reports/recommendations")).status_code == 401


# --------------------------------------------------------------------------- through the broker


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    for _ in range(200):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what} did not happen within 20 s")


async def test_the_views_consumer_applies_recommendation_events_from_the_bus(
    db: Database, amqp_url: str
) -> None:
    settings = Settings(
        amqp_url=amqp_url,
        database_url=db.url,
        jwt_secret=JWT_SECRET,
        directory=EXAMPLE_DIRECTORY,
        outbox_poll_interval=0.1,
    )
    service = IngestService(settings)
    await service.start()
    try:
        transport = httpx.ASGITransport(app=service.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest.test") as client:
            recommendation_id = await submit(client)
            bus = Bus(amqp_url, prefetch=1, delivery_limit=settings.delivery_limit)
            await bus.connect()
            try:
                # as the router publishes it: inside its transaction's router.decisions
                await bus.publish([to_outgoing(m) for m in pack([state(recommendation_id)])])
            finally:
                await bus.close()

            async def visible() -> bool:
                return (await view(client, recommendation_id, ADDRESSEE)).status_code == 200

            await eventually(visible, "the state reaching the view")
            shown = await view(client, recommendation_id, ADDRESSEE)
            assert shown.json()["status"] == "issued"

        async def relayed() -> bool:
            return await db.count(OUTBOX) == 0

        # ingest's own recommendation.submitted went out (and came back as a no-op)
        await eventually(relayed, "the outbox being relayed")
        assert await db.count(RecommendationTimelineRecord) == 2  # submitted, state_changed
    finally:
        await service.stop()
