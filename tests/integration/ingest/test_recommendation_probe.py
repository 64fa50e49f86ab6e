"""Issue 13: what a recommendation POST reveals and writes, against the real router.

- Classified above its author's clearance: refused (422 naming the clearance) before
  anything is written: no view, nothing staged, nobody paged.
- ``Idempotency-Key``: a retry answers with the first recommendation (200), writes and
  pages nothing more; another body with the key is a 422 naming the header.
- ``alert_id`` follows need-to-know: an alert the author may not see is as unknown as
  an id no alert has (the same 422).

An in-process ``Pump`` does the broker's work, so what the router stages (issued,
pages) is seen. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest

from services.ingest.recommendations.tables import (
    RecommendationTimelineRecord,
    RecommendationViewRecord,
)
from services.ingest.tables import OUTBOX, IdempotencyKeyRecord
from shared.auth import mint_token
from shared.contracts import (
    NOTIFICATION_REQUESTED,
    RECOMMENDATION_ISSUED,
    RECOMMENDATION_SUBMITTED,
)
from shared.envelope import utc_now
from tests.support.builders import alert_request
from tests.support.database import Database
from tests.support.ingest_client import IngestClient, ingest_client

pytestmark = pytest.mark.integration

JWT_SECRET = "recommendation-probe-jwt-secret-" + "0123456789abcdef" * 3
OPERATOR = "jo.operator"  # JOC, mission-wide, cleared CONFIDENTIAL
CLEARED_ADDRESSEE = "awa.hfo"  # head of field office of beni, cleared STRICTLY CONFIDENTIAL


def bearer(person_id: str = OPERATOR) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(person_id, JWT_SECRET)}"}


def recommendation_request(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "addressee": {"person": CLEARED_ADDRESSEE},
        "sector": "beni",
        "action": "Deploy a patrol to Mavivi before nightfall",
        "rationale": "Two abductions on the Mavivi road in 48 hours",
        "due_by": (utc_now() + timedelta(hours=2)).isoformat(),
        "classification": "confidential",
    }
    body.update(overrides)
    return body


@pytest.fixture
async def client(db: Database) -> AsyncIterator[IngestClient]:
    async with ingest_client(db, JWT_SECRET, router=True) as client:
        yield client


def pages(client: IngestClient) -> list[str]:
    """Who the router asked to be paged, in order."""
    return [e.payload["person_id"] for e in client.pump.staged(NOTIFICATION_REQUESTED)]


# --------------------------------------------------------------------------- clearance


async def test_a_recommendation_above_the_authors_clearance_is_refused_and_nothing_happens(
    db: Database, client: IngestClient
) -> None:
    body = recommendation_request(classification="strictly_confidential")
    response = await client.post("/v1/recommendations", json=body, headers=bearer())
    await client.pump.settle()

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    [error] = response.json()["errors"]
    assert error["loc"] == ["body", "classification"]
    assert error["msg"] == "strictly_confidential is above your own clearance (confidential)"
    assert await db.count(RecommendationViewRecord) == 0
    assert await db.count(RecommendationTimelineRecord) == 0
    assert await db.count(OUTBOX) == 0
    assert client.pump.moved == []  # nothing submitted, issued or paged
    listed = await client.get("/v1/recommendations", headers=bearer(CLEARED_ADDRESSEE))
    assert listed.json()["items"] == []


async def test_every_problem_is_named_at_once_clearance_included(
    db: Database, client: IngestClient
) -> None:
    body = recommendation_request(sector="atlantis", classification="strictly_confidential")
    response = await client.post("/v1/recommendations", json=body, headers=bearer())
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["errors"]] == [
        ["body", "sector"],
        ["body", "classification"],
    ]
    assert await db.count(OUTBOX) == 0


async def test_a_recommendation_at_the_authors_clearance_is_issued_and_paged(
    client: IngestClient,
) -> None:
    response = await client.post(
        "/v1/recommendations",
        json=recommendation_request(classification="strictly_confidential"),
        headers=bearer("grace.dsrsg"),
    )
    assert response.status_code == 202, response.text
    await client.pump.settle()
    assert pages(client) == [CLEARED_ADDRESSEE]


# --------------------------------------------------------------------------- Idempotency-Key


async def test_a_retry_with_the_same_key_answers_the_first_recommendation(
    db: Database, client: IngestClient
) -> None:
    headers = {**bearer(), "Idempotency-Key": "patrol-mavivi-1"}
    body = recommendation_request()
    first = await client.post("/v1/recommendations", json=body, headers=headers)
    await client.pump.settle()
    reordered = dict(reversed(list(body.items())))
    again = await client.post("/v1/recommendations", json=reordered, headers=headers)
    await client.pump.settle()

    assert (first.status_code, again.status_code) == (202, 200), again.text
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["location"] == f"/v1/recommendations/{first.json()['id']}"
    assert again.json()["status"] == "issued"  # the first one, as it is now
    assert await db.count(RecommendationViewRecord) == 1
    assert len(client.pump.staged(RECOMMENDATION_SUBMITTED)) == 1
    assert len(client.pump.staged(RECOMMENDATION_ISSUED)) == 1
    assert pages(client) == [CLEARED_ADDRESSEE]


async def test_the_same_key_with_another_body_is_422_naming_the_header(
    db: Database, client: IngestClient
) -> None:
    headers = {**bearer(), "Idempotency-Key": "patrol-mavivi-2"}
    first = await client.post("/v1/recommendations", json=recommendation_request(), headers=headers)
    other = await client.post(
        "/v1/recommendations",
        json=recommendation_request(action="Deploy two patrols"),
        headers=headers,
    )
    await client.pump.settle()

    assert (first.status_code, other.status_code) == (202, 422)
    assert other.headers["content-type"] == "application/problem+json"
    assert "Idempotency-Key" in other.json()["detail"]
    assert await db.count(RecommendationViewRecord) == 1
    assert len(client.pump.staged(RECOMMENDATION_SUBMITTED)) == 1
    assert pages(client) == [CLEARED_ADDRESSEE]


async def test_concurrent_retries_with_one_key_make_one_recommendation(
    db: Database, client: IngestClient
) -> None:
    headers = {**bearer(), "Idempotency-Key": f"race-{uuid4()}"}
    body = recommendation_request()
    responses = await asyncio.gather(
        *(client.post("/v1/recommendations", json=body, headers=headers) for _ in range(4))
    )
    await client.pump.settle()

    assert sorted(r.status_code for r in responses) == [200, 200, 200, 202], [
        r.text for r in responses
    ]
    assert len({r.json()["id"] for r in responses}) == 1
    assert await db.count(RecommendationViewRecord) == 1
    assert len(client.pump.staged(RECOMMENDATION_SUBMITTED)) == 1


async def test_a_refused_request_does_not_use_up_its_key(
    db: Database, client: IngestClient
) -> None:
    headers = {**bearer(), "Idempotency-Key": "patrol-mavivi-3"}
    refused = await client.post(
        "/v1/recommendations",
        json=recommendation_request(classification="strictly_confidential"),
        headers=headers,
    )
    accepted = await client.post(
        "/v1/recommendations", json=recommendation_request(), headers=headers
    )
    assert (refused.status_code, accepted.status_code) == (422, 202)
    assert await db.count(IdempotencyKeyRecord) == 1


async def test_a_key_is_the_persons_whatever_it_created(db: Database, client: IngestClient) -> None:
    headers = {**bearer(), "Idempotency-Key": "one-key"}
    alert = await client.post("/v1/alerts", json=alert_request(), headers=headers)
    recommendation = await client.post(
        "/v1/recommendations", json=recommendation_request(), headers=headers
    )
    assert (alert.status_code, recommendation.status_code) == (201, 422)
    assert "Idempotency-Key" in recommendation.json()["detail"]
    assert await db.count(RecommendationViewRecord) == 0

    # ... and someone else's key of the same name is theirs
    theirs = await client.post(
        "/v1/recommendations",
        json=recommendation_request(),
        headers={**bearer("grace.dsrsg"), "Idempotency-Key": "one-key"},
    )
    assert theirs.status_code == 202, theirs.text


# --------------------------------------------------------------------------- alert_id


async def _alert(client: IngestClient, raiser: str, **overrides: Any) -> str:
    response = await client.post(
        "/v1/alerts", json=alert_request(**overrides), headers=bearer(raiser)
    )
    assert response.status_code == 201, response.text
    await client.pump.settle()
    return str(response.json()["id"])


@pytest.mark.parametrize(
    ("author", "raiser", "overrides"),
    [
        # jo.operator runs the mission-wide board, but is cleared CONFIDENTIAL only
        pytest.param(
            OPERATOR, "awa.hfo", {"classification": "strictly_confidential"}, id="not-cleared"
        ),
        # a moderate alert pages awa.hfo then lucas.ho: the DSRSG is not concerned
        pytest.param("grace.dsrsg", "amani.cla", {"severity": "moderate"}, id="not-concerned"),
    ],
)
async def test_an_alert_the_author_may_not_see_is_unknown_like_no_alert(
    db: Database, client: IngestClient, author: str, raiser: str, overrides: dict[str, Any]
) -> None:
    hidden = await _alert(client, raiser, **overrides)
    assert (await client.get(f"/v1/alerts/{hidden}", headers=bearer(author))).status_code == 404
    nowhere = str(uuid4())

    answers = [
        await client.post(
            "/v1/recommendations",
            json=recommendation_request(alert_id=alert_id),
            headers=bearer(author),
        )
        for alert_id in (hidden, nowhere)
    ]

    assert [a.status_code for a in answers] == [422, 422]
    assert answers[1].json()["errors"][0]["msg"] == f"unknown alert {nowhere}"
    # the same answer, word for word, but for the id asked about
    assert answers[0].text.replace(hidden, "<id>") == answers[1].text.replace(nowhere, "<id>")
    assert await db.count(RecommendationViewRecord) == 0


async def test_an_alert_the_author_sees_may_be_linked(client: IngestClient) -> None:
    # raised by someone else, in a sector the operator's board covers
    alert_id = await _alert(client, "amani.cla")
    response = await client.post(
        "/v1/recommendations", json=recommendation_request(alert_id=alert_id), headers=bearer()
    )
    assert response.status_code == 202, response.text
    assert response.json()["alert_id"] == alert_id
