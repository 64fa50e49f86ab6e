"""A webhook receiver in the test's event loop: the officers' phones, over real HTTP.

``WebhookSink`` listens on 127.0.0.1 (a free port), checks each POST's
``X-Coord-Signature`` with the webhook secret and answers 200 (401 when it does not
verify, as a real receiver would), and keeps every receipt for the test to read.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from shared.signing import SIGNATURE_HEADER, verify


@dataclass(frozen=True)
class Receipt:
    """One POST: to whom (the path), the signature's verdict, and the JSON body."""

    person_id: str
    event: str  # X-Coord-Event, e.g. alert.page
    signed: bool
    body: dict[str, Any]

    @property
    def kind(self) -> str:
        """The notification's kind: page, acknowledged, message, recommendation..."""
        return str(self.body.get("kind"))


class _Server(uvicorn.Server):
    # In the test's thread: leave its signal handlers to pytest.
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class WebhookSink:
    """Records signed webhooks POSTed to ``<base_url>/<person_id>``."""

    def __init__(self, secret: str) -> None:
        self.receipts: list[Receipt] = []
        self._secret = secret
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        app = Starlette(routes=[Route("/{person_id}", self._receive, methods=["POST"])])
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        self._server = _Server(config)
        self._task: asyncio.Task[None] | None = None

    async def _receive(self, request: Request) -> JSONResponse:
        raw = await request.body()
        signed = bool(verify(raw, request.headers.get(SIGNATURE_HEADER, ""), self._secret))
        self.receipts.append(
            Receipt(
                person_id=request.path_params["person_id"],
                event=request.headers.get("X-Coord-Event", ""),
                signed=signed,
                body=json.loads(raw) if signed else {},  # an unsigned body may be anyone's
            )
        )
        return JSONResponse({"received": signed}, status_code=200 if signed else 401)

    def to(self, person_id: str, kind: str | None = None, **fields: str) -> list[Receipt]:
        """What ``person_id`` received, of ``kind`` if given, with body ``fields`` equal."""
        return [
            r
            for r in self.receipts
            if r.person_id == person_id
            and (kind is None or r.kind == kind)
            and all(str(r.body.get(name)) == value for name, value in fields.items())
        ]

    async def __aenter__(self) -> WebhookSink:
        self._task = asyncio.create_task(self._server.serve(sockets=[self._socket]))
        while not self._server.started:
            if self._task.done():
                await self._task  # raises why it could not start
            await asyncio.sleep(0.005)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await self._task
        self._socket.close()
