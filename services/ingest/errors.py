"""The one error of a request the service refuses after reading it: 422 naming each field.

Pydantic refuses what is malformed; this is for what is well-formed but wrong for the
mission as it is (a sector the directory lacks, an addressee nobody holds, a forged
cursor). Services raise ``InvalidRequest``; one handler answers it as the same
problem as a validation error, so no route converts errors of its own.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from shared.problems import problem_response, validation_problem

#: Where in the request a problem is: ``("sector",)``, ``("to", 2)``, ...
Location = tuple[str | int, ...]


class InvalidRequest(ValueError):
    """The request is refused: ``problems`` are (location, what is wrong) pairs.

    ``part`` is where the locations are: ``"body"`` or ``"query"``.
    """

    def __init__(self, problems: Sequence[tuple[Location, str]], *, part: str = "body") -> None:
        super().__init__("; ".join(message for _, message in problems))
        self.problems = list(problems)
        self.part = part


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidRequest)  # noqa: S101 - registered for that class
    errors = [
        {"loc": (exc.part, *location), "msg": message, "type": "value_error"}
        for location, message in exc.problems
    ]
    return problem_response(validation_problem(errors, request.url.path))


def install_error_handler(app: FastAPI) -> None:
    """Answer ``InvalidRequest`` (and its kinds) as a 422 problem."""
    app.add_exception_handler(InvalidRequest, _invalid_request)
