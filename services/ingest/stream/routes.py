"""The public HTTP API v1 of the live stream (server-sent events)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from services.ingest.caller import AuthenticatedRoute
from services.ingest.deps import Context, MayRead, Token
from services.ingest.stream.hub import frames

router = APIRouter(prefix="/v1", tags=["stream"], route_class=AuthenticatedRoute)


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream(person: MayRead, token: Token, context: Context) -> StreamingResponse:
    """Live events of the alerts the caller may see, and the caller's own pages (SSE).

    Each event is checked against the caller as the directory is now. The stream ends
    with ``event: reauthenticate`` when the token expires or the caller may no longer
    read it (left the directory, lost the role): reconnect with a fresh token.
    """
    subscriber = context.stream.subscribe(
        person, directory=context.directories.get, expires_at=token.expires_at
    )
    return StreamingResponse(
        frames(context.stream, subscriber),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
