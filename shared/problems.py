"""RFC 9457 problem details: the one shape of every HTTP error of every service.

Every error answer is ``application/problem+json``::

    {"type": "/problems/not-found", "title": "Not Found", "status": 404,
     "detail": "no alert 6d3c...", "instance": "/v1/alerts/6d3c..."}

``type`` is a stable relative URI naming the kind of problem (``PROBLEM_TYPES``);
a status without a kind of its own is ``about:blank``, its title the HTTP phrase.
A request that fails validation (422, ``/problems/validation``) also lists each
problem in ``errors`` (``loc``, ``msg``, ``type``), and ``detail`` names them all.
The convention is documented in docs/contract.md ("Errors").
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_MEDIA_TYPE = "application/problem+json"
VALIDATION_TYPE = "/problems/validation"
ABOUT_BLANK = "about:blank"

# The kind of problem of each status (HTTPException, Starlette's 404/405, the 413 middleware,
# the rate limit). Stable: clients may switch on them; other statuses are "about:blank".
PROBLEM_TYPES: dict[int, str] = {
    400: "/problems/bad-request",
    401: "/problems/unauthorized",
    403: "/problems/forbidden",
    404: "/problems/not-found",
    405: "/problems/method-not-allowed",
    409: "/problems/conflict",
    413: "/problems/body-too-large",
    422: "/problems/unprocessable",
    429: "/problems/rate-limited",
    500: "/problems/internal",
    503: "/problems/unavailable",
}

_NO_BODY = frozenset({204, 304})  # statuses that must not carry a body (RFC 9110)
# Never echo internals (exception text, SQL, paths) to the caller: the log has them.
_INTERNAL_DETAIL = "the server failed to handle the request; it has been logged"

log = structlog.get_logger(__name__)


class ProblemError(BaseModel):
    """One reason a request is invalid: where, why, and pydantic's machine-readable kind."""

    loc: list[str | int] = Field(description='Where: ["body", "sector"], ["query", "cursor"]')
    msg: str
    type: str = Field(description="Kind of error: missing, extra_forbidden, value_error, ...")


class Problem(BaseModel):
    """An RFC 9457 problem details object."""

    type: str = Field(
        default=ABOUT_BLANK,
        description='Kind of problem: a relative URI such as "/problems/validation", '
        'or "about:blank" (the title is then the HTTP status phrase)',
    )
    title: str = Field(description="Short summary of the kind of problem")
    status: int = Field(description="The HTTP status code")
    detail: str = Field(description="What went wrong with this request, for a person")
    instance: str | None = Field(default=None, description="The request path")
    errors: list[ProblemError] | None = Field(
        default=None, description="Each invalid part of the request (validation problems only)"
    )


def problem_type(status: int) -> str:
    """The ``type`` URI of a problem answered with ``status``."""
    return PROBLEM_TYPES.get(status, ABOUT_BLANK)


def problem_title(status: int) -> str:
    """The HTTP reason phrase of ``status`` (``"Error"`` for a code Python does not know)."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def make_problem(
    status: int,
    detail: str,
    *,
    instance: str | None = None,
    type_: str | None = None,
    title: str | None = None,
    errors: Sequence[ProblemError] | None = None,
) -> Problem:
    """A problem of ``status``; type and title follow the convention unless given."""
    return Problem(
        type=type_ or problem_type(status),
        title=title or problem_title(status),
        status=status,
        detail=detail,
        instance=instance,
        errors=list(errors) if errors is not None else None,
    )


def problem_bytes(problem: Problem) -> bytes:
    """The JSON body of ``problem`` (unset optional members left out)."""
    return json.dumps(problem.model_dump(mode="json", exclude_none=True)).encode()


def problem_response(problem: Problem, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """``problem`` as an ``application/problem+json`` response with its status."""
    return JSONResponse(
        problem.model_dump(mode="json", exclude_none=True),
        status_code=problem.status,
        headers=dict(headers) if headers else None,
        media_type=PROBLEM_MEDIA_TYPE,
    )


def _location(loc: Sequence[Any]) -> list[str | int]:
    return [part if isinstance(part, int) else str(part) for part in loc]


def _message(error: Mapping[str, Any]) -> str:
    message = str(error.get("msg", "invalid"))
    # FastAPI's "JSON decode error" alone does not say what is wrong; its context does.
    reason = (error.get("ctx") or {}).get("error")
    return f"{message}: {reason}" if error.get("type") == "json_invalid" and reason else message


def validation_problem(errors: Sequence[Mapping[str, Any]], instance: str | None) -> Problem:
    """The 422 of a request that failed validation; ``detail`` names every wrong field."""
    items = [
        ProblemError(
            loc=_location(error.get("loc", ())),
            msg=_message(error),
            type=str(error.get("type", "value_error")),
        )
        for error in errors
    ]
    named = "; ".join(f"{'.'.join(map(str, item.loc))}: {item.msg}" for item in items)
    count = f"{len(items)} invalid field" + ("s" if len(items) != 1 else "")
    return make_problem(
        422,
        f"{count} - {named}" if items else "the request is invalid",
        instance=instance,
        type_=VALIDATION_TYPE,
        title="Request validation failed",
        errors=items,
    )


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101 - registered for that class
    if exc.status_code in _NO_BODY:
        return Response(status_code=exc.status_code, headers=exc.headers)
    detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail, default=str)
    problem = make_problem(exc.status_code, detail, instance=request.url.path)
    # The headers carry the protocol: WWW-Authenticate on a 401, Retry-After on a 429.
    return problem_response(problem, exc.headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for that class
    return problem_response(validation_problem(exc.errors(), request.url.path))


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    # Starlette answers with this, then re-raises for the server; the log line says where.
    log.error(
        "http.unhandled_error",
        method=request.method,
        path=request.url.path,
        error=type(exc).__name__,
        exc_info=exc,
    )
    return problem_response(make_problem(500, _INTERNAL_DETAIL, instance=request.url.path))


# Documented error responses of the v1 API (FastAPI ``responses=``); every error is a problem.
_PROBLEM_CONTENT: dict[str, Any] = {
    PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}
}
COMMON_PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": description, "content": _PROBLEM_CONTENT}
    for status, description in {
        # FastAPI's own answer to a body it cannot decode (not UTF-8); bad JSON is a 422.
        400: "The body could not be read",
        401: "Missing or invalid bearer token",
        403: "The caller may not do this",
        404: "No such resource, or not one the caller may see",
        413: "Body larger than the limit",
        422: "Invalid request: each problem is named in `errors`",
        429: "Too many requests from this person: see Retry-After",
        503: "The service is starting, or the identity provider is unavailable",
    }.items()
}


def _document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Every 4xx/5xx response of ``schema`` is a Problem (the handlers guarantee it)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    problem_schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(problem_schema.pop("$defs", {}))
    components["Problem"] = problem_schema
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            for status, response in operation.get("responses", {}).items():
                if status.isdigit() and int(status) >= 400:  # noqa: PLR2004 - error statuses
                    # Replaces FastAPI's default 422 (HTTPValidationError), which we never send.
                    response["content"] = json.loads(json.dumps(_PROBLEM_CONTENT))
    if "HTTPValidationError" not in json.dumps(schema.get("paths", {})):
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
    return schema


def install_problem_handlers(app: FastAPI) -> None:
    """Answer every error of ``app`` as a problem, and document them so in its OpenAPI."""
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unhandled)
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _document_problems(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented extension point
