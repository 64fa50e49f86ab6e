"""The board's live stream: the same server-sent events as ``/v1/stream``, for a signed-in page.

A browser's EventSource cannot send a bearer token, so the board's stream is opened with
the session cookie; what it carries is decided by the same hub and the same need-to-know.
It ends with ``event: reauthenticate`` when the session expires; the page then reloads
(and so signs in again).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from services.ingest.board.session import Reader
from services.ingest.stream.hub import frames

router = APIRouter(include_in_schema=False)


@router.get("/board/stream", response_class=StreamingResponse)
async def board_stream(visitor: Reader) -> StreamingResponse:
    """Live events of the alerts the signed-in person may see."""
    context = visitor.context
    subscriber = context.stream.subscribe(
        visitor.person, directory=context.directories.get, expires_at=visitor.session.expires_at
    )
    return StreamingResponse(
        frames(context.stream, subscriber),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
