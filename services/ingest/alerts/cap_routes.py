"""The public HTTP API v1 of CAP imports: ``POST /v1/cap`` (docs/cap.md, "Import")."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import BaseModel, Field

from services.ingest.alerts.partner_import import import_message
from services.ingest.caller import AuthenticatedRoute
from services.ingest.cap.parsing import CapRefused, parse
from services.ingest.cap.schema import MEDIA_TYPE
from services.ingest.deps import Context, MayRaiseAlert

router = APIRouter(prefix="/v1", tags=["cap"], route_class=AuthenticatedRoute)

# What a partner's system may call CAP's XML: CAP's own media type, or XML in general.
ACCEPTED_TYPES = (MEDIA_TYPE, "application/xml", "text/xml")


class CapImported(BaseModel):
    """The alerts a CAP message became (the same ones when it was imported before)."""

    sender: str
    identifier: str
    alert_ids: list[UUID] = Field(description="One per info block in the mission's language")


@router.post(
    "/cap",
    status_code=status.HTTP_201_CREATED,
    response_model=CapImported,
    openapi_extra={
        "requestBody": {"required": True, "content": {MEDIA_TYPE: {"schema": {"type": "string"}}}}
    },
    responses={
        200: {"description": "Imported before: the alerts it became then"},
        400: {"description": "Not CAP 1.2: not well-formed, a DTD, not valid, CAP 1.1 ..."},
        413: {"description": "Body larger than the limit"},
        415: {"description": "Not sent as application/cap+xml (or XML)"},
        422: {"description": "Valid CAP that cannot become an alert (area, status, type)"},
    },
)
async def import_cap(
    request: Request, person: MayRaiseAlert, context: Context, response: Response
) -> CapImported:
    """Import a partner's CAP 1.2 message: one alert per info block, origin partner."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in ACCEPTED_TYPES:
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            f"send the message as {MEDIA_TYPE}, not {media or 'no Content-Type'}",
        )
    try:
        message = parse(await request.body())
    except CapRefused as refused:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(refused)) from None
    imported = await import_message(
        context.sessions,
        context.directory,
        person.id,
        message,
        language=context.cap.language,
        keys=context.source_keys,
    )
    if not imported.created:
        response.status_code = status.HTTP_200_OK
    return CapImported(
        sender=message.sender, identifier=message.identifier, alert_ids=imported.alert_ids
    )
