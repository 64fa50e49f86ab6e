"""The event log for auditors: page by page, each page verified, the head, an alert's story.

Read with the API's audit service, so reading is on the log here too
(``audit.accessed``, ``via: board``), and protected fields stay redacted for an auditor
not cleared for them. A page verifies when every record's hashes hold and each follows
the one before (``shared.audit_export.verify_export``, as ``coord audit verify`` does).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from services.ingest.audit import service as audit
from services.ingest.board.pages import render
from services.ingest.board.session import Reader, Visitor
from services.ingest.pagination import decode_sequence, encode_sequence
from shared.audit_export import to_json_line, verify_export
from shared.event_log import LogFilter, head
from shared.permissions import Action

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
EXPORT_BATCH = 500
Thread = Annotated[uuid.UUID | None, Query()]
TypeFilter = Annotated[str | None, Query(alias="type", max_length=100)]


def _where(alert: uuid.UUID | None, type_: str | None) -> LogFilter:
    return LogFilter(correlation_id=str(alert) if alert else None, type=type_ or None)


@router.get("/audit", response_class=HTMLResponse)
async def audit_page(
    request: Request,
    visitor: Reader,
    alert: Thread = None,
    type_: TypeFilter = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> HTMLResponse:
    """A page of the log (an alert's story with ``alert``), verified, with the head."""
    if not visitor.may(Action.AUDIT):
        return render(request, "error.html", visitor, status_code=403, problem="no_audit")
    context = visitor.context
    where = _where(alert, type_)
    reveal = audit.reveals_protected(visitor.person)
    filters = where.as_strings() | ({"cursor": cursor} if cursor else {})
    await audit.record_access(
        context.sessions, visitor.person, filters, revealed=reveal, via="board"
    )
    async with context.sessions() as session:
        page = await audit.read_page(
            session,
            where,
            after_seq=decode_sequence(cursor) if cursor else 0,
            limit=PAGE_SIZE,
            reveal_protected=reveal,
            keys=context.source_keys,
        )
        current = await head(session)
    checked, problem = verify_export(page.items)
    return render(
        request,
        "audit.html",
        visitor,
        records=page.items,
        checked=checked,
        problem=problem,
        head=current,
        alert=alert,
        type_filter=type_ or "",
        next_cursor=encode_sequence(page.next_seq) if page.next_seq is not None else None,
        export_query=request.url.query,
    )


async def _export_lines(visitor: Visitor, where: LogFilter, reveal: bool) -> AsyncIterator[str]:
    after = 0
    while True:
        async with visitor.context.sessions() as session:
            page = await audit.read_page(
                session,
                where,
                after_seq=after,
                limit=EXPORT_BATCH,
                reveal_protected=reveal,
                keys=visitor.context.source_keys,
            )
        for item in page.items:
            yield to_json_line(item) + "\n"
        if page.next_seq is None:
            return
        after = page.next_seq


@router.get("/audit/export.jsonl", response_model=None)
async def export(
    request: Request, visitor: Reader, alert: Thread = None, type_: TypeFilter = None
) -> StreamingResponse | HTMLResponse:
    """The records matching the filters as JSON lines, which ``coord audit verify`` checks."""
    if not visitor.may(Action.AUDIT):
        return render(request, "error.html", visitor, status_code=403, problem="no_audit")
    where = _where(alert, type_)
    reveal = audit.reveals_protected(visitor.person)
    await audit.record_access(
        visitor.context.sessions,
        visitor.person,
        where.as_strings(),
        revealed=reveal,
        via="board",
        action="export",
    )
    name = f"coord-log-{alert}.jsonl" if alert else "coord-log.jsonl"
    return StreamingResponse(
        _export_lines(visitor, where, reveal),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
