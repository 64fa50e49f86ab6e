"""The public HTTP API v1 of coordination messages: thin routes over the message services.

Need-to-know: only the sender and the delivered addressees see a message;
anyone else gets 404 (never 403), as if the message did not exist.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, Response, status
from fastapi.responses import JSONResponse

from services.ingest import idempotency
from services.ingest.answers import answer, command_responses
from services.ingest.caller import AuthenticatedRoute
from services.ingest.deps import Context, MayAcknowledge, MayPostMessage, MayRead
from services.ingest.errors import InvalidRequest
from services.ingest.messages import queries as message_queries
from services.ingest.messages import service as messages
from services.ingest.messages.schemas import MessagePage, MessageView, SendMessageBody, ThreadView
from shared.directory import Person
from shared.envelope import Moment

router = APIRouter(prefix="/v1", tags=["messages"], route_class=AuthenticatedRoute)

_VIEW_EXAMPLE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {"example": MessageView.example()}}},
}
_NOT_FOUND = "No such message, or not one the caller may see"


async def _visible_view(context: Context, message_id: UUID, person: Person) -> MessageView:
    async with context.sessions() as session:
        view = await message_queries.get_message(session, message_id, person)
    if view is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no message {message_id}")
    return view


@router.post(
    "/messages",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=MessageView,
    responses={
        **idempotency.RESPONSES,
        401: {"description": "Missing or invalid bearer token"},
        413: {"description": "Body larger than the limit"},
        422: {
            "description": "Invalid message: unknown addressees, classification above the "
            "sender's clearance, in_reply_to not a message the sender can see, "
            "requires_ack without a future ack_due_at; or Idempotency-Key reused with "
            "another request"
        },
    },
)
async def send_message(
    body: SendMessageBody,
    person: MayPostMessage,
    context: Context,
    response: Response,
    idempotency_key: idempotency.IdempotencyKey = None,
) -> MessageView:
    """Send a coordination message; the router resolves and delivers it.

    Answers 202 with the message as the sender sees it: ``status`` is
    ``sending`` and ``addressees`` empty until the router has addressed it.
    A retry with the same ``Idempotency-Key`` and body answers 200 with that message.
    """
    try:
        sent = await messages.send_message(
            context.sessions,
            context.directory,
            person,
            body,
            idempotency_key,
            keys=context.source_keys,
        )
    except idempotency.IdempotencyKeyReused as error:
        raise idempotency.reused(error) from None
    if not sent.created:
        response.status_code = status.HTTP_200_OK
    response.headers["Location"] = f"/v1/messages/{sent.id}"
    return await _visible_view(context, sent.id, person)


@router.get("/messages", response_model=MessagePage)
async def list_messages(
    person: MayRead,
    context: Context,
    *,
    box: Annotated[Literal["inbox", "sent"], Query()] = "inbox",
    thread_id: UUID | None = None,
    unread: bool | None = None,
    requires_ack: bool | None = None,
    since: Moment | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> MessagePage:
    """The caller's inbox (``box=sent``: what they sent), newest first; follow ``next_cursor``."""
    if box == "sent" and unread is not None:
        raise InvalidRequest(
            [(("unread",), "unread: only for the inbox (box=inbox)")], part="query"
        )
    where = message_queries.MessageFilter(
        box=box, thread_id=thread_id, unread=unread, requires_ack=requires_ack, since=since
    )
    async with context.sessions() as session:
        return await message_queries.list_messages(session, person, where, limit, cursor)


@router.get(
    "/messages/{message_id}",
    response_model=MessageView,
    responses={**_VIEW_EXAMPLE, 404: {"description": _NOT_FOUND}},
)
async def get_message(message_id: UUID, person: MayRead, context: Context) -> MessageView:
    """A message with each addressee's delivery, read, acknowledgement and escalation."""
    return await _visible_view(context, message_id, person)


async def _command(
    context: Context, message_id: UUID, person: Person, staged: Awaitable[UUID]
) -> MessageView | JSONResponse:
    return await answer(
        context,
        staged,
        location=f"/v1/messages/{message_id}",
        read=lambda: _visible_view(context, message_id, person),
    )


@router.post(
    "/messages/{message_id}/read",
    response_model=MessageView,
    responses=command_responses("message"),
)
async def mark_read(
    message_id: UUID, person: MayRead, context: Context
) -> MessageView | JSONResponse:
    """Mark the message read by the caller (an addressee); the router records the first read."""
    return await _command(
        context, message_id, person, messages.mark_read(context.sessions, message_id, person)
    )


@router.post(
    "/messages/{message_id}/acknowledge",
    response_model=MessageView,
    responses=command_responses("message"),
)
async def acknowledge_message(
    message_id: UUID, person: MayAcknowledge, context: Context
) -> MessageView | JSONResponse:
    """Acknowledge a ``requires_ack`` message: stops its escalation for the caller."""
    return await _command(
        context, message_id, person, messages.acknowledge(context.sessions, message_id, person)
    )


@router.get(
    "/threads/{thread_id}",
    response_model=ThreadView,
    responses={404: {"description": "No message of this thread the caller may see"}},
)
async def get_thread(thread_id: UUID, person: MayRead, context: Context) -> ThreadView:
    """The thread's messages the caller can see, oldest first."""
    async with context.sessions() as session:
        thread = await message_queries.get_thread(session, thread_id, person)
    if thread is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no thread {thread_id}")
    return thread
