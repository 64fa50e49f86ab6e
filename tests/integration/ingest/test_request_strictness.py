"""What ingest makes of a request before any domain rule: the caller first, then a strict body.

Found by an adversarial probe: a request without a token but with a malformed body
was answered 422 (and never rate-limited); ``"lat": true`` was stored as 1.0 and
``"lat": "45"`` as 45.0; a key given twice resolved last-wins; a UTF-8 byte order
mark was accepted.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services.ingest.alerts.tables import AlertViewRecord
from services.ingest.tables import OUTBOX
from tests.support.builders import alert_request
from tests.support.database import Database
from tests.support.ingest_client import ingest_client
from tests.support.tokens import JWT_SECRET, bearer

pytestmark = pytest.mark.integration

JSON = {"Content-Type": "application/json"}


@pytest.fixture
async def client(db: Database) -> AsyncIterator[httpx.AsyncClient]:
    async with ingest_client(db, JWT_SECRET, rate_limit="5/minute") as client:
        yield client


async def _nothing_written(db: Database) -> None:
    assert await db.count(AlertViewRecord) == 0
    assert await db.count(OUTBOX) == 0


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"{not json", id="malformed"),
        pytest.param(b'{"title": "a", "title": "b"}', id="duplicate-key"),
        pytest.param(json.dumps(alert_request(location={"lat": True})).encode(), id="bad-type"),
        pytest.param(json.dumps(alert_request(title="a\u0000")).encode(), id="nul"),
    ],
)
@pytest.mark.parametrize(
    "path",
    [
        "/v1/alerts",
        "/v1/messages",
        "/v1/recommendations",
        "/v1/alerts/6f1c8a52-0d5e-4c1e-9a51-2b8f0c1d7e11/resolve",
    ],
)
async def test_a_caller_without_a_token_gets_401_whatever_the_body(
    db: Database, client: httpx.AsyncClient, path: str, content: bytes
) -> None:
    response = await client.post(path, content=content, headers=JSON)
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "errors" not in response.json()
    await _nothing_written(db)


async def test_a_nul_character_in_the_query_without_a_token_is_401(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/v1/alerts", params={"sector": "beni\u0000"})
    assert response.status_code == 401, response.text


async def test_malformed_bodies_count_against_the_rate_limit(client: httpx.AsyncClient) -> None:
    statuses = [
        (await client.post("/v1/alerts", content=b"{", headers={**bearer(), **JSON})).status_code
        for _ in range(6)
    ]
    assert statuses == [422] * 5 + [429]


def _location(**location: Any) -> bytes:
    return json.dumps(alert_request(location={"name": "Mavivi", **location})).encode()


@pytest.mark.parametrize(
    ("content", "loc", "message"),
    [
        pytest.param(_location(lat=True), "body.location.lat", "valid number", id="lat-true"),
        pytest.param(_location(lat="45"), "body.location.lat", "valid number", id="lat-string"),
        pytest.param(_location(lon=False), "body.location.lon", "valid number", id="lon-false"),
        pytest.param(
            json.dumps(
                {"to": {"persons": ["awa.hfo"]}, "subject": "s", "body": "b", "requires_ack": 1}
            ).encode(),
            "body.requires_ack",
            "valid boolean",
            id="requires-ack-1",
        ),
        pytest.param(
            json.dumps(
                {
                    "to": {"persons": ["awa.hfo"]},
                    "subject": "s",
                    "body": "b",
                    "requires_ack": "yes",
                }
            ).encode(),
            "body.requires_ack",
            "valid boolean",
            id="requires-ack-yes",
        ),
    ],
)
async def test_numbers_and_booleans_are_strict(
    db: Database, client: httpx.AsyncClient, content: bytes, loc: str, message: str
) -> None:
    path = "/v1/messages" if b"requires_ack" in content else "/v1/alerts"
    response = await client.post(path, content=content, headers={**bearer(), **JSON})
    assert response.status_code == 422, response.text
    assert f"{loc}: Input should be a {message}" in response.json()["detail"]
    await _nothing_written(db)


async def test_an_integer_is_a_number(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/alerts", content=_location(lat=0, lon=29), headers={**bearer(), **JSON}
    )
    assert response.status_code == 201, response.text
    assert response.json()["location"] == {"name": "Mavivi", "lat": 0.0, "lon": 29.0}


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        pytest.param(
            b'{"title": "Looting", ' + _location(lat=1.0)[1:],
            "duplicate key 'title'",
            id="duplicate-top-level-key",
        ),
        pytest.param(
            _location(lat=1.0).replace(b'"name": "Mavivi"', b'"lat": 2.0, "name": "Mavivi"'),
            "duplicate key 'lat'",
            id="duplicate-nested-key",
        ),
        pytest.param(
            codecs.BOM_UTF8 + _location(lat=1.0),
            "a byte order mark (BOM) is not allowed",
            id="utf8-bom",
        ),
        pytest.param(
            json.dumps(alert_request(title="Pillage à Béni"), ensure_ascii=False).encode("latin-1"),
            "the body is not UTF-8",
            id="latin-1",
        ),
        pytest.param(
            _location(lat=1.0).replace(b"1.0", b"NaN"), "NaN is not a JSON number", id="nan"
        ),
        pytest.param(
            _location(lat=1.0).replace(b"1.0", b"-Infinity"),
            "-Infinity is not a JSON number",
            id="infinity",
        ),
    ],
)
async def test_json_a_lax_decoder_would_guess_at_is_refused(
    db: Database, client: httpx.AsyncClient, content: bytes, reason: str
) -> None:
    response = await client.post("/v1/alerts", content=content, headers={**bearer(), **JSON})
    assert response.status_code == 422, response.text
    assert f"JSON decode error: {reason}" in response.json()["detail"]
    await _nothing_written(db)
