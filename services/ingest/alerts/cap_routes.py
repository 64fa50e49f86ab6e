"""The HTTP API v1 of CAP (docs/cap.md): imports, and the partner feed.

``POST /v1/cap`` is a person's, like every v1 route. ``GET /v1/cap/feed`` and
``GET /v1/cap/alerts/{id}`` are partners': they hold a partner token of the directory
(``shared.partners``), not a person's, and read only what was released to them.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Request, Response, Security, status
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, Field

from services.ingest.alerts import partner_feed
from services.ingest.alerts.cap_export import alert_message
from services.ingest.alerts.partner_import import import_message
from services.ingest.caller import AuthenticatedRoute
from services.ingest.cap import atom
from services.ingest.cap.parsing import CapRefused, parse
from services.ingest.cap.schema import MEDIA_TYPE
from services.ingest.deps import BearerToken, Context, MayRaiseAlert, unauthorized
from shared.envelope import utc_now
from shared.partners import Partner, partner_with_token

router = APIRouter(prefix="/v1", tags=["cap"], route_class=AuthenticatedRoute)
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


partner_token = BearerToken(
    scheme_name="partner",
    bearerFormat="opaque",
    description="A partner's token, whose SHA-256 the directory lists under `partners`.",
)


async def current_partner(
    request: Request,
    context: Context,
    credentials: Annotated[HTTPAuthorizationCredentials, Security(partner_token)],
) -> Partner:
    """The partner whose token the request carries; 401 otherwise. Rate-limited per partner."""
    partner = partner_with_token(
        context.directory.partners, credentials.credentials, development=context.cap.development
    )
    if partner is None:
        raise unauthorized("not a partner token of the directory")
    await request.app.state.rate_limiter.check(f"partner:{partner.id}")
    return partner


CurrentPartner = Annotated[Partner, Depends(current_partner)]


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
