"""Channel dispatch: the channels this notifier can deliver on, by name.

A channel is an async function taking the shared clients, the request and the
contact's address, and saying how its delivery (with its own retries) ended.
A channel not in ``CHANNELS``, or ``sms`` with no gateway configured, fails at once.

A page about an alert carries its person's acknowledge link, minted here, when the
channel is about to deliver (``services.notifier.links``): the channels' message
builders are handed the URL and read no settings.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import httpx

from services.notifier.email import SmtpConfig, deliver_email
from services.notifier.links import LinkConfig, acknowledge_url
from services.notifier.retry import DeliveryResult, RetryPolicy
from services.notifier.sms.channel import SmsGateway, deliver_sms
from services.notifier.sms.community import CommunityPhones, stored_address
from services.notifier.webhook import deliver_webhook
from shared.contracts.notifications import COMMUNITY_SMS, ContactPoint, NotificationRequestedV2


@dataclass(frozen=True)
class ChannelContext:
    """What the channels share: HTTP and SMTP, secrets, retries, how to mint pages' links."""

    http: httpx.AsyncClient
    webhook_secret: str
    smtp: SmtpConfig
    retry: RetryPolicy
    links: LinkConfig
    sms: SmsGateway | None = None  # None: no COORD_SMS_KANNEL_URL
    community: CommunityPhones | None = None  # None: no community feedback (tests)


Channel = Callable[[ChannelContext, NotificationRequestedV2, str], Awaitable[DeliveryResult]]


async def _webhook(
    context: ChannelContext, request: NotificationRequestedV2, address: str
) -> DeliveryResult:
    return await deliver_webhook(
        context.http,
        request,
        address,
        context.webhook_secret,
        context.retry,
        acknowledge_url=acknowledge_url(context.links, request),
    )


async def _email(
    context: ChannelContext, request: NotificationRequestedV2, address: str
) -> DeliveryResult:
    return await deliver_email(
        context.smtp,
        request,
        address,
        context.retry,
        acknowledge_url=acknowledge_url(context.links, request),
    )


async def _sms(
    context: ChannelContext,
    request: NotificationRequestedV2,
    address: str,
    *,
    stored_as: str | None = None,
) -> DeliveryResult:
    if context.sms is None:
        return DeliveryResult(
            delivered=False, attempts=1, error="no SMS gateway is configured (COORD_SMS_KANNEL_URL)"
        )
    return await deliver_sms(
        context.http,
        context.sms,
        context.retry,
        request,
        address,
        acknowledge_url=acknowledge_url(context.links, request),
        stored_as=stored_as,
    )


async def _community_sms(
    context: ChannelContext, request: NotificationRequestedV2, address: str
) -> DeliveryResult:
    phone = context.community.phone_of(address) if context.community is not None else None
    if phone is None:
        return DeliveryResult(
            delivered=False, attempts=1, error=f"community contact {address} cannot be reached"
        )
    return await _sms(context, request, phone, stored_as=stored_address(address))


# One entry per name of shared.contracts.notifications.SUPPORTED_CHANNELS (the router pages
# only those; tests/unit/notifier/test_channels.py holds the two to each other), and the
# channel of feedback to community contacts, which no person of the directory lists.
CHANNELS: Mapping[str, Channel] = {
    "webhook": _webhook,
    "email": _email,
    "sms": _sms,
    COMMUNITY_SMS: _community_sms,
}


async def deliver_on(
    context: ChannelContext, request: NotificationRequestedV2, contact: ContactPoint
) -> DeliveryResult:
    """Deliver ``request`` on one contact; an unknown channel fails without retries."""
    channel = CHANNELS.get(contact.channel)
    if channel is None:
        return DeliveryResult(
            delivered=False, attempts=1, error=f"channel {contact.channel} is not configured"
        )
    return await channel(context, request, contact.address)
