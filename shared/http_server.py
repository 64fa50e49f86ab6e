"""The HTTP server every service listens with: uvicorn on httptools, with limits on headers.

httptools puts no bound on request headers, and they are read before any route or
middleware (authentication, the body limit) runs: an 8 MB header was taken whole
and answered 200. The protocol here counts what the head of each request takes and
answers ``431`` once it passes ``COORD_MAX_HEADER_BYTES`` or ``COORD_MAX_HEADERS``
(RFC 6585), and turns the parser's own refusals (a control character in a header,
a malformed request line) into ``application/problem+json`` like every other error,
instead of uvicorn's plain-text 400.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import ClassVar

import structlog
import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from shared.problems import PROBLEM_MEDIA_TYPE, make_problem, problem_bytes
from shared.settings import Settings

__all__ = ["HeaderLimits", "server_config"]

log = structlog.get_logger(__name__)
# How long a refused connection is drained before it is closed.
LINGER_SECONDS = 2.0
_REASONS = {400: b"Bad Request", 431: b"Request Header Fields Too Large"}


@dataclass(frozen=True)
class HeaderLimits:
    """How much a request's head (request line and headers) may take."""

    max_bytes: int
    max_count: int

    @classmethod
    def from_settings(cls, settings: Settings) -> HeaderLimits:
        """The limits the settings give."""
        return cls(settings.max_header_bytes, settings.max_headers)


class _HeadTooLarge(Exception):
    """Raised from a parser callback to stop parsing; the reason is kept on the protocol."""


class _LimitedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, refusing oversized heads with a problem+json 431."""

    limits: ClassVar[HeaderLimits]
    _reading_head = False  # between a request's first byte and the end of its headers
    _head_began_in_chunk = False
    _head_bytes = 0  # bytes received while the current head is unfinished (an upper bound)
    _header_count = 0
    _header_size = 0  # the head as parsed: request target and headers
    _refusal: tuple[int, str] | None = None
    _lingering = False

    def data_received(self, data: bytes) -> None:
        """Feed the parser, then refuse a head that has grown past the limit unfinished."""
        if self._lingering:
            return  # refused: the rest of the request is read and dropped
        self._head_began_in_chunk = False
        super().data_received(data)
        if not self._reading_head:
            return
        # A single header longer than the limit never reaches on_header (the parser
        # buffers it), so the bytes received for the unfinished head are what is counted.
        # A head that began in this chunk is counted as the whole chunk: it may hold the
        # end of the previous request too, which errs on the safe side.
        if self._head_began_in_chunk:
            self._head_bytes = len(data)
        else:
            self._head_bytes += len(data)
        if self._head_bytes > self.limits.max_bytes:
            self._write_problem(431, self._too_large)

    def on_message_begin(self) -> None:
        """A new request: its head is being read."""
        super().on_message_begin()
        self._reading_head = True
        self._head_began_in_chunk = True
        self._head_bytes = 0
        self._header_count = 0
        self._header_size = 0

    def on_url(self, url: bytes) -> None:
        """Count the request target into the head's size."""
        self._header_size += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        """Count the header, stopping the parser when there are too many."""
        self._header_count += 1
        self._header_size += len(name) + len(value) + 4  # ": " and CRLF
        if self._header_count > self.limits.max_count:
            self._stop(f"the request has more than {self.limits.max_count} headers")
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        """The head is read (a head that came in one piece is measured here)."""
        self._reading_head = False
        if self._header_size > self.limits.max_bytes:
            self._stop(self._too_large)
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:  # noqa: ARG002 - uvicorn's own wording is replaced
        """What uvicorn answers for a request the parser refused, as problem+json."""
        status, detail = self._refusal or (
            400,
            "the request is not valid HTTP/1.1 (for example, a control character in a header)",
        )
        self._write_problem(status, detail)

    def _stop(self, detail: str) -> None:
        """Stop the parser from a callback; uvicorn then calls send_400_response."""
        self._refusal = (431, detail)
        raise _HeadTooLarge(detail)

    @property
    def _too_large(self) -> str:
        return f"the request headers are larger than the limit of {self.limits.max_bytes} bytes"

    def _write_problem(self, status: int, detail: str) -> None:
        body = problem_bytes(make_problem(status, detail))
        head = (
            b"HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %d\r\nconnection: close\r\n\r\n"
        ) % (status, _REASONS[status], PROBLEM_MEDIA_TYPE.encode(), len(body))
        if self._lingering or self.transport.is_closing():
            return
        log.info("http.request_refused", status=status, detail=detail, client=self.client)
        self._lingering = True
        if self.cycle is not None and not self.cycle.response_complete:
            # A response is still being sent on this connection (a pipelined request
            # behind a live stream): writing now would cut into it. Read nothing more,
            # and close once that response ends.
            self.cycle.keep_alive = False
            return
        self.transport.write(head + body)
        # A lingering close (as nginx does): closing at once, with the rest of a large
        # request unread, makes the kernel reset the connection, and the client loses
        # the answer. So say we are done sending, drop what still comes, close soon.
        if self.transport.can_write_eof():
            self.transport.write_eof()
        asyncio.get_running_loop().call_later(LINGER_SECONDS, self.transport.close)


def _protocol(limits: HeaderLimits) -> type[HttpToolsProtocol]:
    """The protocol class uvicorn instantiates per connection, bound to ``limits``."""
    return type("LimitedHttpToolsProtocol", (_LimitedProtocol,), {"limits": limits})


def server_config(app: ASGIApp, host: str, port: int, limits: HeaderLimits) -> uvicorn.Config:
    """The uvicorn configuration of a service's HTTP server (logging is structlog's)."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=_protocol(limits),
        log_config=None,
        access_log=False,
    )
