"""Limits on requests: body size (413, before anything else) and NUL characters (422).

NUL is refused everywhere because no field has a use for it and PostgreSQL
text cannot store it: caught at the edge it is a clear 422, not a 500 from the
database halfway through a request. It is checked once the caller is
authenticated (``services.ingest.caller``): a caller without a token learns
nothing about what a request may hold.
"""

from __future__ import annotations

import re

from fastapi import HTTPException, status
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.problems import PROBLEM_MEDIA_TYPE, make_problem, problem_bytes

# A JSON \u0000 escape not itself escaped (an even number of backslashes before it).
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000", re.IGNORECASE)


def nul_in(scope: Scope, body: bytes) -> str | None:
    """Where the request carries a NUL character (query, header or body); None if nowhere."""
    if b"%00" in scope.get("query_string", b""):
        return "the query string"
    if any(b"\x00" in value for _, value in scope["headers"]):
        return "a header"
    if b"\x00" in body or _JSON_NUL.search(body):
        return "the body"
    return None


def refuse_nul(scope: Scope, body: bytes) -> None:
    """Raise a 422 naming where the request carries a NUL character, if it does."""
    where = nul_in(scope, body)
    if where is not None:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"{where} contains a NUL character (\\u0000); no field accepts one",
        )


class BodySizeLimit:
    """ASGI middleware: 413 for a body over ``max_bytes`` (declared or streamed).

    Before authentication: reading a body of any size to check a token first would
    be the memory bound the limit is there to keep.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on with its body read, or answer 413."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, send, 413, self._too_large)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, send, 413, self._too_large)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @property
    def _too_large(self) -> str:
        return f"request body is larger than the limit of {self.max_bytes} bytes"

    async def _refuse(self, scope: Scope, send: Send, status: int, detail: str) -> None:
        # Answered here, outside FastAPI's exception handlers: built as the same problem shape.
        body = problem_bytes(make_problem(status, detail, instance=scope["path"]))
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
