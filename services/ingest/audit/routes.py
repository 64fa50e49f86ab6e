"""The public HTTP API v1 of the event log, for auditors.

Reading the log is itself on the log: each call commits an ``audit.accessed``
to ingest's outbox before the page is read; when it cannot be recorded, the
call fails and nothing is read.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query

from services.ingest.audit import service as audit
from services.ingest.audit.schemas import AuditPage, AuditRecord
from services.ingest.caller import AuthenticatedRoute
from services.ingest.deps import Context, MayAudit
from services.ingest.pagination import decode_sequence, encode_sequence
from shared.envelope import Moment
from shared.event_log import LogFilter

router = APIRouter(prefix="/v1/audit", tags=["audit"], route_class=AuthenticatedRoute)

_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {"example": AuditPage.example()}}},
    401: {"description": "Missing or invalid bearer token"},
    403: {"description": "The caller's roles do not grant audit"},
    422: {
        "description": "A bad parameter: naive or malformed time, bad cursor, limit out of range"
    },
}


@router.get("/events", response_model=AuditPage, responses=_RESPONSES)
async def list_events(  # noqa: PLR0917 - one query parameter per filter of the issue
    person: MayAudit,
    context: Context,
    since: Annotated[
        Moment | None, Query(description="Recorded at or after (aware ISO 8601)")
    ] = None,
    until: Annotated[Moment | None, Query(description="Recorded before (aware ISO 8601)")] = None,
    alert: Annotated[
        UUID | None,
        Query(description="A correlation id: an alert, message thread or recommendation"),
    ] = None,
    type_: Annotated[
        str | None, Query(alias="type", max_length=100, description="Exact event type")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> AuditPage:
    """Records of the event log in ``seq`` order, with their chain links; follow ``next_cursor``.

    Protected fields (an alert's ``source``) are redacted unless the auditor is
    cleared STRICTLY CONFIDENTIAL. Each call is recorded as ``audit.accessed``.
    """
    after_seq = decode_sequence(cursor) if cursor else 0
    thread = str(alert) if alert else None
    where = LogFilter(since=since, until=until, correlation_id=thread, type=type_)
    reveal = audit.reveals_protected(person)
    filters = {**where.as_strings(), "limit": str(limit)}
    if cursor:
        filters["cursor"] = cursor
    await audit.record_access(context.sessions, person, filters, revealed=reveal)
    async with context.sessions() as session:
        page = await audit.read_page(
            session,
            where,
            after_seq=after_seq,
            limit=limit,
            reveal_protected=reveal,
            keys=context.source_keys,
        )
    return AuditPage(
        items=[AuditRecord.model_validate(item) for item in page.items],
        next_cursor=encode_sequence(page.next_seq) if page.next_seq is not None else None,
    )
