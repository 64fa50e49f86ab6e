"""The services' HTTP server: request heads beyond the limits get 431, parser refusals problem+json.

The server is the one ``coord up`` and ``coord run`` start (``shared.http_server``),
listening on a real socket: the limits live in the HTTP parser, before any ASGI code.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from shared.http_server import HeaderLimits, server_config
from shared.settings import Settings

LIMITS = HeaderLimits(max_bytes=8192, max_count=30)


async def _echo(request: Request) -> JSONResponse:
    return JSONResponse({"headers": len(request.headers)})


async def _live(_: Request) -> StreamingResponse:
    async def events() -> AsyncIterator[bytes]:
        yield b"event: one\n\n"
        await asyncio.sleep(0.5)
        yield b"event: two\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


@pytest.fixture
async def port() -> AsyncIterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    app = Starlette(routes=[Route("/v1/alerts", _echo), Route("/v1/stream", _live)])
    server = uvicorn.Server(server_config(app, "127.0.0.1", sock.getsockname()[1], LIMITS))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()  # surfaces why the server did not start
        await asyncio.sleep(0.01)
    yield sock.getsockname()[1]
    server.should_exit = True
    await task


async def _exchange(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` raw, read the answer until the server closes or it is complete."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
    except ConnectionError:
        pass  # the server answered and closed before taking the whole request
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines if line)
    body = await reader.readexactly(int(headers["content-length"]))
    writer.close()
    return int(status_line.split()[1]), headers, body


def _get(*headers: bytes) -> bytes:
    return b"GET /v1/alerts HTTP/1.1\r\nHost: coord\r\n" + b"".join(headers) + b"\r\n"


async def test_a_request_within_the_limits_reaches_the_service(port: int) -> None:
    headers = [b"X-Note-%d: %s\r\n" % (i, b"a" * 200) for i in range(25)]
    status, _, body = await _exchange(port, _get(*headers))
    assert status == 200
    assert json.loads(body) == {"headers": 26}


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        pytest.param(
            [b"X-Padding: " + b"a" * 8 * 1024 * 1024 + b"\r\n"],
            "the request headers are larger than the limit of 8192 bytes",
            id="one-8MB-header",
        ),
        pytest.param(
            [b"X-Note-%d: %s\r\n" % (i, b"a" * 500) for i in range(20)],
            "the request headers are larger than the limit of 8192 bytes",
            id="many-headers-over-the-size",
        ),
        pytest.param(
            [b"X-N%d: 1\r\n" % i for i in range(40)],
            "the request has more than 30 headers",
            id="too-many-headers",
        ),
    ],
)
async def test_an_oversized_head_is_refused_with_431(
    port: int, headers: list[bytes], detail: str
) -> None:
    status, response_headers, body = await _exchange(port, _get(*headers))
    assert status == 431
    assert response_headers["content-type"] == "application/problem+json"
    problem = json.loads(body)
    assert problem["status"] == 431
    assert problem["detail"] == detail


async def test_the_limit_holds_for_every_request_of_a_kept_alive_connection(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(_get())
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    await reader.readexactly(int(head.split(b"content-length: ")[1].split(b"\r\n")[0]))
    # The second request's head never ends: it is refused once it passes the limit.
    writer.write(b"GET /v1/alerts HTTP/1.1\r\nHost: coord\r\nX-Padding: ")
    for _ in range(10):
        writer.write(b"a" * 4096)
        await writer.drain()
        await asyncio.sleep(0.01)
    answer = await asyncio.wait_for(reader.read(), timeout=5)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:80]


async def test_a_refusal_never_cuts_into_a_response_still_being_sent(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /v1/stream HTTP/1.1\r\nHost: coord\r\n\r\n")
    await writer.drain()
    await reader.readuntil(b"event: one")
    writer.write(_get(b"X-Padding: " + b"a" * 10_000 + b"\r\n"))  # pipelined, too large
    await writer.drain()
    rest = await asyncio.wait_for(reader.read(), timeout=5)  # until the server closes
    writer.close()
    assert b"event: two" in rest  # the stream ended as it would have
    assert b"431" not in rest


async def test_a_control_character_in_a_header_gets_a_problem_not_plain_text(port: int) -> None:
    status, response_headers, body = await _exchange(port, _get(b"X-Note: a\x01b\r\n"))
    assert status == 400
    assert response_headers["content-type"] == "application/problem+json"
    assert "not valid HTTP/1.1" in json.loads(body)["detail"]


def test_the_limits_are_settings() -> None:
    settings = Settings(max_header_bytes=16384, max_headers=50)
    assert HeaderLimits.from_settings(settings) == HeaderLimits(16384, 50)
    assert HeaderLimits.from_settings(Settings()) == HeaderLimits(32768, 100)
