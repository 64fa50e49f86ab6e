"""The notifier as a runnable unit: consumes ``notifier.inbox`` and delivers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import partial

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifier.channels import ChannelContext
from services.notifier.deliveries import DeliveryContext, deliver_notification
from services.notifier.email import SmtpConfig
from services.notifier.links import LinkConfig
from services.notifier.retry import RetryPolicy
from services.notifier.sms.channel import SmsGateway
from services.notifier.sms.community import CommunityPhones
from services.notifier.sms.gateway import KannelConfig
from services.notifier.sms.reports import report_routes
from services.notifier.tables import OUTBOX
from shared.bus import NOTIFIER_QUEUE
from shared.bus_protocol import MessageBus
from shared.contracts import NOTIFICATION_REQUESTED
from shared.directory_store import DirectorySource
from shared.envelope import Envelope
from shared.health import health_routes
from shared.problems import install_problem_handlers
from shared.runtime import Infrastructure
from shared.settings import Settings
from shared.source_protection import SourceKeyRing

#: type -> its handler: exactly the types ``notifier.inbox`` carries
#: (``shared.contracts.registry``; tests/unit/shared/test_event_registry.py keeps them equal).
HANDLERS: dict[str, Callable[[DeliveryContext, Envelope], Awaitable[None]]] = {
    NOTIFICATION_REQUESTED: deliver_notification,
}


async def dispatch(context: DeliveryContext, envelope: Envelope) -> None:
    """Hand one message of ``notifier.inbox`` to its handler."""
    handler = HANDLERS.get(envelope.type)
    if handler is None:
        raise ValueError(f"notifier cannot handle {envelope.type!r}")
    await handler(context, envelope)


def _sms_gateway(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> SmsGateway | None:
    config = KannelConfig.from_settings(settings)
    return SmsGateway(config, sessions) if config is not None else None


def delivery_context(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    http: httpx.AsyncClient,
    community: CommunityPhones | None = None,
) -> DeliveryContext:
    """What delivering needs, from the settings.

    A claim lasts ``COORD_NOTIFIER_CLAIM_SECONDS`` and is renewed while its delivery
    runs, however long the retries take: a notifier that dies mid-delivery is taken over
    about that long after its last renewal.
    """
    return DeliveryContext(
        sessions=sessions,
        channels=ChannelContext(
            http=http,
            webhook_secret=settings.webhook_secret.get_secret_value(),
            smtp=SmtpConfig.from_settings(settings),
            retry=RetryPolicy(
                attempts=settings.webhook_attempts,
                backoff_initial=settings.webhook_backoff_initial,
                backoff_max=settings.webhook_backoff_max,
            ),
            links=LinkConfig.from_settings(settings),
            sms=_sms_gateway(settings, sessions),
            community=community,
        ),
        lease=timedelta(seconds=settings.notifier_claim_seconds),
    )


class NotifierService:
    """Notifier unit for ``shared.runtime.run_units``."""

    name = "notifier"

    def __init__(
        self, settings: Settings, port: int | None = None, *, bus: MessageBus | None = None
    ) -> None:
        self.settings = settings
        self._bus = bus  # None: RabbitMQ at settings.amqp_url
        self.port = port or settings.notifier_port
        self.infrastructure: Infrastructure | None = None
        self.http: httpx.AsyncClient | None = None
        self.app = FastAPI(title="coord notifier", docs_url=None, redoc_url=None)
        install_problem_handlers(self.app)
        self.app.include_router(health_routes(self._readiness))

    async def _readiness(self) -> dict[str, str]:
        if self.infrastructure is None:
            return {"service": "starting"}
        return await self.infrastructure.readiness()

    async def start(self) -> None:
        """Connect, then consume ``notifier.inbox``."""
        settings = self.settings
        self.infrastructure = await Infrastructure.open(settings, self.name, OUTBOX, self._bus)
        self.http = httpx.AsyncClient(
            timeout=settings.webhook_timeout,
            limits=httpx.Limits(max_connections=settings.prefetch),
        )
        sessions = self.infrastructure.sessions
        # The directory only for community contacts' sealed numbers (feedback by SMS).
        directory = await DirectorySource.open(
            sessions, settings.directory, refresh_interval=settings.directory_refresh
        )
        self.infrastructure.spawn(directory.run())
        community = CommunityPhones(directory.get, SourceKeyRing.from_settings(settings))
        context = delivery_context(settings, sessions, self.http, community)
        if context.channels.sms is not None:
            # Kannel's delivery reports come here; without a gateway the route is 404.
            self.app.include_router(
                report_routes(
                    context.channels.sms.config,
                    self.infrastructure.sessions,
                    settings.sms_gateway_address,
                )
            )
        await self.infrastructure.bus.consume(NOTIFIER_QUEUE, partial(dispatch, context))

    def drain(self) -> None:
        """Nothing to end: its HTTP server serves no live stream."""

    async def stop(self) -> None:
        """Release the HTTP client, the broker and the database."""
        if self.infrastructure is not None:
            await self.infrastructure.close()
        if self.http is not None:
            await self.http.aclose()
