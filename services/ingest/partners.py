"""Partners as callers of the API: their token, and the routes a partner may call.

A partner (``shared.partners``) holds an opaque bearer token, not a person's JWT. It
reads the feed of alerts released to it (``GET /v1/cap/feed``) and, when the directory
says ``may_import``, sends its CAP warnings to ``POST /v1/cap`` like a person allowed to
raise alerts. That route is a person's too: :class:`PersonOrPartnerRoute` tells the two
apart by the token before anything else, then authenticates each its own way.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Response, Security, status
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials

from services.ingest.caller import AuthenticatedRoute
from services.ingest.deps import (
    ApiContext,
    BearerToken,
    Context,
    bearer_token,
    context_of,
    current_person,
    require,
    unauthorized,
    verified_token,
)
from shared.partners import PARTNER_PREFIX, Partner, partner_with_token
from shared.permissions import Action

partner_token = BearerToken(
    scheme_name="partner",
    bearerFormat="opaque",
    description="A partner's token, whose SHA-256 the directory lists under `partners`.",
)


def _partner_holding(context: ApiContext, token: str) -> Partner | None:
    return partner_with_token(
        context.directory.partners, token, development=context.cap.development
    )


async def _counted(request: Request, partner: Partner) -> Partner:
    await request.app.state.rate_limiter.check(PARTNER_PREFIX + partner.id)
    return partner


async def current_partner(
    request: Request,
    context: Context,
    credentials: Annotated[HTTPAuthorizationCredentials, Security(partner_token)],
) -> Partner:
    """The partner whose token the request carries; 401 otherwise. Rate-limited per partner."""
    partner = _partner_holding(context, credentials.credentials)
    if partner is None:
        raise unauthorized("not a partner token of the directory")
    return await _counted(request, partner)


CurrentPartner = Annotated[Partner, Depends(current_partner)]


class PersonOrPartnerRoute(AuthenticatedRoute):
    """A person's route (``AuthenticatedRoute``) that a partner's token may call too.

    A partner token is recognised first (a digest lookup, no JWT to verify) and kept on
    the request; any other token goes the person's way, unchanged.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The person's handler, or FastAPI's own for a partner."""
        as_person = super().get_route_handler()
        as_partner = APIRoute.get_route_handler(self)

        async def either(request: Request) -> Response:
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            context = await context_of(request)
            partner = (
                _partner_holding(context, token.strip()) if scheme.lower() == "bearer" else None
            )
            if partner is None:
                return await as_person(request)
            request.state.partner = await _counted(request, partner)
            return await as_partner(request)

        return either


@dataclass(frozen=True)
class Raiser:
    """Who raises what a CAP import becomes: a person, or a partner (then its sectors)."""

    id: str
    partner: Partner | None = None


async def cap_raiser(request: Request, context: Context) -> Raiser:
    """Who imports: a partner that ``may_import``, or a person who may raise alerts (403)."""
    partner: Partner | None = getattr(request.state, "partner", None)
    if partner is not None:
        if not partner.may_import:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"partner {partner.id} reads the feed only: the directory does not let it import",
            )
        return Raiser(PARTNER_PREFIX + partner.id, partner)
    token = await verified_token(request, context, await bearer_token(request))
    person = await require(Action.RAISE_ALERT)(await current_person(context, token))
    return Raiser(person.id)


CapRaiser = Annotated[Raiser, Depends(cap_raiser)]
