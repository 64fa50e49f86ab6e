"""RFC 9457 problem details: every error of an app has the one shape, documented so."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
import structlog
from fastapi import FastAPI, HTTPException, Query
from pydantic import BaseModel, ConfigDict

from services.ingest.limits import BodySizeLimit
from shared.problems import (
    COMMON_PROBLEM_RESPONSES,
    PROBLEM_MEDIA_TYPE,
    Problem,
    install_problem_handlers,
    problem_title,
    problem_type,
)

SECRET_TEXT = "password=hunter2 at /srv/coord/db.py line 42"  # noqa: S105 - must never leak


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sector: str
    count: int


def make_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/unauthorized")
    async def unauthorized() -> None:
        raise HTTPException(401, "token expired", headers={"WWW-Authenticate": "Bearer"})

    @app.get("/limited")
    async def limited() -> None:
        raise HTTPException(429, "rate limit of 3 per 1 minute", headers={"Retry-After": "7"})

    @app.get("/structured")
    async def structured() -> None:
        raise HTTPException(409, {"state": "resolved"})

    @app.get("/teapot")
    async def teapot() -> None:
        raise HTTPException(418)

    @app.get("/crash")
    async def crash() -> None:
        raise RuntimeError(SECRET_TEXT)

    @app.post("/items", responses=COMMON_PROBLEM_RESPONSES)
    async def items(body: Body, limit: Annotated[int, Query(ge=1)] = 1) -> dict[str, int]:
        return {"count": body.count * limit}

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    # raise_app_exceptions=False: the server answers the 500 (Starlette re-raises afterwards).
    transport = httpx.ASGITransport(app=make_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://problems.test") as client:
        yield client


def problem_of(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body: dict[str, Any] = response.json()
    Problem.model_validate(body)  # the documented schema
    assert body["status"] == response.status_code
    assert isinstance(body["detail"], str)
    return body


@pytest.mark.parametrize(
    ("method", "path", "status", "type_", "detail"),
    [
        pytest.param(
            "GET", "/unauthorized", 401, "/problems/unauthorized", "token expired", id="401"
        ),
        pytest.param("GET", "/nowhere", 404, "/problems/not-found", "Not Found", id="no-route"),
        pytest.param(
            "DELETE", "/items", 405, "/problems/method-not-allowed", "Method Not Allowed", id="405"
        ),
        pytest.param("GET", "/structured", 409, "/problems/conflict", '{"state": "resolved"}'),
        pytest.param("GET", "/limited", 429, "/problems/rate-limited", "rate limit of 3 per"),
        pytest.param("GET", "/teapot", 418, "about:blank", "I'm a Teapot", id="no-type-of-its-own"),
    ],
)
async def test_http_errors_are_problems(  # noqa: PLR0917 - one table row
    client: httpx.AsyncClient, method: str, path: str, status: int, type_: str, detail: str
) -> None:
    response = await client.request(method, path)
    assert response.status_code == status
    problem = problem_of(response)
    assert problem["type"] == type_
    assert problem["title"] == problem_title(status)
    assert detail in problem["detail"]
    assert problem["instance"] == path
    assert "errors" not in problem


async def test_protocol_headers_are_kept(client: httpx.AsyncClient) -> None:
    assert (await client.get("/unauthorized")).headers["www-authenticate"] == "Bearer"
    assert (await client.get("/limited")).headers["retry-after"] == "7"
    assert "allow" in (await client.delete("/items")).headers


async def test_validation_names_every_field(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/items", params={"limit": 0}, json={"count": "many", "colour": "red"}
    )
    assert response.status_code == 422
    problem = problem_of(response)
    assert problem["type"] == "/problems/validation"
    assert problem["title"] == "Request validation failed"
    locations = [error["loc"] for error in problem["errors"]]
    assert locations == [
        ["query", "limit"],
        ["body", "sector"],
        ["body", "count"],
        ["body", "colour"],
    ]
    assert [error["type"] for error in problem["errors"]] == [
        "greater_than_equal",
        "missing",
        "int_parsing",
        "extra_forbidden",
    ]
    assert problem["detail"].startswith("4 invalid fields - ")
    for dotted in ("query.limit", "body.sector", "body.count", "body.colour"):
        assert dotted in problem["detail"]
    assert "many" not in response.text  # the input is not echoed back


@pytest.mark.parametrize(
    "content", [pytest.param(b"{not json", id="not-json"), pytest.param(b"", id="empty")]
)
async def test_unparseable_bodies_are_validation_problems(
    client: httpx.AsyncClient, content: bytes
) -> None:
    response = await client.post(
        "/items", content=content, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert problem_of(response)["errors"]


async def test_a_crash_is_a_500_problem_that_leaks_nothing(client: httpx.AsyncClient) -> None:
    with structlog.testing.capture_logs() as logs:
        response = await client.get("/crash")
    assert response.status_code == 500
    problem = problem_of(response)
    assert problem["type"] == "/problems/internal"
    assert problem["title"] == "Internal Server Error"
    assert "hunter2" not in response.text
    assert "RuntimeError" not in response.text
    [logged] = [entry for entry in logs if entry["event"] == "http.unhandled_error"]
    assert (logged["path"], logged["error"]) == ("/crash", "RuntimeError")  # but it is logged


async def test_body_size_limit_answers_the_same_problem_shape() -> None:
    app = BodySizeLimit(make_app(), max_bytes=10)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://problems.test") as client:
        response = await client.post("/items", json={"sector": "beni", "count": 12345678})
    assert response.status_code == 413
    problem = problem_of(response)
    assert problem["type"] == "/problems/body-too-large"
    assert problem["detail"] == "request body is larger than the limit of 10 bytes"
    assert problem["instance"] == "/items"
    assert int(response.headers["content-length"]) == len(response.content)


def test_openapi_documents_every_error_as_a_problem() -> None:
    schema = make_app().openapi()
    components = schema["components"]["schemas"]
    assert {"Problem", "ProblemError"} <= components.keys()
    assert "HTTPValidationError" not in components  # FastAPI's default 422, never sent
    responses = schema["paths"]["/items"]["post"]["responses"]
    assert {"401", "403", "404", "413", "422", "429", "503"} <= responses.keys()
    for status, response in responses.items():
        if int(status) >= 400:
            assert response["content"] == {
                PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}
            }, status


@pytest.mark.parametrize(
    ("status", "type_"),
    [(404, "/problems/not-found"), (422, "/problems/unprocessable"), (599, "about:blank")],
)
def test_type_convention(status: int, type_: str) -> None:
    assert problem_type(status) == type_
    assert problem_title(599) == "Error"
