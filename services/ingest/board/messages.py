"""Coordination messages on the board: inbox, sent, a thread, read / acknowledge, compose.

Composing shows, before sending, who will receive the message and who will not and why
(``shared.addressing.deliveries``: the rule the router applies when it addresses it).
Sending goes through the API's ``send_message``, so its checks are the API's.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from starlette.datastructures import FormData

from services.ingest.board.acting import act, back_to
from services.ingest.board.flash import Flash
from services.ingest.board.pages import render
from services.ingest.board.session import Poster, Reader, Visitor
from services.ingest.idempotency import IdempotencyKeyReused
from services.ingest.messages import queries
from services.ingest.messages import service as messages
from services.ingest.messages.schemas import SendMessageBody
from services.ingest.messages.service import InvalidMessage
from shared.addressing import cleared_classifications, deliveries
from shared.contracts.alerts import ORIGINS_ONLY, Component
from shared.envelope import Classification, utc_now
from shared.permissions import Action

router = APIRouter(include_in_schema=False)
LIST_SIZE = 100
ACK_WITHIN_HOURS = (1, 2, 4, 8, 24, 72)  # "answer within": simpler on a phone than a date


@router.get("/messages", response_class=HTMLResponse)
async def message_box(request: Request, visitor: Reader, box: str = "inbox") -> HTMLResponse:
    """The inbox (``box=sent``: what the reader sent), newest first."""
    box = "sent" if box == "sent" else "inbox"
    async with visitor.context.sessions() as session:
        page = await queries.list_messages(
            session, visitor.person, queries.MessageFilter(box=box), LIST_SIZE, None
        )
    return render(request, "messages.html", visitor, box=box, items=page.items)


@router.get("/messages/new", response_class=HTMLResponse)
async def compose(request: Request, visitor: Reader, reply_to: UUID | None = None) -> HTMLResponse:
    """An empty message (a reply: to the thread's sender, its subject kept)."""
    values: dict[str, Any] = {"classification": "unclassified", "ack_within": "4"}
    if reply_to is not None:
        async with visitor.context.sessions() as session:
            original = await queries.get_message(session, reply_to, visitor.person)
        if original is not None:
            values |= {
                "in_reply_to": str(original.id),
                "persons": [original.sender] if original.sender != visitor.person.id else [],
                "subject": f"Re: {original.subject}"[:300],
                "classification": original.classification.value,
            }
    return _compose(request, visitor, values, {}, key=str(uuid.uuid4()))


def _compose(
    request: Request,
    visitor: Visitor,
    values: dict[str, Any],
    errors: dict[str, str],
    *,
    key: str,
    preview: list[Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    directory = visitor.context.directory
    return render(
        request,
        "compose.html",
        visitor,
        status_code=status_code,
        values=values,
        errors=errors,
        preview=preview,
        idempotency_key=key,
        components=[c.value for c in Component if c not in ORIGINS_ONLY],
        roles=sorted({role for p in directory.people for role in p.roles}),
        people=[p for p in directory.people if p.id != visitor.person.id],
        sectors=directory.sectors,
        classifications=[c.value for c in cleared_classifications(visitor.person)],
        ack_hours=ACK_WITHIN_HOURS,
        may_post=visitor.may(Action.POST_MESSAGE),
    )


def _values(form: FormData) -> dict[str, Any]:
    return {
        "components": form.getlist("components"),
        "roles": form.getlist("roles"),
        "persons": form.getlist("persons"),
        "sectors": form.getlist("sectors"),
        "subject": str(form.get("subject", "")).strip(),
        "body": str(form.get("body", "")).strip(),
        "classification": str(form.get("classification", "unclassified")),
        "requires_ack": form.get("requires_ack") == "1",
        "ack_within": str(form.get("ack_within", "4")),
        "in_reply_to": str(form.get("in_reply_to", "")) or None,
    }


def _request(values: dict[str, Any]) -> SendMessageBody:
    # One of the form's choices; the page offers nothing else, a crafted value is refused.
    hours = {str(h): h for h in ACK_WITHIN_HOURS}.get(values["ack_within"])
    if hours is None:
        raise ValueError(f"ack_within: choose one of {', '.join(map(str, ACK_WITHIN_HOURS))}")
    return SendMessageBody.model_validate(
        {
            "to": {k: values[k] for k in ("components", "roles", "persons", "sectors")},
            "subject": values["subject"],
            "body": values["body"],
            "classification": values["classification"],
            "in_reply_to": values["in_reply_to"],
            "requires_ack": values["requires_ack"],
            "ack_due_at": utc_now() + timedelta(hours=hours) if values["requires_ack"] else None,
        }
    )


def _form_errors(error: ValueError) -> dict[str, str]:
    """Each field's problem (an "answer within" the form does not offer: ``ack_due_at``)."""
    if isinstance(error, ValidationError):
        return {str(e["loc"][0]) if e["loc"] else "to": e["msg"] for e in error.errors()}
    return {"ack_due_at": str(error)}


@router.post("/messages/new", response_model=None)
async def send(request: Request, visitor: Poster) -> HTMLResponse | RedirectResponse:
    """Preview who would receive the message, or send it."""
    form = await request.form()
    values = _values(form)
    key = str(form.get("idempotency_key", "")) or str(uuid.uuid4())
    unprocessable = status.HTTP_422_UNPROCESSABLE_CONTENT
    try:
        body = _request(values)
    except ValueError as error:  # a ValidationError, or an "answer within" not offered
        errors = _form_errors(error)
        return _compose(request, visitor, values, errors, key=key, status_code=unprocessable)
    context = visitor.context
    if form.get("intent") == "preview":
        found = deliveries(
            context.directory, body.to, visitor.person.id, Classification(body.classification)
        )
        return _compose(request, visitor, values, {}, key=key, preview=found)
    if not visitor.may(Action.POST_MESSAGE):
        return back_to("/messages", Flash("refused", "sent", "your role may not send messages"))
    try:
        sent = await messages.send_message(
            context.sessions,
            context.directory,
            visitor.person,
            body,
            f"board-{key}",
            keys=context.source_keys,
        )
    except InvalidMessage as refused:
        errors = {str(where[0]): text for where, text in refused.problems}
        return _compose(request, visitor, values, errors, key=key, status_code=unprocessable)
    except IdempotencyKeyReused:
        return back_to("/messages?box=sent", Flash("refused", "sent", "this form was already sent"))
    return back_to(f"/messages/{sent.id}", Flash("done", "sent"))


@router.get("/messages/{message_id}", response_class=HTMLResponse)
async def message_page(message_id: UUID, request: Request, visitor: Reader) -> HTMLResponse:
    """The message in its thread, with read / acknowledge for its addressee."""
    async with visitor.context.sessions() as session:
        view = await queries.get_message(session, message_id, visitor.person)
        thread = await queries.get_thread(session, view.thread_id, visitor.person) if view else None
    if view is None or thread is None:
        return render(request, "error.html", visitor, status_code=404, problem="no_message")
    me = next((a for a in view.addressees if a.person_id == visitor.person.id), None)
    return render(
        request,
        "message.html",
        visitor,
        message=view,
        thread=thread,
        may_read=me is not None and me.delivered and me.read_at is None,
        may_acknowledge=me is not None
        and me.delivered
        and view.requires_ack
        and me.acknowledged_at is None
        and visitor.may(Action.ACKNOWLEDGE),
    )


@router.post("/messages/{message_id}/read")
async def mark_read(message_id: UUID, visitor: Poster) -> RedirectResponse:
    """Mark the message read."""
    sessions, person = visitor.context.sessions, visitor.person
    return await act(
        visitor,
        Action.READ,
        "read",
        lambda: messages.mark_read(sessions, message_id, person),
        f"/messages/{message_id}",
    )


@router.post("/messages/{message_id}/acknowledge")
async def acknowledge(message_id: UUID, visitor: Poster) -> RedirectResponse:
    """Acknowledge a message that asks for it."""
    sessions, person = visitor.context.sessions, visitor.person
    return await act(
        visitor,
        Action.ACKNOWLEDGE,
        "acknowledged",
        lambda: messages.acknowledge(sessions, message_id, person),
        f"/messages/{message_id}",
    )
