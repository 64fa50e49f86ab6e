"""``GET /v1/sms/kannel/inbound``: Kannel's ``sms-service`` hands coord each SMS it receives.

Kannel calls it with ``from=%p&to=%P&text=%a&id=%I&ts=%T`` and sends the answer's body
back to the sender as an SMS (``max-messages = 1``). Only Kannel may call it: the shared
secret (``secret`` or basic auth) and, if configured, the gateway's address; anything
else is 401 before a parameter is read, and nothing is recorded.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import PlainTextResponse

from services.ingest.deps import Context
from services.ingest.sms.inbound import answer_sms
from services.ingest.sms.replies import InboundSms
from shared.settings import Settings
from shared.sms.gateway_auth import gateway_only

INBOUND_PATH = "/v1/sms/kannel/inbound"


def sms_routes(settings: Settings) -> APIRouter:
    """The inbound route, bound to ``settings``' secret, gateway address and region."""
    gateway = gateway_only(
        settings.sms_inbound_secret.get_secret_value(), settings.sms_gateway_address
    )
    router = APIRouter(dependencies=[Depends(gateway)])

    @router.get(INBOUND_PATH, response_class=PlainTextResponse, include_in_schema=False)
    async def inbound(
        context: Context,
        sender: Annotated[str, Query(alias="from", min_length=1, max_length=40)],
        text: Annotated[str, Query(max_length=1600)] = "",
        gateway_id: Annotated[str, Query(alias="id", max_length=100)] = "",
    ) -> PlainTextResponse:
        sms = InboundSms(sender=sender, text=text, gateway_id=gateway_id)
        reply = await answer_sms(context, sms, settings.sms_default_region)
        return PlainTextResponse(reply, media_type="text/plain; charset=utf-8")

    return router
