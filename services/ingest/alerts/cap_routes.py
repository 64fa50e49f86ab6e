"""The HTTP API v1 of CAP (docs/cap.md): imports, and the partner feed.

``POST /v1/cap`` takes a person's token, or a partner's that the directory lets import.
``GET /v1/cap/feed`` and ``GET /v1/cap/alerts/{id}`` are partners' only: they hold a
partner token of the directory (``services.ingest.partners``), and read only what was
released to them.
"""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import BaseModel, Field

from services.ingest.alerts import partner_feed
from services.ingest.alerts.cap_export import alert_message
from services.ingest.alerts.partner_import import import_message
from services.ingest.cap import atom
from services.ingest.cap.parsing import CapRefused, parse
from services.ingest.cap.schema import MEDIA_TYPE
from services.ingest.deps import Context
from services.ingest.partners import CapRaiser, CurrentPartner, PersonOrPartnerRoute
from shared.envelope import utc_now

router = APIRouter(prefix="/v1", tags=["cap"], route_class=PersonOrPartnerRoute)
partner_router = APIRouter(prefix="/v1/cap", tags=["cap"])

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
        "requestBody": {"required": True, "content": {MEDIA_TYPE: {"schema": {"type": "string"}}}},
        "security": [{"bearer": []}, {"partner": []}],
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
    request: Request, raiser: CapRaiser, context: Context, response: Response
) -> CapImported:
    """Import a partner's CAP 1.2 message: one alert per info block, origin partner.

    Sent by a person allowed to raise alerts, or by a partner (its token) that may import:
    its alerts are then raised by ``partner:<id>``, in its sectors only.
    """
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
        raiser.id,
        message,
        partner=raiser.partner,
        language=context.cap.language,
        keys=context.source_keys,
    )
    if not imported.created:
        response.status_code = status.HTTP_200_OK
    return CapImported(
        sender=message.sender, identifier=message.identifier, alert_ids=imported.alert_ids
    )


@partner_router.get(
    "/feed",
    response_class=Response,
    responses={200: {"content": {atom.MEDIA_TYPE: {}}, "description": "An Atom feed"}},
)
async def read_partner_feed(partner: CurrentPartner, context: Context) -> Response:
    """The alerts released to the partner, newest release first, each linking its CAP."""
    async with context.sessions() as session:
        views = await partner_feed.released_alerts(session, partner)
    feed = partner_feed.feed_of(views, context.cap, utc_now())
    return Response(atom.to_xml(feed), media_type=atom.MEDIA_TYPE)


@partner_router.get(
    "/alerts/{alert_id}",
    response_class=Response,
    responses={
        200: {"content": {MEDIA_TYPE: {}}, "description": "The alert's newest CAP message"},
        404: {"description": "No such alert released to this partner"},
    },
)
async def read_released_alert(
    alert_id: UUID, partner: CurrentPartner, context: Context
) -> Response:
    """A released alert's newest CAP message (scope Public)."""
    async with context.sessions() as session:
        view = await partner_feed.released_alert(session, partner, alert_id)
    if view is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alert {alert_id} released to you")
    return Response(alert_message(view, context.cap), media_type=MEDIA_TYPE)
